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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pacha.crash import crash_point
from pacha.errors import CorruptObject, ObjectNotFound
from pacha.transport import local
from pacha.transport.errors import RemoteMissingObject, RemoteObjectCorrupt
from pacha.transport.layout import pack_key
from pacha.transport.listhash import ListHash
from pacha.transport.progress import Meter
from pacha.transport.remote import Location, Remote, cache_dir

if TYPE_CHECKING:
    from pacha.crypto.unlock import RegistryKeys
    from pacha.registry import Registry
    from pacha.store import ObjectStore

# Bytes of received objects per local pack installed: what an interrupted fetch may fetch again,
# against one install (fsyncs, renames, a pack to open and index later) per this many bytes:
# 128 MiB makes 8 packs of a 1 GiB model (34 at 32 MiB), each at least repack.BIG_PACK, so the
# automatic repack after a pull merges only the small ones (records, a file's tail).
INSTALL_EVERY = 128 << 20
RANGE_LIMIT = 4 << 20  # bytes per ranged GET
RANGE_GAP = 64 << 10  # entries closer than this in a remote pack are fetched in one request


@dataclass
class FetchObjectsResult:
    objects: int = 0
    bytes: int = 0
    requests: int = 0


class Filter(Protocol):
    """Narrows the closure a receive walks (pacha.transport.partial: records without blobs)."""

    def links(self, store: ObjectStore, object_id: str) -> list[str]:
        """What to follow from a tree or record stored here."""
        ...

    def choose(self, wanted: list[str], where: dict[str, Location], required: set[str]) -> list[str]:
        """Which of the ids about to be downloaded to take (required: roots, chunks, bases)."""
        ...


class _Walk:
    """The closure being fetched: what is queued, seen, and waiting for what it needs."""

    def __init__(self, roots: Iterable[str], narrow: Filter | None = None) -> None:
        self.queue = sorted(set(roots))
        self.seen: set[str] = set()
        self.waiting: dict[str, local.Arrived] = {}  # received, not verifiable yet (chunk list, delta)
        self.structured: set[str] = set()  # received trees and records (followed once installed)
        self.hashes: dict[str, ListHash] = {}  # chunked files being hashed as their chunks arrive
        self.narrow = narrow
        self.required = set(self.queue)  # taken whatever a filter says: roots, and what they need
        self.pending: set[str] = set()  # requested and not added yet
        self.present: set[str] = set()  # found here (by _round) or added by this fetch
        self.blocked: dict[str, set[str]] = {}  # waiting id -> what it needs that is not here yet
        self.needed_by: dict[str, list[str]] = {}  # id -> waiting ids that need it
        # writes the local packs while this thread takes what arrives (PackWriter.background)
        self.writes = ThreadPoolExecutor(1, thread_name_prefix="pacha-write")

    def here(self, object_id: str) -> bool:
        """Is object_id known to be here (found by _round, or added)? An id not walked yet is
        not: _round looks it up when the walk reaches it, and unblocks what waits for it."""
        return object_id in self.present

    def leaves(self, item: local.Arrived) -> bool:
        """With a filter (records only), leave item on the remote (promised) if nothing required it
        and it needs objects that are not here: a chunked file's chunk list or a delta taken for
        being small is an artifact whose bytes are elsewhere, not a record."""
        if self.narrow is None or item.object_id in self.required or item.structured:
            return False
        if all(n in self.present for n in item.needs):
            return False
        self.pending.discard(item.object_id)
        return True

    def wait_for(self, item: local.Arrived) -> bool:
        """Keep item until what it needs is here; False if it is all here already."""
        missing = {n for n in item.needs if n not in self.present}
        if not missing:
            return False
        self.waiting[item.object_id] = item._replace(data=bytes(item.data))  # not its run's buffer
        self.blocked[item.object_id] = missing
        for need in missing:
            self.needed_by.setdefault(need, []).append(item.object_id)
        self.need(item.needs)
        return True

    def added(self, object_id: str) -> None:
        """object_id is here (in the store, or the pack being written): unblock what waited for it."""
        self.pending.discard(object_id)
        self.present.add(object_id)
        for waiter in self.needed_by.pop(object_id, ()):
            self.blocked.get(waiter, set()).discard(object_id)

    def ready(self) -> list[str]:
        """Waiting objects that have all they need now (taken out of waiting)."""
        out = [i for i, missing in self.blocked.items() if not missing]
        for object_id in out:
            del self.blocked[object_id]
        return out

    def add(self, ids: Iterable[str]) -> None:
        self.queue.extend(i for i in ids if i not in self.seen)

    def need(self, ids: Iterable[str]) -> None:
        """Storage links (chunks, delta base) of a received object: it cannot be installed without."""
        ids = list(ids)
        self.required.update(ids)
        self.add(ids)

    def links(self, store: ObjectStore, object_id: str) -> list[str]:
        if self.narrow is None:
            return local.structured_links(store, object_id)
        return self.narrow.links(store, object_id)


