"""Errors of remotes: one line each, saying what went wrong and what to do."""

from __future__ import annotations

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
