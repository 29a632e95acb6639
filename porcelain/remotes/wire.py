"""The one place porcelain touches pacha.transport (a rename there costs this file only).

The contract is /work/wt/notes/transport-api.md: open_remote, push (objects first,
then the ref table by compare-and-swap, a check callback run on the table about to be
written), fetch (remote-tracking refs and their reflog), fetch_objects (a closure,
each object verified on arrival), remote_log (the remote's audit trail as fetched).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pacha
from pacha.errors import InvalidInput, NotFound, UsageError
from pacha.transport import carry, errors
from pacha.transport import prune as prune_module
from pacha.transport.fetch import fetch as _fetch
from pacha.transport.fetch import fetch_objects as _fetch_objects
from pacha.transport.fetch import remote_log
from pacha.transport.partial import fetch_records
from pacha.transport.push import UNKNOWN, RefUpdate
from pacha.transport.push import push as _push
from pacha.transport.reftable import last_change as _last_change
from pacha.transport.remote import Remote, open_remote
from pacha.transport.urls import parse_url
from porcelain.remotes.refsync import Move
from porcelain.remotes.settings import RemoteSettings

ProgressFn = Callable[[Any], None] | None  # called with a pacha.transport.progress.TransferProgress
RemoteRefMoved = errors.RemoteRefMoved
RemoteError = errors.RemoteError

__all__ = ["UNKNOWN", "Remote", "RemoteError", "RemoteRefMoved", "remote_log"]


_OPEN: dict[tuple[RemoteSettings, int], Remote] = {}  # (settings, thread) -> its connection
_OPEN_LIMIT = 64


def connect(settings: RemoteSettings) -> Remote:
    """A connection to the remote a settings block describes (nothing is requested yet).

    Kept per thread for the life of the process: setting up an S3 client costs far more than a
    push of a few refs, and a Python caller (a training script, a test) pushes and pulls often."""
    key = (settings, threading.get_ident())
    remote = _OPEN.get(key)
    if remote is None:
        if len(_OPEN) >= _OPEN_LIMIT:
            _OPEN.clear()
        remote = _OPEN[key] = open_remote(
            settings.url,
            endpoint_url=settings.endpoint_url,
            jobs=settings.jobs,
            unsafe_refs=settings.unsafe_refs,
            name=settings.name,
        )
    return remote


def check_url(url: str, endpoint_url: str | None = None) -> Path | None:
    """Check a remote URL and endpoint as typed (UsageError: exit 2, nothing written).

    Returns the directory of a path remote that does not exist yet (its first push creates it),
    else None. Raises NotFound if not even its parent exists (a typo: a push would fail too)."""
    parsed = parse_url(url)
    if endpoint_url is not None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"bad endpoint URL {endpoint_url!r}: use http://HOST[:PORT] or https://HOST[:PORT]"
            )
        if parsed.scheme != "s3":
            raise UsageError(f"--endpoint-url is for s3:// remotes, not {url!r}")
    if parsed.path is None:
        return None
    if parsed.path.is_dir():
        _refuse_foreign(parsed.path)
        return None
    if parsed.path.exists():
        raise UsageError(f"remote path {parsed.path} is not a directory")
    if not parsed.path.parent.is_dir():
        raise NotFound(
            f"remote path {parsed.path}: its parent directory {parsed.path.parent} does not exist; check "
            "the path (a first push creates the remote's directory, not its parents)"
        )
    return parsed.path


_OURS = frozenset({"pacha-remote", "probe", "tmp", ".flock"})  # what a probe or a first push leaves


def _refuse_foreign(path: Path) -> None:
    """A directory holding other files, without the `pacha-remote` marker, is not a remote: a push
    would write the remote's files among them (`pacha remote add origin ~` by a slip)."""
    if (path / "pacha-remote").exists():
        return
    try:
        others = sorted(p.name for p in path.iterdir() if p.name not in _OURS)
    except OSError:
        return  # unreadable: the transport names the error when it is used
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise InvalidInput(
            f"{path} holds other files ({shown}) and is not a Pacha remote (no pacha-remote marker): "
            "give a new or empty directory for the remote"
        )


def connect_url(
    url: str, endpoint_url: str | None = None, jobs: int | None = None, name: str | None = None
) -> Remote:
    return open_remote(url, endpoint_url=endpoint_url, jobs=jobs, name=name)


def push(
    plumbing: pacha.Registry,
    remote: Remote,
    moves: Sequence[Move],
    *,
    force: bool,
    check: Callable[[Mapping[str, str]], None],
    message: str,
    progress: ProgressFn,
) -> Any:
    """Objects first, then the ref table by compare-and-swap (transport's PushResult)."""
    updates = [RefUpdate(m.ref, m.new, UNKNOWN if force else m.old) for m in moves]
    return _push(
        plumbing,
        remote,
        updates,
        force=force,
        check=check,
        who=plumbing.identity(),
        message=message,
        progress=progress,
    )


def fetch(plumbing: pacha.Registry, remote: Remote, name: str, progress: ProgressFn = None) -> Any:
    """The records and trees of every ref value of the remote (no artifact bytes:
    pacha.transport.partial), then the remote-tracking refs and their audit trail, so that the
    tracking refs name objects that are here.

    Returns the records' FetchObjectsResult (objects, bytes)."""
    values = sorted(set(remote.read_refs().refs.values())) if remote.check_format() else []
    with plumbing.writing():  # gc cannot collect what arrives before the tracking refs name it
        result = fetch_records(plumbing, remote, values, progress=progress)
        _fetch(plumbing, remote, name, objects=False)
    return result


def last_change(remote: Remote, ref: str) -> tuple[str, int, str] | None:
    """(who, when_ns, message) of the newest push that moved ref on the remote, None if none did.

    Walks the remote's audit trail back from its head (usually one or two requests)."""
    segment = _last_change(remote.backend, remote.read_refs(), ref)
    return None if segment is None else (segment.who, segment.when_ns, segment.message)


def remote_ids(remote: Remote) -> list[str]:
    """Every object id the remote's visible packs hold (what `clone --all` copies)."""
    return sorted(remote.refresh_objects(None))


def fetch_objects(
    plumbing: pacha.Registry, remote: Remote, roots: Iterable[str], progress: ProgressFn
) -> Any:
    """The closure of roots the local store lacks, verified on arrival (FetchObjectsResult)."""
    return _fetch_objects(plumbing, remote, list(roots), progress=progress)


def replays(plumbing: pacha.Registry, remote: str, moves: Sequence[Move]) -> list[carry.Replay]:
    """The local moves of a pull or clone with the history of each (carry.pull_history): every
    change as the machine that made it recorded it (who, time, message), not one "pull" entry."""
    return carry.pull_history(plumbing, remote, [carry.Move(m.ref, m.old, m.new) for m in moves])


def prune(remote: Remote, grace: float, dry_run: bool) -> prune_module.PruneReport:
    """Remove the remote's leftovers older than grace seconds (pacha.transport.prune)."""
    return prune_module.prune(remote, grace=grace, dry_run=dry_run)
