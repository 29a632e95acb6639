"""A remote in a directory (a local disk or a shared mount): keys are files.

The directory is made by the first write (its parent must exist); until then it reads as
an empty remote.

Immutable keys are written as temp file, fsync, rename, fsync of the directory.
Conditional writes:
- create (If-None-Match: *): link(2) of the fsynced temp file to the key's name, which
  fails if the name exists: atomic on every POSIX filesystem, NFS included (the server
  decides).
- replace (If-Match): under key's lock, read and compare the current ETag, rename the new
  file over the key, fsync. The lock is an fcntl (POSIX record) lock on <key>.flock: the
  kernel (or the NFS server: NFSv4 leases, NFSv3 lockd) releases it when its holder dies, so
  no lock is ever "stale" and none is broken on a guess. Inside it, the O_EXCL <key>.lock
  file that older Pacha versions take (they do not know the fcntl lock) is taken too.
The ETag of a file is a BLAKE3 digest of its content, so it changes whenever the content
does (an mtime would not be safe on a shared mount with skewed clocks).
The directories that only hold passing files (tmp/ for temp files, probe/ for the probe's
key) are removed when they fall empty; a writer that finds one gone under it makes it again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from pacha.crash import crash_point
from pacha.hashing import hash_bytes
from pacha.perms import makedirs_outside, outside_mode
from pacha.transport.backend import Buffer, KeyMissing, PreconditionFailed, Stat, Upload
from pacha.transport.errors import RemoteAccessDenied, RemoteError, RemoteNotFound, not_a_remote
from pacha.transport.layout import PROBE_DIR

STALE_LOCK = 30.0  # seconds after which an older version's lock file is taken for a killed writer's
FLOCK_MARK = "pacha-flock"  # first word of a lock file whose writer held the fcntl lock
LOCK_WAIT = 20.0  # seconds a writer waits for another one's lock before giving up
PASSING_DIRS = ("tmp", PROBE_DIR.rstrip("/"))  # removed when empty (see module doc)
RETRIES = 5  # times a write re-makes a passing directory another writer removed meanwhile
T = TypeVar("T")


def etag_of(data: bytes) -> str:
    """A file's ETag: the first 32 hex digits of its content's BLAKE3, quoted as S3 quotes ETags."""
    return f'"{hash_bytes(data)[:32]}"'


class FileBackend:
    """Keys as files under root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    # --- helpers -------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def _error(self, exc: OSError, doing: str) -> Exception:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return RemoteAccessDenied(f"remote {self.location}: permission denied {doing} ({exc.strerror})")
        if isinstance(exc, FileNotFoundError) and not self.root.is_dir():
            return RemoteNotFound(f"remote {self.location} does not exist (no such directory)")
        wrong = not_a_remote(self.root, exc)
        if wrong is not None:
            return RemoteError(f"remote {self.location} {wrong}")
        return RemoteError(f"remote {self.location}: {doing} failed: {exc.strerror or exc}")

    def _new_temp(self) -> tuple[Path, int]:
        """A new empty temp file under root/tmp and its fd (tmp/ made again if another writer
        removed it as it fell empty)."""
        return self._retrying(self._open_temp)

    def _open_temp(self) -> tuple[Path, int]:
        makedirs_outside(self.root / "tmp")  # the remote is shared: the user's umask, not a registry's
        tmp = self.root / "tmp" / f"put-{os.getpid()}-{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.fchmod(fd, outside_mode(0o666))
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return tmp, fd

    def _temp(self, data: bytes) -> Path:
        """A fsynced temp file under root/tmp holding data."""
        tmp, fd = self._new_temp()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self._drop_temp(tmp)
            raise
        os.close(fd)
        return tmp

    def _drop_temp(self, tmp: Path) -> None:
        tmp.unlink(missing_ok=True)
        self._tidy("tmp")

    def _tidy(self, directory: str) -> None:
        """Remove a passing directory if it is empty now (another writer's file keeps it)."""
        with contextlib.suppress(OSError):
            os.rmdir(self.root / directory)

    def _retrying(self, write: Callable[[], T]) -> T:
        """write(), again if a passing directory it needed was removed under it meanwhile."""
        for attempt in range(RETRIES):
            try:
                return write()
            except FileNotFoundError:
                if attempt == RETRIES - 1 or not self.root.is_dir():
                    raise
        raise AssertionError("unreachable")

    def _parent(self, key: str) -> Path:
        parent = self._path(key).parent
        if not self.root.is_dir():
            if not self.root.parent.is_dir():
                raise RemoteNotFound(f"remote {self.location}: its parent directory does not exist")
            makedirs_outside(self.root)
        makedirs_outside(parent)
        return parent

    # --- reading -------------------------------------------------------------------
    def get(self, key: str) -> tuple[bytes, str]:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyMissing(key) from None  # a directory not created yet is an empty remote
        except OSError as exc:
            raise self._error(exc, f"reading {key}") from None
        return data, etag_of(data)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                data = os.pread(f.fileno(), length, start)
        except FileNotFoundError:
            raise KeyMissing(key) from None
        except OSError as exc:
            raise self._error(exc, f"reading {key}") from None
        return data

    def head(self, key: str) -> Stat | None:
        try:
            info = self._path(key).stat()
            size = info.st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error(exc, f"reading {key}") from None
        # the ETag costs a read: only small keys (the ref table) are compared by ETag
        etag = etag_of(self._path(key).read_bytes()) if size <= 1 << 20 else f'"size-{size}"'
        return Stat(key, size, etag, info.st_mtime)

    def list(self, prefix: str) -> list[Stat]:
        base = self._path(prefix.rstrip("/")) if prefix.rstrip("/") else self.root
        if not base.is_dir() and (prefix.endswith("/") or not base.parent.is_dir()):
            return []  # nothing there yet (the directory is made by the first write)
        base = base if base.is_dir() else base.parent  # a prefix of names, as S3's: their directory
        out = []
        try:
            for path in _walk(base):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    info = path.stat()
                    out.append(Stat(key, info.st_size, "", info.st_mtime))
        except OSError as exc:
            raise self._error(exc, f"listing {prefix}") from None
        return sorted(out)

    # --- writing -------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> str:
        try:
            self._retrying(lambda: self._install(self._temp(data), key))
        except OSError as exc:
            raise self._error(exc, f"writing {key}") from None
        return etag_of(data)

    def _install(self, tmp: Path, key: str) -> None:
        """Rename the (fsynced) temp file to key, durably."""
        try:
            parent = self._parent(key)
            os.replace(tmp, self._path(key))
            _fsync_dir(parent)
        finally:
            self._drop_temp(tmp)  # gone already unless the rename failed

    def start_upload(self, key: str, part_size: int, resume: bool = True) -> FileUpload:
        """A file written part by part into a temp file, renamed to key at the end. Never
        resumed: the temp file of a killed writer is another process's (prune removes it)."""
        try:
            tmp, fd = self._new_temp()
        except OSError as exc:
            raise self._error(exc, f"writing {key}") from None
        return FileUpload(self, key, tmp, fd, part_size)

    def create(self, key: str, data: bytes) -> str:
        def write() -> None:
            parent = self._parent(key)
            tmp = self._temp(data)
            try:
                os.link(tmp, self._path(key))  # fails if the name exists: the atomic create-only
            except FileExistsError:
                raise PreconditionFailed(key) from None
            finally:
                self._drop_temp(tmp)
            _fsync_dir(parent)

        try:
            self._retrying(write)
        except OSError as exc:
            raise self._error(exc, f"creating {key}") from None
        return etag_of(data)

    def replace(self, key: str, data: bytes, etag: str) -> str:
        try:
            parent = self._parent(key)
            tmp = self._temp(data)
            try:
                with self._locked(key):
                    try:
                        current = etag_of(self._path(key).read_bytes())
                    except FileNotFoundError:
                        raise PreconditionFailed(key) from None
                    if current != etag:
                        raise PreconditionFailed(key)
                    os.replace(tmp, self._path(key))
                    _fsync_dir(parent)
            finally:
                self._drop_temp(tmp)
        except OSError as exc:
            raise self._error(exc, f"replacing {key}") from None
        return etag_of(data)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
            self._path(key + ".flock").unlink(missing_ok=True)  # its lock file, if it was replaced
        except OSError as exc:
            raise self._error(exc, f"removing {key}") from None
        directory = key.rsplit("/", 1)[0] if "/" in key else ""
        if directory in PASSING_DIRS:
            self._tidy(directory)

    def list_uploads(self, prefix: str) -> Sequence[Upload]:
        return []  # a file is written whole (its temp file under tmp/ is the only leftover)

    def abort_upload(self, upload: Upload) -> None:
        pass

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """Hold key's lock while comparing and renaming: an fcntl lock on <key>.flock (released
        by the kernel, or the NFS server, when its holder dies: nothing is ever stale), and
        inside it the <key>.lock file of older Pacha versions (O_CREAT|O_EXCL)."""
        # fcntl locks belong to a process: threads of one process are told apart by a thread lock
        with _thread_lock(self._path(key)):
            fd = self._flock(key)
            try:
                with self._lock_file(key):
                    crash_point("remote-lock-held")
                    yield
            finally:
                os.close(fd)  # releases the fcntl lock

    def _flock(self, key: str) -> int:
        """An fd holding the fcntl write lock of key (waits up to LOCK_WAIT seconds)."""
        import fcntl

        fd = os.open(self._path(key + ".flock"), os.O_RDWR | os.O_CREAT, outside_mode(0o666))
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN) or time.monotonic() > deadline:
                    os.close(fd)
                    if exc.errno in (errno.EACCES, errno.EAGAIN):
                        raise RemoteError(
                            f"remote {self.location}: {key} stays locked by another writer; try again"
                        ) from None
                    raise
                time.sleep(0.005)

    @contextlib.contextmanager
    def _lock_file(self, key: str) -> Iterator[None]:
        """The O_EXCL lock file older Pacha versions take. Ours say so (FLOCK_MARK): one left
        by a killed writer is removed at once (whoever holds the fcntl lock is the only live
        writer of this version); an older version's is broken after STALE_LOCK seconds."""
        lock = self._path(key + ".lock")
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, outside_mode(0o666))
                break
            except FileExistsError:
                _break_if_stale(lock)
                if time.monotonic() > deadline:
                    raise RemoteError(
                        f"remote {self.location}: {key} stays locked by another writer ({lock}); "
                        "if no push is running, remove that file"
                    ) from None
                time.sleep(0.01)
        try:
            os.write(fd, f"{FLOCK_MARK} {os.uname().nodename} {os.getpid()}\n".encode())
            os.close(fd)
            yield
        finally:
            lock.unlink(missing_ok=True)


