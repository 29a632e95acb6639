"""fetch: the remote's refs into remotes/<name>/..., its reflog mirrored; objects by closure.

Objects come before refs here too: with objects=True the closure of every new ref value is
fetched (verified) first, then the tracking refs move, one local transaction per remote
reflog segment not yet mirrored (the pusher's name and message in the local reflog; the
segment itself kept verbatim, remote times included: remote_log()).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pacha.errors import RefConflict, RefNotFound
from pacha.ids import ZERO_ID
from pacha.transport import local, sealed
from pacha.transport.layout import Change, RemoteLogEntry, RemoteRefTable, decode_segment
from pacha.transport.progress import Meter, ProgressCallback
from pacha.transport.receive import FetchObjectsResult, receive
from pacha.transport.remote import Remote

if TYPE_CHECKING:
    from pacha.registry import Registry

__all__ = ["FetchObjectsResult", "FetchResult", "fetch", "fetch_objects", "remote_log"]

MIRROR_ATTEMPTS = 20  # rounds of mirroring against concurrent fetches of the same remote


@dataclass
class FetchResult:
    updated: list[tuple[str, str, str]] = field(default_factory=list)  # (remote ref, old, new)
    log_entries: int = 0
    objects: FetchObjectsResult | None = None


def fetch_objects(
    registry: Registry, remote: Remote, roots: Iterable[str], *, progress: ProgressCallback | None = None
) -> FetchObjectsResult:
    """Bring the closure of roots that the local store lacks, each object verified on arrival."""
    sealed.before_fetch(registry, remote)  # encrypted remotes: same keys, or a keyring to adopt
    return receive(registry, remote, roots, Meter("receive", progress))


def fetch(
    registry: Registry,
    remote: Remote,
    remote_name: str,
    *,
    objects: bool = True,
    progress: ProgressCallback | None = None,
) -> FetchResult:
    """Update remotes/<remote_name>/<ref> to the remote's table (see module doc)."""
    result = FetchResult()
    if not remote.check_format():
        return result  # an empty remote: nothing to fetch
    sealed.before_fetch(registry, remote)  # encrypted remotes: same keys, or a keyring to adopt
    table = remote.read_refs()
    tracking = local.tracking_refs(registry, remote_name)
    if objects:
        # every value (those already here cost one lookup): a value a lazy fetch left behind is fetched too
        result.objects = fetch_objects(registry, remote, list(table.refs.values()), progress=progress)
    for attempt in range(MIRROR_ATTEMPTS):
        try:
            result.log_entries += _mirror(registry, remote, remote_name, table)
            break
        except (RefConflict, RefNotFound):
            # another fetch or pull of this remote mirrored segments meanwhile (its transaction
            # moved the tracking refs first): go on from what it left, against the table now
            if attempt == MIRROR_ATTEMPTS - 1:
                raise
            table = remote.read_refs()
    result.updated = [(n, tracking.get(n, ZERO_ID), v) for n, v in table.refs.items() if tracking.get(n) != v]
    result.updated += [(n, v, ZERO_ID) for n, v in tracking.items() if n not in table.refs]
    return result


def _mirror(registry: Registry, remote: Remote, remote_name: str, table: RemoteRefTable) -> int:
    """Mirror the segments not yet kept, oldest first, one transaction each, then match the
    table; returns the entries mirrored. Raises RefConflict/RefNotFound if the tracking refs
    moved since they were read (a concurrent fetch): what was committed stays, and a call
    again starts from it."""
    count = 0
    remembered = local.remembered_segments(registry, remote_name)
    last = remembered[-1][0] if remembered else 0
    if table.seq < last:  # a concurrent fetch read a newer table, or the remote was replaced
        newer = remote.read_refs()
        if newer.seq >= last:
            raise RefConflict(f"the trail of {remote_name} was mirrored further meanwhile")
        last = 0  # replaced by another remote at that place: mirror its trail afresh
    for segment, data in remote.segments_since(table, last):
        local.mirror_segment(
            registry,
            remote_name,
            segment.changes,
            segment.who,
            segment.message or "push",
            segment.when_ns,
            (segment.seq, data),
        )
        count += len(segment.changes)
    # what the segments did not say (a trail mirrored before a push of ours): match the table
    tracking_now = local.tracking_refs(registry, remote_name)
    final = [(n, tracking_now.get(n, ZERO_ID), v) for n, v in table.refs.items() if tracking_now.get(n) != v]
    final += [(n, v, ZERO_ID) for n, v in tracking_now.items() if n not in table.refs]
    if final:
        changes = [Change(n, o, w) for n, o, w in final]
        local.mirror_segment(
            registry, remote_name, changes, table.who or "fetch", "fetch: match the remote", 0, None
        )
    return count


def remote_log(registry: Registry, remote_name: str) -> list[RemoteLogEntry]:
    """The remote's audit trail as last fetched (who, remote time, message), oldest first."""
    return [
        entry
        for seq, data in local.remembered_segments(registry, remote_name)
        for entry in decode_segment(data, f"logs/{seq:016d}").entries()
    ]
