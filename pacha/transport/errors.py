"""Errors of remotes: one line each, saying what went wrong and what to do."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from pacha.errors import CheckFailed, NotFound, PachaError


class RemoteError(PachaError):
    """A remote failed in a way not covered below (fatal, exit 128)."""


class RemoteNotFound(NotFound):
    """No such bucket or directory (exit 1)."""


class RemoteUnreachable(RemoteError):
    """The network or the server failed (after retries)."""


class RemoteAccessDenied(RemoteError):
    """The credentials do not allow what was asked (a read-only user pushing, bad keys)."""


class RemoteFormatError(RemoteError):
    """The place is not a Pacha remote, or one of a newer format than this Pacha reads."""


class RemoteUnsafeRefs(RemoteError):
    """The store does not honour conditional writes, so refs cannot be moved safely."""


class RemoteRefMoved(CheckFailed):
    """A push found a remote ref other than expected: someone else moved it (not a fast-forward)."""

    def __init__(self, message: str, name: str = "", who: str = "", when_ns: int = 0) -> None:
        super().__init__(message)
        self.name = name
        self.who = who
        self.when_ns = when_ns


class RemoteObjectCorrupt(CheckFailed):
    """An object received from a remote does not match its id; nothing of it was installed."""

    def __init__(self, message: str, object_id: str = "") -> None:
        super().__init__(message)
        self.object_id = object_id


class RemoteMissingObject(CheckFailed):
    """An object a push or fetch needs is neither here nor on the remote."""

    def __init__(self, message: str, object_id: str = "") -> None:
        super().__init__(message)
        self.object_id = object_id


def not_a_remote(root: Path, exc: OSError) -> str | None:
    """What a directory remote's path is when exc says it cannot be one ("is ..." text): a file
    (or below one), or a registry (its `refs` is the ref database's directory, a remote's is a
    file). None for any other failure."""
    if exc.errno == errno.ENOTDIR:
        blocker = next((p for p in (root, *root.parents) if os.path.lexists(p)), None)
        if blocker is not None and not blocker.is_dir():
            return (
                f"is not a directory ({blocker} is a file): a directory remote is a directory that "
                "`pacha push` fills; check the path"
            )
    if exc.errno == errno.EISDIR and (root / "config.toml").is_file() and (root / "refs").is_dir():
        return (
            "is a registry, not a remote: clone or pull from a remote it was pushed to (in it: "
            "`pacha remote add NAME URL`, `pacha push NAME`)"
        )
    return None