def receive(
    registry: Registry, remote: Remote, roots: Iterable[str], meter: Meter, narrow: Filter | None = None
) -> FetchObjectsResult:
    """Fetch the closure of roots that the local store lacks (see module doc)."""
    result = FetchObjectsResult()
    walk = _Walk(roots, narrow)
    try:
        _receive(registry, remote, walk, result, meter)
    finally:
        for hashed in walk.hashes.values():
            hashed.close()
        walk.writes.shutdown(wait=True)
    return result


def _receive(
    registry: Registry, remote: Remote, walk: _Walk, result: FetchObjectsResult, meter: Meter
) -> None:
    store = registry.objects
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
                if object_id in walk.structured:
                    walk.add(_links(store, remote, object_id, walk))
            continue
        wanted = _round(store, walk)
        where = _locate(registry, remote, wanted)
        if walk.narrow is not None:
            wanted = walk.narrow.choose(wanted, where, walk.required)
        walk.pending.update(wanted)
        meter.grow(sum(where[i].length for i in wanted), len(wanted))
        # one stream over the whole round: the next requests run while a pack is installed
        stream = _Batches(_download(remote, [(i, where[i]) for i in wanted], result, store.keys))
        while not stream.done:
            for object_id in _install(store, remote, stream.next_batch(), walk, result, meter):
                if object_id in walk.structured:
                    walk.add(_links(store, remote, object_id, walk))


def _round(store: ObjectStore, walk: _Walk) -> list[str]:
    """Take the queue: objects here are followed (records and trees: a chunk list or delta
    here has its chunks or base here); returns those to fetch. Each sweep of the queue looks
    its ids up together (local.present), not one by one."""
    wanted: list[str] = []
    while walk.queue:
        queue, walk.queue = walk.queue, []
        fresh = [i for i in dict.fromkeys(queue) if i not in walk.seen]
        here = local.present(store, fresh)
        for object_id in fresh:
            walk.seen.add(object_id)
            if object_id in here:
                walk.added(object_id)
                walk.add(walk.links(store, object_id))
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


class _Batches:
    """A stream of arrived objects cut into batches of about INSTALL_EVERY bytes (one local
    pack each), the stream itself running on across batches."""

    def __init__(self, stream: Iterator[local.Arrived]) -> None:
        self._stream = stream
        self._next: local.Arrived | None = next(stream, None)
        self.done = self._next is None

    def next_batch(self) -> Iterator[local.Arrived]:
        size = 0
        while self._next is not None and size < INSTALL_EVERY:
            item, size = self._next, size + len(self._next.data)
            self._next = next(self._stream, None)
            yield item
        self.done = self._next is None