class FileUpload:
    """A key written in parts at their offsets into one temp file (parts of equal size but the
    last), fsynced and renamed to the key by complete()."""

    def __init__(self, backend: FileBackend, key: str, tmp: Path, fd: int, part_size: int) -> None:
        self.backend = backend
        self.key = key
        self._tmp = tmp
        self._fd = fd
        self._part_size = part_size  # parts arrive in any order: each is put at its offset

    def held(self, number: int, data: Buffer) -> str | None:
        return None

    def put_part(self, number: int, data: Buffer) -> str:
        view = memoryview(data)
        offset = (number - 1) * self._part_size
        try:
            while view:
                done = os.pwrite(self._fd, view, offset)
                view, offset = view[done:], offset + done
        except OSError as exc:
            raise self.backend._error(exc, f"writing {self.key}") from None
        return f'"part-{number}"'

    def complete(self, etags: Sequence[str]) -> None:
        try:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            self.backend._install(self._tmp, self.key)
        except OSError as exc:
            raise self.backend._error(exc, f"writing {self.key}") from None

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.backend._drop_temp(self._tmp)


_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(path, threading.Lock())


def _break_if_stale(lock: Path) -> None:
    """Remove a lock file left by a killed writer: at once if it is ours (the caller holds the
    fcntl lock every writer of this version takes first), after STALE_LOCK seconds if it was
    written by an older version (which does not take the fcntl lock)."""
    try:
        with open(lock, "rb") as f:
            ours = f.read(len(FLOCK_MARK)) == FLOCK_MARK.encode()
        if ours or time.time() - lock.stat().st_mtime > STALE_LOCK:
            lock.unlink(missing_ok=True)
    except FileNotFoundError:
        pass


def _walk(base: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(base):
        for name in files:
            yield Path(dirpath) / name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
