"""A transfer progress bar (bytes and rate) on a terminal; nothing in a pipe or with --json."""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any


class Progress:
    """Receives transport's progress calls (a TransferProgress: phase, done/total bytes and objects).

    Drawn on stderr with rich (bar, bytes, rate, time left) only when stderr is a terminal
    and PACHA_NO_PROGRESS is unset; otherwise it only counts.
    """

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.done = 0
        self.enabled = enabled and sys.stderr.isatty() and not os.environ.get("PACHA_NO_PROGRESS")
        self._base = 0  # bytes of earlier transfers shown on this bar (phase())
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as Bar

            columns = (
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
            self._bar = Bar(*columns, console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=None)
        return self

    def __call__(self, p: Any) -> None:
        """One report from transport (pacha.transport.progress.TransferProgress)."""
        self.done = self._base + int(p.done_bytes)
        if self._bar is not None:
            total = self._base + int(p.total_bytes) if p.total_bytes else None
            self._bar.update(self._task, completed=self.done, total=total)

    def phase(self, label: str) -> None:
        """A next transfer on the same bar (a pull's records, then its artifacts): it counts on
        from the bytes already moved instead of jumping back to zero, under a new label."""
        self._base = self.done
        self.label = label
        if self._bar is not None:
            self._bar.update(self._task, description=label)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, exc, tb)
