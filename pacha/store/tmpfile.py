"""A temp file that becomes durable and visible in one rename.

Every file the store creates (loose objects, packs, pack indexes) is written
under tmp/, fsynced, and renamed into place, so a reader sees all of it or none.
Writeback starts early on large files, so the final fsync has little to wait for.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pacha.perms import file_mode, mkdirs, read_only_mode
from pacha.store.reader import write_all

WRITEBACK_EVERY = 64 << 20
IOV_MAX = 1024


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside path durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range (Linux), or None."""
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


SYNC_FILE_RANGE_WRITE = 2


class WritebackFile:
    """Wraps a file being written: starts writing its pages to disk every WRITEBACK_EVERY
    bytes, keeping them cached (for whoever reads the file next), so the final fsync has
    little left to wait for. 1 GiB: write + fsync 0.5–1.2 s plain, 0.3 s this way."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.written = 0
        self._started = 0  # bytes before this are being written back
        self._start = _sync_file_range()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        write_all(self.out, data)
        n = len(data)
        self.written += n
        if self._start is not None and self.written - self._started >= WRITEBACK_EVERY:
            self._start(self.out.fileno(), self._started, self.written - self._started, SYNC_FILE_RANGE_WRITE)
            self._started = self.written
        return n


def sync_filesystem(path: Path) -> None:
    """Flush everything written to path's filesystem (one syncfs instead of an fsync a file)."""
    import ctypes

    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            syncfs = ctypes.CDLL("libc.so.6", use_errno=True).syncfs
        except (OSError, AttributeError):  # not glibc on Linux: flush every filesystem
            syncfs = None
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def process_start(pid: int) -> int | None:
    """When process pid started (clock ticks since boot, from /proc/PID/stat), or None if
    there is no such process or the system does not say (no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # the name in parentheses may hold spaces
    try:
        return int(fields[19])  # field 22 of proc_pid_stat(5), counted from field 3
    except (IndexError, ValueError):
        return None


_OWNER: tuple[int, str] | None = None


def owner_tag() -> str:
    """'PID-START' naming this process among all processes since boot (a pid alone is reused)."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:  # recomputed after a fork
        _OWNER = pid, f"{pid}-{process_start(pid) or 0}"
    return _OWNER[1]


def temp_path(tmp_dir: Path, prefix: str) -> Path:
    """A fresh temp file name in tmp_dir: PREFIX-PID-START-RANDOM (see owner_alive)."""
    return tmp_dir / f"{prefix}-{owner_tag()}-{os.urandom(8).hex()}"


def owner_alive(name: str) -> bool | None:
    """Whether the process that created the temp file `name` still runs.

    True: it runs (its pid exists with the same start time; where the system does not
    tell start times, the pid exists); False: it is gone, so the file is an interrupted write's
    leftover; None: the name says nothing about its owner (not made by temp_path).
    """
    parts = name.rsplit("-", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None  # not made by temp_path (older names carry no start time: a pid is reused)
    pid, start = int(parts[1]), int(parts[2])
    if pid <= 0:
        return None
    if os.path.isdir("/proc/self"):
        actual = process_start(pid)
        if actual is None:
            return False
        return start in (0, actual)
    try:  # no /proc: the pid alone says it
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TempFile:
    """Write-only temp file in tmp_dir; install() fsyncs and renames it, abort() removes it.

    Its name carries the writer's pid and start time, so gc can tell a live writer's
    file (never removed) from a dead one's (owner_alive)."""

    def __init__(self, tmp_dir: Path, prefix: str) -> None:
        if not tmp_dir.is_dir():
            mkdirs(tmp_dir)
        self.path = temp_path(tmp_dir, prefix)  # its final mode is set by install
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, file_mode(self.path))
        self.written = 0
        self._unsynced = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writev([data])

    def writev(self, buffers: list[bytes | bytearray | memoryview]) -> None:
        """Write buffers in order, in as few system calls as possible."""
        pending = [b if isinstance(b, memoryview) else memoryview(b) for b in buffers if len(b)]
        while pending:
            n = os.writev(self.fd, pending[:IOV_MAX])
            self.written += n
            self._unsynced += n
            while n and n >= len(pending[0]):
                n -= len(pending.pop(0))
            if n:
                pending[0] = pending[0][n:]
        if self._unsynced >= WRITEBACK_EVERY:
            # Start writeback now (and drop the pages from the cache): the final
            # fsync then has little left to do, and memory stays free.
            os.posix_fadvise(self.fd, self.written - self._unsynced, self._unsynced, os.POSIX_FADV_DONTNEED)
            self._unsynced = 0

    def pread(self, length: int, offset: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def install(self, final: Path, mode: int | None = None) -> None:
        """fsync, then atomically rename to final (replacing nothing: same name = same bytes).

        mode: default read-only, with the read bits the registry's mask allows (pacha.perms).
        """
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        os.chmod(self.path, read_only_mode(final) if mode is None else mode)
        if not final.parent.is_dir():
            mkdirs(final.parent)
            fsync_dir(final.parent.parent)
        os.rename(self.path, final)
        fsync_dir(final.parent)

    def abort(self) -> None:
        """Close and remove the temp file (no-op after install)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.path.unlink(missing_ok=True)
