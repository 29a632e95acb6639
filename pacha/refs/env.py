"""The ref database's LMDB environment: how it is opened and sized.

- Opened read-only (LMDB ``readonly=True``) until the first write transaction, then
  reopened for writing: a command that only reads never writes a byte of the registry,
  and works on a read-only mount or on another user's readable registry. Where the lock
  file cannot be written the database is read without it (``lock=False``).
- The memory map is sized to the file (twice its size, at least MIN_MAP_SIZE) rather than
  reserved at a terabyte, so commands run under an address-space limit (``ulimit -v``);
  a write that fills it grows it and runs again (LMDB MDB_MAP_FULL), and a process whose
  map another process has outgrown adopts the larger size (MDB_MAP_RESIZED).
- Before the file is mapped, its length is checked (pacha.refs.lmdb_file).
- Every LMDB error becomes one PachaError line (pacha.refs.lmdb_errors).

py-lmdb forbids opening one environment twice in a process (closing the second copy
drops the first one's POSIX locks), so there is one RefEnv per directory per process, and
reopening happens only when no transaction of this process is open (a small
shared/exclusive lock between threads).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import lmdb

from pacha import perms
from pacha.errors import RefDatabaseError
from pacha.refs.lmdb_errors import db_error as db_error
from pacha.refs.lmdb_errors import is_permission
from pacha.refs.lmdb_file import DATA_FILE, LOCK_FILE, RECOVER_HINT, data_in_use
from pacha.refs.tables import Db, Txn

MIN_MAP_SIZE = 64 << 20  # address space, not disk: a registry of ~100k versions fits before any growth
MAX_DBS = 16
FILE_MODE = 0o666  # data.mdb and lock.mdb, less the umask (py-lmdb's default 0o755 ignores a group's w)
_RETRIES = 32  # map growths or resizes in one call: each doubles the map at least

T = TypeVar("T")


def map_size_for(used: int) -> int:
    """The map to reserve for a database of `used` bytes: a power of two, at least twice `used`."""
    size = MIN_MAP_SIZE
    while size < 2 * used:
        size *= 2
    return size


# --- the environment ----------------------------------------------------------------------------
class RefEnv:
    """The LMDB environment of one ref database (a registry's refs/ directory), shared by every
    RefStore of this process on that directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env: lmdb.Environment | None = None
        self.writable = False
        self._tried = False  # a read-only open was attempted (env None after it: no database yet)
        self._dbs: dict[bytes, Db] = {}
        self._db_lock = threading.Lock()  # mdb_dbi_open is not thread-safe in a read transaction
        self._cond = threading.Condition()
        self._active = 0  # transactions of this process in flight
        self._exclusive = False  # reopening or resizing the map
        self._local = threading.local()

    # --- transactions ---------------------------------------------------------------------------
    @contextmanager
    def read(self, name: bytes, dupsort: bool = False) -> Iterator[tuple[Txn, Db | None]]:
        """(txn, db): a read transaction (a consistent snapshot) and the named database's
        handle in it; db is None when the database does not exist (it reads as empty).

        LMDB errors raised inside the block become PachaErrors.
        """
        with self.read_tables((name,), dupsort) as (txn, dbs):
            yield txn, dbs[0]

    @contextmanager
    def read_tables(
        self, names: tuple[bytes, ...], dupsort: bool = False
    ) -> Iterator[tuple[Txn, tuple[Db | None, ...]]]:
        """(txn, dbs): one read transaction and the handles of several named databases."""
        for _ in range(_RETRIES):
            self._ensure(write=False)  # again after a close_all() by another thread
            env = self._opened()
            nested = getattr(self._local, "writing", False)
            # A handle must be opened before the transaction that uses it begins (LMDB),
            # and not in a read transaction (py-lmdb closes it when that one ends).
            dbs = tuple(None if nested else self.db(name, None, dupsort=dupsort) for name in names)
            with self._shared():
                try:
                    txn = env.begin()
                except lmdb.MapResizedError:
                    txn = None
                except lmdb.Error as exc:
                    raise db_error(exc, self.path, "reading refs") from None
                if txn is not None:
                    try:
                        if nested:  # inside this thread's write transaction: handles for this read only
                            dbs = tuple(
                                self._dbs.get(n) or _open_existing(env, n, txn, dupsort) for n in names
                            )
                        yield txn, dbs
                    except lmdb.Error as exc:
                        txn.abort()
                        raise db_error(exc, self.path, "reading refs") from None
                    except BaseException:
                        txn.abort()
                        raise
                    txn.commit()
                    return
            self._resize(grow=False)
        raise RefDatabaseError(f"the ref database in {self.path} keeps changing size; try again")

    def write(self, body: Callable[[Txn], T], doing: str = "updating refs", create: bool = False) -> T:
        """Run body(txn) in one write transaction and commit it; run it again in a fresh
        transaction if the map had to grow. body must change nothing outside the transaction.
        create: make the database if it does not exist (pacha init, recovery)."""
        self._ensure(write=True, create=create)
        for _ in range(_RETRIES):
            before = set(self._dbs)
            try:
                with self._shared(), self._opened().begin(write=True) as txn:
                    self._local.writing = True
                    try:
                        return body(txn)
                    finally:
                        self._local.writing = False
            except lmdb.MapFullError:
                self._forget(before)
                self._resize(grow=True)
            except lmdb.MapResizedError:
                self._forget(before)
                self._resize(grow=False)
            except lmdb.Error as exc:
                self._forget(before)
                raise db_error(exc, self.path, doing) from None
            except OSError as exc:
                self._forget(before)
                raise db_error(exc, self.path, doing) from None
            except BaseException:
                self._forget(before)  # LMDB closes the handles an aborted transaction created
                raise
        raise RefDatabaseError(f"the ref database in {self.path} could not grow enough while {doing}")

    def db(self, name: bytes, txn: Txn | None, dupsort: bool = False, create: bool = False) -> Db | None:
        """The named database's handle; None if it does not exist and create is False.

        With create=True, txn is this thread's write transaction, which creates the
        database if missing (the handle is forgotten if it aborts: see write()).
        Otherwise the handle is opened in a transaction of its own (py-lmdb closes a
        handle opened in a read transaction when that transaction ends).
        """
        handle = self._dbs.get(name)
        if handle is not None:
            return handle
        with self._db_lock:
            handle = self._dbs.get(name)
            if handle is None:
                try:
                    if create or getattr(self._local, "writing", False):
                        handle = self._opened().open_db(name, txn=txn, dupsort=dupsort, create=create)
                    else:
                        handle = self._opened().open_db(name, dupsort=dupsort, create=False)
                except lmdb.NotFoundError:
                    return None
                except lmdb.Error as exc:
                    raise db_error(exc, self.path, "opening a table of the ref database") from None
                self._dbs[name] = handle
        return handle

    def table(self, name: bytes, txn: Txn, dupsort: bool = False) -> Db:
        """The named database in this thread's write transaction txn, created if missing."""
        handle = self.db(name, txn, dupsort=dupsort, create=True)
        if handle is None:  # open_db(create=True) never reports a missing database
            raise RefDatabaseError(f"the ref database in {self.path} cannot create table {name!r}")
        return handle

    def _opened(self) -> lmdb.Environment:
        """The open environment (opened by _ensure; only a read finds none, and it checks)."""
        if self.env is None:
            raise RefDatabaseError(f"the ref database in {self.path} is not open")
        return self.env

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
        self.env = None
        self.writable = False
        self._tried = False
        self._dbs.clear()

    # --- opening --------------------------------------------------------------------------------
    def _ensure(self, write: bool, create: bool = False) -> None:
        if self.writable or (not write and self._tried):
            return
        with self._exclusively():
            if self.writable or (not write and self._tried):
                return
            if write:
                old, self.env = self.env, None
                if old is not None:
                    old.close()
                self._dbs.clear()
                self.env = self._open_for_writing(create)
                self.writable = True
            else:
                self.env = self._open_for_reading()
            self._tried = True

    def _open_for_reading(self) -> lmdb.Environment:
        try:
            used = data_in_use(self.path / DATA_FILE)
        except FileNotFoundError:
            raise _missing(self.path) from None
        except OSError as exc:
            raise db_error(exc, self.path, "opening the ref database") from None
        size = map_size_for(used)
        # Readers register in the lock file so writers keep the pages they read; a lock
        # file this user cannot write (another user's registry, a read-only mount) is left
        # alone, and one that does not exist is not created by a command that only reads.
        lock = os.access(self.path / LOCK_FILE, os.W_OK)
        try:
            return self._open_readonly(size, lock)
        except lmdb.Error as exc:
            if not (lock and is_permission(exc)):
                raise db_error(exc, self.path, "opening the ref database") from None
        try:
            return self._open_readonly(size, lock=False)
        except lmdb.Error as exc:
            raise db_error(exc, self.path, "opening the ref database") from None

    def _open_readonly(self, map_size: int, lock: bool) -> lmdb.Environment:
        return lmdb.open(
            str(self.path),
            map_size=map_size,
            subdir=True,
            readonly=True,
            create=False,
            max_dbs=MAX_DBS,
            readahead=False,
            lock=lock,
        )

    def _open_for_writing(self, create: bool) -> lmdb.Environment:
        doing = "opening the ref database for writing"
        try:
            used = data_in_use(self.path / DATA_FILE)
        except FileNotFoundError:
            if not create:  # a registry's ref database exists from `pacha init` on
                raise _missing(self.path) from None
            used = 0
        except OSError as exc:
            raise db_error(exc, self.path, doing) from None
        try:
            perms.mkdirs(self.path)
            env = lmdb.open(
                str(self.path),
                map_size=map_size_for(used),
                subdir=True,
                max_dbs=MAX_DBS,
                readahead=False,
                mode=perms.file_mode(self.path / DATA_FILE, FILE_MODE),
            )
            for name in (DATA_FILE, LOCK_FILE):  # LMDB's mode is less the umask: set it exactly
                perms.fix_mode(self.path / name, FILE_MODE)
        except (lmdb.Error, OSError) as exc:
            raise db_error(exc, self.path, "write to it") from None
        try:
            env.reader_check()  # free the slots of readers that died
        except lmdb.Error as exc:
            env.close()
            raise db_error(exc, self.path, doing) from None
        return env

    def _resize(self, grow: bool) -> None:
        """Grow the map (this process filled it) or adopt the file's size (another grew it)."""
        with self._exclusively():
            try:
                used = os.path.getsize(self.path / DATA_FILE)
            except OSError:
                used = 0
            env = self._opened()
            current = env.info()["map_size"]
            size = max(map_size_for(used), current * 2 if grow else current)
            try:
                env.set_mapsize(size)
            except lmdb.Error as exc:
                raise db_error(exc, self.path, f"growing its map to {size} bytes") from None

    def _forget(self, names: set[bytes]) -> None:
        for name in set(self._dbs) - names:
            del self._dbs[name]

    # --- this process's transactions vs reopening -------------------------------------------
    @contextmanager
    def _shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._active += 1
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextmanager
    def _exclusively(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            # LMDB cannot remap or reopen under an open transaction: a programming error
            raise RuntimeError(
                "the ref database cannot be reopened or resized inside this thread's transaction"
            )
        with self._cond:
            while self._exclusive or self._active:
                self._cond.wait()
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


def _missing(path: Path) -> RefDatabaseError:
    return RefDatabaseError(f"the ref database {path / DATA_FILE} is missing; {RECOVER_HINT}")


def _open_existing(env: lmdb.Environment, name: bytes, txn: Txn, dupsort: bool) -> Db | None:
    try:
        return env.open_db(name, txn=txn, dupsort=dupsort, create=False)
    except lmdb.NotFoundError:
        return None


_ENVS: dict[str, RefEnv] = {}
_ENVS_LOCK = threading.Lock()


def ref_env(path: Path) -> RefEnv:
    """The one RefEnv of this process for the ref database in path (nothing is opened yet)."""
    key = str(path.resolve())
    with _ENVS_LOCK:
        env = _ENVS.get(key)
        if env is None:
            env = _ENVS[key] = RefEnv(Path(key))
        return env


def close_all() -> None:
    """Close every ref database this process opened (before fork, in tests); the next use
    reopens it (the RefEnv objects stay: one per directory per process)."""
    with _ENVS_LOCK:
        for env in _ENVS.values():
            env.close()
