"""Where an artifact's bytes come from: a file or folder, standard input (`-`) or a pipe.

A stream (`-`, or a pipe handed over as a descriptor path such as `<(cmd)`'s
/dev/fd/63) has no size to stat and no name, and can be read only once, while a
registration reads its artifact several times (card defaults such as a
datasheet's schema and row count or a weights header, hashing before a
pre-commit hook, storing). So a stream is first copied whole into a temp file
of the registry (tmp/, which `pacha gc` clears if a crash leaves one), and
everything (id, size, schema, card defaults) comes from that one copy; the
recorded file name is the one given with --name, which a stream needs.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pacha import perms
from pacha.errors import InvalidInput, UsageError
from pacha.pathnames import check_source, name_problem
from pacha.store.reader import write_all
from pacha.store.tmpfile import temp_path

STDIN = "-"
_DESCRIPTOR = re.compile(r"^/(?:dev/fd/\d+|proc/(?:self|\d+)/fd/\d+|dev/stdin)$")
SPOOL_BLOCK = 8 << 20


class MissingName(UsageError):
    """A stream given without --name: a usage error (exit 2, one `usage:` line)."""


def is_stream(path: str | os.PathLike[str]) -> bool:
    """True for `-` and for a pipe or socket handed over as a descriptor path (/dev/fd/N)."""
    text = os.fspath(path)
    if text == STDIN:
        return True
    if _DESCRIPTOR.match(text) is None:
        return False
    try:
        mode = os.stat(text).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def check_filename(name: str, what: str = "--name") -> str:
    """A file name to record: one safe path component (pacha.pathnames, the rule for every
    name a download writes). what says where it came from, for the error."""
    problem = name_problem(name)
    if problem is not None:
        hint = "" if what == "--name" else "; rename it, or give --name FILENAME"
        raise InvalidInput(f"{what} {name!r} is not a file name: {problem}{hint}")
    return name


def refuse_special(path: Path) -> None:
    """Refuse a path that is neither a regular file nor a directory (a FIFO on disk, a
    device, a socket): reading it would block or never end. Streams are handled before."""
    info = check_source(path, "artifact")
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):  # a pipe passed on purpose
        raise InvalidInput(f"{path} is a pipe: pass it as - with --name FILENAME")


@contextlib.contextmanager
def artifact_source(
    path: str | os.PathLike[str], filename: str | None, tmp_dir: Path, stdin: IO[bytes] | None = None
) -> Iterator[tuple[Path, str, bool]]:
    """(path to read, file name to record, whether it was a stream) for an artifact path.

    A stream is copied into a temp file under tmp_dir first (removed on leaving);
    it needs filename. stdin: what `-` reads (default: this process's standard input).
    Raises InvalidInput for a missing path, a FIFO on disk, a device or socket, a bad
    or missing --name, an interactive standard input, or a failed copy.
    """
    if filename is not None:
        check_filename(filename)
    if not is_stream(path):
        target = Path(path)
        refuse_special(target)
        yield target, filename or check_filename(target.resolve().name, "the file name"), False
        return
    what = "standard input" if os.fspath(path) == STDIN else f"the pipe {os.fspath(path)}"
    if filename is None:
        raise MissingName(
            f"reading {what} needs --name FILENAME, the file name to record (e.g. --name model.safetensors)"
        )
    spool = _spool_path(tmp_dir, filename)
    try:
        if os.fspath(path) == STDIN:
            source = stdin if stdin is not None else sys.stdin.buffer
            if source.isatty():
                raise InvalidInput("standard input is a terminal; pipe the artifact's bytes into -")
            _copy(source, spool, what)
        else:
            with open(path, "rb") as source:
                _copy(source, spool, what)
        yield spool, filename, True
    finally:
        spool.unlink(missing_ok=True)


def _spool_path(tmp_dir: Path, filename: str) -> Path:
    """A fresh temp file name that keeps filename's suffix (card defaults go by it)."""
    suffix = Path(filename).suffix
    suffix = suffix if len(suffix) <= 32 else ""
    if not tmp_dir.is_dir():
        perms.mkdirs(tmp_dir)
    # named for its writer (pid and start time): gc removes it once that process is gone
    return temp_path(tmp_dir, "stream").with_suffix(suffix) if suffix else temp_path(tmp_dir, "stream")


def _copy(source: IO[bytes], spool: Path, what: str) -> None:
    try:
        with open(spool, "xb", buffering=0) as out:
            while block := source.read(SPOOL_BLOCK):
                write_all(out, block)
    except OSError as exc:
        raise InvalidInput(f"cannot copy {what} into the registry's temp space: {exc.strerror}") from None
