"""Receiving objects from a remote: the closure of some roots, verified, installed as it arrives.

The remote's pack indexes say which pack and byte range holds each id. The closure is walked
round by round (records, then trees, then files, then chunks): objects here already are
followed locally, the others are fetched by ranged GETs (entries lying close together in one
request, several requests at once) and written into a local pack, installed every
INSTALL_EVERY bytes once each of its objects is verified (decoded and hashed against its
id). An object is added to a pack only when everything it needs to be verified is here (a
chunk list after its chunks, a delta after its base); until then it waits in memory (chunk
lists and deltas are small). So what arrived stays after an interruption, a fetch run again
sends only what is missing, and a chunk list or delta that is here has what it needs here too.
A corrupt object is named (RemoteObjectCorrupt) and the pack it would have gone into is not
installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pacha.crash import crash_point
from pacha.errors import CorruptObject, ObjectNotFound
from pacha.transport import local
from pacha.transport.errors import RemoteMissingObject, RemoteObjectCorrupt
from pacha.transport.layout import pack_key
from pacha.transport.progress import Meter
from pacha.transport.remote import Location, Remote, cache_dir

if TYPE_CHECKING:
    from pacha.registry import Registry
    from pacha.store import ObjectStore

INSTALL_EVERY = 32 << 20  # bytes of received objects per local pack installed
RANGE_LIMIT = 8 << 20  # bytes per ranged GET
RANGE_GAP = 64 << 10  # entries closer than this in a remote pack are fetched in one request


@dataclass
class FetchObjectsResult:
    objects: int = 0
    bytes: int = 0
    requests: int = 0


class _Walk:
    """The closure being fetched: what is queued, seen, and waiting for what it needs."""

    def __init__(self, roots: Iterable[str]) -> None:
        self.queue = sorted(set(roots))
        self.seen: set[str] = set()
        self.waiting: dict[str, bytes] = {}  # received, not verifiable yet (chunk list, delta)

    def add(self, ids: Iterable[str]) -> None:
        self.queue.extend(i for i in ids if i not in self.seen)


def receive(registry: Registry, remote: Remote, roots: Iterable[str], meter: Meter) -> FetchObjectsResult:
    """Fetch the closure of roots that the local store lacks (see module doc)."""
    store = registry.objects
    result = FetchObjectsResult()
    walk = _Walk(roots)
    while walk.queue or walk.waiting:
        if not walk.queue:  # only waiting objects left: install those now ready
            installed = _install(store, remote, iter(()), walk, result, meter)
            if not installed:
                object_id = min(walk.waiting)
                raise RemoteMissingObject(
                    f"object {object_id} from remote {remote.url} needs objects neither here nor there",
                    object_id,
                )
            for object_id in installed:
                walk.add(_links(store, remote, object_id))
            continue
        wanted = _round(store, walk)
        where = _locate(registry, remote, wanted)
        meter.grow(sum(where[i].length for i in wanted), len(wanted))
        for group in _groups(wanted, where):
            stream = _download(remote, [(i, where[i]) for i in group], result)
            for object_id in _install(store, remote, stream, walk, result, meter):
                walk.add(_links(store, remote, object_id))
    return result


def _round(store: ObjectStore, walk: _Walk) -> list[str]:
    """Take the queue: objects here are followed (records and trees: a chunk list or delta
    here has its chunks or base here); returns those to fetch."""
    wanted: list[str] = []
    while walk.queue:
        queue, walk.queue = walk.queue, []
        for object_id in queue:
            if object_id in walk.seen:
                continue
            walk.seen.add(object_id)
            if local.has(store, object_id):
                walk.add(local.structured_links(store, object_id))
            else:
                wanted.append(object_id)
    return wanted


def _locate(registry: Registry, remote: Remote, wanted: list[str]) -> dict[str, Location]:
    where = remote.refresh_objects(cache_dir(registry.root))
    missing = [i for i in wanted if i not in where]
    if missing:
        where = remote.refresh_objects(cache_dir(registry.root))  # pushed since it was listed
        missing = [i for i in wanted if i not in where]
    if missing:
        raise RemoteMissingObject(
            f"object {missing[0]} is neither here nor on remote {remote.url}", missing[0]
        )
    return where


def _groups(wanted: list[str], where: dict[str, Location]) -> Iterator[list[str]]:
    """wanted in runs of up to INSTALL_EVERY remote bytes, in pack order (one local pack each)."""
    group: list[str] = []
    size = 0
    for object_id in sorted(wanted, key=lambda i: (where[i].pack_id, where[i].offset)):
        if group and size + where[object_id].length > INSTALL_EVERY:
            yield group
            group, size = [], 0
        group.append(object_id)
        size += where[object_id].length
    if group:
        yield group


def _install(
    store: ObjectStore,
    remote: Remote,
    stream: Iterator[tuple[str, bytes]],
    walk: _Walk,
    result: FetchObjectsResult,
    meter: Meter,
) -> list[str]:
    """Add what arrives (and what was waiting and is now ready) to one local pack; verify all of
    it, then install it. Returns the ids installed."""
    added: list[str] = []
    with local.receiving(store) as writer:
        for object_id, data in stream:
            try:
                local.check_stored(object_id, data)
                needs = local.storage_links_of(object_id, data, store.keys)
            except CorruptObject as exc:
                raise _corrupt(object_id, remote, exc) from None
            result.bytes += len(data)
            meter.add(len(data), 1)
            if all(local.has(store, i) for i in needs):
                writer.add(object_id, data)
                added.append(object_id)
            else:
                walk.waiting[object_id] = data
                walk.add(needs)
        progress = True
        while progress:  # waiting objects whose chunks or base arrived in this pack
            ready = [i for i, data in walk.waiting.items() if _ready(store, i, data)]
            for object_id in ready:
                writer.add(object_id, walk.waiting.pop(object_id))
                added.append(object_id)
            progress = bool(ready)
        _verify(store, remote, added)
    result.objects += len(added)
    if added:
        crash_point("fetch-after-pack")
    return added


def _ready(store: ObjectStore, object_id: str, data: bytes) -> bool:
    """Everything the stored form needs (chunks, delta base) is here (or in the open pack)."""
    return all(local.has(store, i) for i in local.storage_links_of(object_id, data, store.keys))


def _verify(store: ObjectStore, remote: Remote, ids: list[str]) -> None:
    """Decode and hash each object: chunk lists last (they read their chunks, checked first)."""
    lists = [i for i in ids if local.is_chunk_list(store, i)]
    listed = set(lists)
    for object_id in [i for i in ids if i not in listed] + lists:
        try:
            local.verify(store, object_id)
        except (CorruptObject, ObjectNotFound) as exc:
            raise _corrupt(object_id, remote, exc) from None


def _links(store: ObjectStore, remote: Remote, object_id: str) -> list[str]:
    try:
        return local.structured_links(store, object_id)
    except (CorruptObject, ObjectNotFound) as exc:
        raise _corrupt(object_id, remote, exc) from None


def _corrupt(object_id: str, remote: Remote, exc: Exception) -> RemoteObjectCorrupt:
    return RemoteObjectCorrupt(
        f"object {object_id} from remote {remote.url} is corrupt ({exc}); it was not installed",
        object_id,
    )


def _download(
    remote: Remote, items: list[tuple[str, Location]], result: FetchObjectsResult
) -> Iterator[tuple[str, bytes]]:
    """(id, stored bytes) of each item, fetched by ranged GETs over adjacent entries."""

    def get(run: list[tuple[str, Location]]) -> list[tuple[str, bytes]]:
        start = run[0][1].offset
        end = max(loc.offset + loc.length for _, loc in run)
        data = remote.backend.get_range(pack_key(run[0][1].pack_id), start, end - start)
        if len(data) != end - start:
            raise RemoteObjectCorrupt(
                f"remote {remote.url}: pack {run[0][1].pack_id} is shorter than its index says", run[0][0]
            )
        return [(i, data[loc.offset - start : loc.offset - start + loc.length]) for i, loc in run]

    runs = _runs(items)
    result.requests += len(runs)
    for pieces in remote.map(get, runs, window=remote.jobs):  # at most jobs x RANGE_LIMIT in memory
        yield from pieces


def _runs(items: list[tuple[str, Location]]) -> list[list[tuple[str, Location]]]:
    """Group entries by pack into runs of nearby entries, each at most RANGE_LIMIT bytes."""
    ordered = sorted(items, key=lambda item: (item[1].pack_id, item[1].offset))
    runs: list[list[tuple[str, Location]]] = []
    for item in ordered:
        loc = item[1]
        if runs:
            last = runs[-1]
            first, prev = last[0][1], last[-1][1]
            if (
                prev.pack_id == loc.pack_id
                and loc.offset - (prev.offset + prev.length) <= RANGE_GAP
                and loc.offset + loc.length - first.offset <= RANGE_LIMIT
            ):
                last.append(item)
                continue
        runs.append([item])
    return runs