def _install(
    store: ObjectStore,
    remote: Remote,
    stream: Iterator[local.Arrived],
    walk: _Walk,
    result: FetchObjectsResult,
    meter: Meter,
) -> list[str]:
    """Add what arrives (and what was waiting and is now ready) to one local pack; verify what
    was not verified on arrival, then install it. Returns the ids installed."""
    added: list[str] = []
    unverified: list[str] = []
    with local.receiving(store, walk.writes) as writer:
        for item in stream:
            result.bytes += len(item.data)
            meter.add(len(item.data), 1)
            if item.structured:
                walk.structured.add(item.object_id)
            if walk.leaves(item):  # a filter's walk: an artifact that needs more stays promised
                continue
            if walk.wait_for(item):
                if item.listed is not None:
                    walk.hashes[item.object_id] = ListHash(item.object_id, *item.listed)
                    _hash_along(store, walk, None)
                continue
            writer.add(item.object_id, item.data)
            walk.added(item.object_id)
            added.append(item.object_id)
            if not item.verified:
                unverified.append(item.object_id)
            _hash_along(store, walk, item)
        while ready := walk.ready():  # waiting objects whose chunks or base arrived in this pack
            for object_id in ready:
                writer.add(object_id, walk.waiting.pop(object_id).data)
                walk.added(object_id)
                added.append(object_id)
                hashed = walk.hashes.pop(object_id, None)
                if hashed is not None:  # its last chunks may have been found here since
                    hashed.advance(walk.here, lambda i: local.chunk_bytes(store, i))
                if hashed is None or not hashed.verified():  # else hashed whole as its chunks came
                    unverified.append(object_id)
        _verify(store, remote, unverified)
    result.objects += len(added)
    if added:
        crash_point("fetch-after-pack")
    return added


def _hash_along(store: ObjectStore, walk: _Walk, item: local.Arrived | None) -> None:
    """Feed the chunk just added (item) to the files waiting for it, then the chunks here already."""
    for hashed in walk.hashes.values():
        if item is not None and item.content is not None and hashed.next_id == item.object_id:
            hashed.feed(item.content)
        hashed.advance(walk.here, lambda i: local.chunk_bytes(store, i))


def _verify(store: ObjectStore, remote: Remote, ids: list[str]) -> None:
    """Decode and hash each object: chunk lists last (they read their chunks, checked first)."""
    lists = [i for i in ids if local.is_chunk_list(store, i)]
    listed = set(lists)
    for object_id in [i for i in ids if i not in listed] + lists:
        try:
            local.verify(store, object_id)
        except (CorruptObject, ObjectNotFound) as exc:
            raise _corrupt(object_id, remote, exc) from None


def _links(store: ObjectStore, remote: Remote, object_id: str, walk: _Walk) -> list[str]:
    try:
        return walk.links(store, object_id)
    except (CorruptObject, ObjectNotFound) as exc:
        raise _corrupt(object_id, remote, exc) from None


def _corrupt(object_id: str, remote: Remote, exc: Exception) -> RemoteObjectCorrupt:
    return RemoteObjectCorrupt(
        f"object {object_id} from remote {remote.url} is corrupt ({exc}); it was not installed",
        object_id,
    )


def _download(
    remote: Remote, items: list[tuple[str, Location]], result: FetchObjectsResult, keys: RegistryKeys
) -> Iterator[local.Arrived]:
    """Each item's stored bytes, fetched by ranged GETs over adjacent entries and checked (and,
    most, verified) in the thread that fetched them (local.check_arrived)."""

    def get(run: list[tuple[str, Location]]) -> list[local.Arrived]:
        start = run[0][1].offset
        end = max(loc.offset + loc.length for _, loc in run)
        data = remote.backend.get_range(pack_key(run[0][1].pack_id), start, end - start)
        if len(data) != end - start:
            raise RemoteObjectCorrupt(
                f"remote {remote.url}: pack {run[0][1].pack_id} is shorter than its index says", run[0][0]
            )
        out = []
        for object_id, loc in run:
            piece = memoryview(data)[loc.offset - start : loc.offset - start + loc.length]  # no copy
            try:
                out.append(local.check_arrived(object_id, piece, keys))
            except CorruptObject as exc:
                raise _corrupt(object_id, remote, exc) from None
        return out

    runs = _runs(items)
    result.requests += len(runs)
    # taken in walk order (a chunked file's chunks in file order, for its hash): at most jobs
    # requests in flight or waiting to be taken, so about jobs x RANGE_LIMIT bytes in memory
    for arrived in remote.map(get, runs, window=remote.jobs, ordered=True):
        yield from arrived


def _runs(items: list[tuple[str, Location]]) -> list[list[tuple[str, Location]]]:
    """Group entries by pack into runs of nearby entries, each at most RANGE_LIMIT bytes, in the
    order of items (each run where its first entry is)."""
    order = {object_id: n for n, (object_id, _) in enumerate(items)}
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
    runs.sort(key=lambda run: min(order[object_id] for object_id, _ in run))
    return runs
