"""Sending objects to a remote, in packs (receiving: pacha.transport.receive).

Walk the closure of the roots (records, trees, chunk lists, chunks, delta bases),
stopping at what the remote is known to hold whole (its ref tips); keep what the remote
lacks; cut that list, in walk order, into batches of up to PACK_TARGET bytes; each batch
becomes one pack (built in the registry's tmp/, then uploaded: the pack, then its index),
several at once. Every object is verified before it leaves (a damaged local copy is never
spread). A pack's name is its id, a digest of its entries, so a push interrupted and run
again rebuilds the same packs for the batches that did not arrive: an index already there
means the batch arrived; a pack without its index is completed (a large one resumes its
multipart upload).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pacha.crash import crash_point
from pacha.errors import CorruptObject
from pacha.transport import local
from pacha.transport.errors import RemoteMissingObject
from pacha.transport.layout import index_key, pack_key
from pacha.transport.progress import Meter
from pacha.transport.remote import Location, Remote

if TYPE_CHECKING:
    from pacha.registry import Registry
    from pacha.store import ObjectStore

PACK_TARGET = 32 << 20  # bytes of objects per pack sent (a pack above 16 MiB goes up in parts)
# a pack found without its index is reused (only the index sent) if written this recently (s);
# an older one is sent again, as `remote prune` may be removing it (its grace is longer)
REUSE_WITHIN = 600.0


@dataclass
class SendResult:
    objects: int = 0
    bytes: int = 0
    packs: int = 0


# --- sending -----------------------------------------------------------------------
def plan_send(
    store: ObjectStore, roots: Iterable[str], remote_has: dict[str, Location], complete: set[str]
) -> list[tuple[str, int]]:
    """(id, stored size) of every object in the closure of roots that the remote lacks, in
    walk order (depth first from the sorted roots). complete: ids whose closure the remote
    holds whole (its ref tips): not walked. Raises RemoteMissingObject for an object neither
    here nor there."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    stack = sorted(set(roots), reverse=True)
    while stack:
        object_id = stack.pop()
        if object_id in seen or object_id in complete:
            continue
        seen.add(object_id)
        if not local.has(store, object_id):
            if object_id in remote_has:
                continue  # a lazy registry: the remote has it, and what it links to
            raise RemoteMissingObject(
                f"cannot push: object {object_id} is missing here and on the remote "
                "(fetch it first, or run `pacha fsck`)",
                object_id,
            )
        if object_id not in remote_has:
            out.append((object_id, local.stored_size(store, object_id)))
        stack.extend(reversed([i for i in local.links(store, object_id) if i not in seen]))
    return out


def batches(plan: list[tuple[str, int]], target: int | None = None) -> list[list[str]]:
    """Consecutive runs of the plan of up to target bytes (one object larger than target alone).

    Cut from the start, so when whole batches arrived and the plan is made again, the
    batches left are the same (same packs, same names: resumable)."""
    target = target or PACK_TARGET
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for object_id, length in plan:
        if current and size + length > target:
            out.append(current)
            current, size = [], 0
        current.append(object_id)
        size += length
    if current:
        out.append(current)
    return out


def send(registry: Registry, remote: Remote, plan: list[tuple[str, int]], meter: Meter) -> SendResult:
    """Upload the planned objects in packs, several at once (objects only: refs come after)."""
    result = SendResult()
    work = batches(plan)
    meter.grow(sum(size for _, size in plan), len(plan))

    def one(batch: list[str]) -> tuple[int, int, bool]:
        return _send_batch(registry, remote, batch, meter)

    for objects, nbytes, sent in remote.map(one, work, window=remote.jobs):
        result.objects += objects
        result.bytes += nbytes
        result.packs += sent
    return result


def _send_batch(registry: Registry, remote: Remote, batch: list[str], meter: Meter) -> tuple[int, int, bool]:
    """Build, check and upload one pack; (objects, bytes uploaded, whether anything was)."""
    store = registry.objects
    built = local.build_pack(registry.root / "tmp", _verified_entries(store, batch))
    try:
        if built.pack_id in remote.known_packs() or remote.backend.head(index_key(built.pack_id)):
            meter.add(sum(e.length for e in built.entries.values()), len(built.entries))
            return 0, 0, False  # arrived in an interrupted push: nothing to send
        size = built.pack.path.stat().st_size
        there = remote.backend.head(pack_key(built.pack_id))
        uploaded = 0
        if there is None or there.size != size or time.time() - there.modified > REUSE_WITHIN:
            uploaded = remote.backend.put_file(
                pack_key(built.pack_id), built.pack.path, lambda n: meter.add(n)
            )
        else:
            meter.add(size)  # arrived whole before its index, lately: only the index is missing
        crash_point("push-pack-before-index")
        remote.backend.put(
            index_key(built.pack_id), built.index_data
        )  # the index last: the pack is now visible
        if remote.backend.head(pack_key(built.pack_id)) is None:  # pruned meanwhile: send it again
            uploaded += remote.backend.put_file(pack_key(built.pack_id), built.pack.path)
        meter.add(0, len(built.entries))
        crash_point("push-after-pack")
        return len(built.entries), uploaded + len(built.index_data), True
    finally:
        built.pack.abort()


def _verified_entries(store: ObjectStore, batch: list[str]) -> Iterator[tuple[str, bytes]]:
    for object_id in batch:
        try:
            if not local.is_chunk_list(store, object_id):  # a list is proven by its chunks
                local.verify(store, object_id)
            yield object_id, local.stored_bytes(store, object_id)
        except CorruptObject as exc:
            raise CorruptObject(f"cannot push: {exc} (run `pacha fsck --repair`)") from None
