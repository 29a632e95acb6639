"""Sending objects to a remote, in packs (receiving: pacha.transport.receive).

Walk the closure of the roots (records, trees, chunk lists, chunks, delta bases), stopping at
what the remote is known to hold whole: its ref tips, and objects this registry saw arrive
whole there before (pacha.transport.known); keep what the remote lacks; cut that list, in walk
order, into batches of up to PACK_TARGET bytes; each batch becomes one pack, streamed to the
remote part by part (pacha.transport.upload: no temp file, memory bounded, each object checked
before it leaves so that a damaged local copy is never spread). A pack's name is its id, a
digest of its entries' ids and lengths, so a push interrupted and run again plans the same
packs for the batches that did not arrive: an index already there means the batch arrived
(skipped unread); a pack without its index is completed; an unfinished multipart upload is
taken up again with the parts it holds. Before the refs move, every pack completed is
checked to be still there (pacha.transport.confirm: a `remote prune` may have removed one
whose push stalled before its index), and sent again if it is not.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pacha.transport import local, outgoing
from pacha.transport.confirm import confirm_packs
from pacha.transport.errors import RemoteMissingObject
from pacha.transport.progress import Meter
from pacha.transport.remote import Location, Remote
from pacha.transport.upload import PackSender

if TYPE_CHECKING:
    from pacha.registry import Registry
    from pacha.store import ObjectStore

PACK_TARGET = 32 << 20  # bytes of objects per pack sent (a pack above 16 MiB goes up in parts)


@dataclass
class SendResult:
    objects: int = 0
    bytes: int = 0
    packs: int = 0


@dataclass
class SendPlan:
    """What a push sends, and what its walk learnt."""

    send: list[tuple[str, int]] = field(default_factory=list)  # (id, stored length), walk order
    walked: set[str] = field(default_factory=set)  # objects whose closure the walk went through
    whole: bool = True  # False: it skipped objects it could not read (a lazy registry's)


# --- sending -----------------------------------------------------------------------
def plan_send(
    store: ObjectStore, roots: Iterable[str], remote_has: dict[str, Location], complete: Container[str]
) -> SendPlan:
    """Every object in the closure of roots that the remote lacks, with its stored length, in
    walk order (depth first from the sorted roots). complete: ids whose closure the remote
    holds whole (its ref tips, what pacha.transport.known remembers): not walked. Raises
    RemoteMissingObject for an object neither here nor there."""
    plan = SendPlan()
    seen: set[str] = set()
    stack = sorted(set(roots), reverse=True)
    while stack:
        object_id = stack.pop()
        if object_id in seen or object_id in complete:
            continue
        seen.add(object_id)
        about = local.describe(store, object_id)
        if about is None:
            if object_id in remote_has:
                plan.whole = False  # a lazy registry: the remote has it (and, we trust, its closure)
                continue
            raise RemoteMissingObject(
                f"cannot push: object {object_id} is missing here and on the remote "
                "(fetch it first, or run `pacha fsck`)",
                object_id,
            )
        plan.walked.add(object_id)
        if object_id not in remote_has:
            plan.send.append((object_id, about.length))
        stack.extend(reversed([i for i in outgoing.walk_links(store, object_id, about) if i not in seen]))
    return plan


def batches(plan: list[tuple[str, int]], target: int | None = None) -> list[list[tuple[str, int]]]:
    """Consecutive runs of the plan of up to target bytes (one object larger than target alone).

    Cut from the start, so when whole batches arrived and the plan is made again, the
    batches left are the same (same packs, same names: resumable)."""
    target = target or PACK_TARGET
    out: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    size = 0
    for object_id, length in plan:
        if current and size + length > target:
            out.append(current)
            current, size = [], 0
        current.append((object_id, length))
        size += length
    if current:
        out.append(current)
    return out


def send(registry: Registry, remote: Remote, plan: list[tuple[str, int]], meter: Meter) -> SendResult:
    """Upload the planned objects in packs, several requests at once (objects only: refs come
    after)."""
    meter.grow(sum(size for _, size in plan), len(plan))
    packs = [outgoing.plan_pack(batch) for batch in batches(plan)]
    sender = PackSender(registry.objects, remote.backend, remote.jobs, meter, remote.pack_listing())
    sent = sender.send_all(packs)
    result = SendResult(sent.objects, sent.bytes, sent.packs)

    def resend(removed: list[outgoing.PackPlan]) -> None:  # taken by a prune: send them again
        again = PackSender(registry.objects, remote.backend, remote.jobs, meter, {}).send_all(removed)
        result.bytes += again.bytes

    confirm_packs(remote.backend, sender.completed, resend, remote.url)
    return result
