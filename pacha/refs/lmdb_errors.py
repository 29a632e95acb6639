"""LMDB errors as one Pacha error line each (pacha.errors): disk full, read-only, damaged,
incompatible version, no memory for the map."""

from __future__ import annotations

import errno
from pathlib import Path

import lmdb

from pacha.errors import PachaError, ReadOnlyRegistry, RefDatabaseError
from pacha.refs.lmdb_file import DATA_FILE, RECOVER_HINT

_DAMAGE = (
    "CorruptedError",
    "PageNotFoundError",
    "InvalidError",
    "PanicError",
    "BadChecksumError",
    "BadDbiError",
    "IncompatibleError",
)


def db_error(exc: BaseException, path: Path, doing: str) -> PachaError:
    """One Pacha error line for an LMDB (or OS) error met while `doing` something to the ref
    database in `path` (the registry's refs/ directory)."""
    if isinstance(exc, PachaError):
        return exc
    kind = type(exc).__name__
    code = getattr(exc, "code", None) if isinstance(exc, lmdb.Error) else getattr(exc, "errno", None)
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    registry = path.parent
    if isinstance(exc, lmdb.DiskError) or code in (errno.ENOSPC, errno.EDQUOT):
        return RefDatabaseError(
            f"no space left on the device holding {registry} while {doing}; nothing was changed: "
            "free some space and run the command again"
        )
    if isinstance(exc, lmdb.ReadonlyError) or code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ReadOnlyRegistry(
            f"the registry {registry} is read-only ({reason}: {path / DATA_FILE}): cannot {doing}; "
            "write commands need a registry you can write"
        )
    if isinstance(exc, lmdb.MapFullError):
        return RefDatabaseError(f"the ref database in {path} is full and could not grow while {doing}")
    if isinstance(exc, lmdb.MemoryError) or code == errno.ENOMEM:
        return RefDatabaseError(
            f"not enough memory or address space to map the ref database in {path} while {doing} "
            f"({reason}); raise the limit (ulimit -v) or free memory"
        )
    if isinstance(exc, lmdb.VersionMismatchError):
        return RefDatabaseError(
            f"the ref database in {path} was written by an incompatible LMDB version ({reason}); "
            "use the Pacha that wrote it"
        )
    if isinstance(exc, lmdb.ReadersFullError):
        return RefDatabaseError(f"too many processes are reading the ref database in {path}; try again later")
    if isinstance(exc, lmdb.LockError) or code == errno.EAGAIN:
        return RefDatabaseError(f"the ref database in {path} is locked ({reason}) while {doing}; try again")
    if kind in _DAMAGE or code == errno.EIO:
        return RefDatabaseError(
            f"the ref database in {path} is damaged ({reason}) while {doing}; {RECOVER_HINT}"
        )
    return RefDatabaseError(f"the ref database in {path} failed while {doing}: {reason}")


def is_permission(exc: BaseException) -> bool:
    """Whether an LMDB or OS error says this process may not write (or open) the files."""
    code = getattr(exc, "code", None) if isinstance(exc, lmdb.Error) else getattr(exc, "errno", None)
    return isinstance(exc, lmdb.ReadonlyError) or code in (errno.EACCES, errno.EPERM, errno.EROFS)
