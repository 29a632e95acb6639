"""A progress bar for long stores: on a terminal only, for more than 100 MB."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

THRESHOLD = 100_000_000


def total_bytes(target: Path) -> int:
    if target.is_file():
        return target.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(target, followlinks=True):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue  # reported by the store when it reads the file
    return total


def wanted(enabled: bool) -> bool:
    return enabled and sys.stderr.isatty() and not os.environ.get("PACHA_NO_PROGRESS")


@contextmanager
def progress_bar(target: Path, enabled: bool = True) -> Iterator[Callable[[int], None] | None]:
    """Yields a callback taking bytes done (None when no bar is shown); the bar vanishes at the end."""
    if not wanted(enabled):
        yield None
        return
    total = total_bytes(target)
    if total <= THRESHOLD:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("storing {task.description}", markup=False),  # a file name, as it is
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(target.name, total=total)
        yield lambda n: progress.advance(task, n)
