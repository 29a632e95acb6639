"""Fetching records without artifact bytes: a partial fetch, as Git's `--filter=blob:none`.

A lazy registry wants every record (versions, cards, lineage edges, runs, recipes) and every
tree at clone, fetch and pull, so that listing, showing and tracing work offline, and the
bytes of artifacts (blobs: files, their chunks and delta bases) only when something reads
them. The closure walk is receive's (pacha.transport.receive), with two changes:

- a tree is followed into its subtrees only: its other entries say they are blobs;
- a record's links do not say what they name. One whose stored length (read from the remote's
  pack index) is at most `blob_limit` is fetched whole, blob or not (like Git's `blob:limit`:
  a recipe's TOML, a run's metric series come along; the cost is that of the request the
  records need anyway). A longer one has its header read first (a ranged GET of
  codec.MAX_HEADER_LEN bytes, several at once) and is left on the remote if it is a blob.

The roots themselves are always fetched (with what they need to be read: chunks, delta base),
so fetch_records([blob]) is how a reader gets one missing artifact.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pacha import codec
from pacha import objects as kinds
from pacha.errors import CorruptObject
from pacha.transport import local, sealed
from pacha.transport.errors import RemoteObjectCorrupt
from pacha.transport.layout import pack_key
from pacha.transport.progress import Meter, ProgressCallback
from pacha.transport.receive import FetchObjectsResult, receive
from pacha.transport.remote import Location, Remote

if TYPE_CHECKING:
    from pacha.registry import Registry
    from pacha.store import ObjectStore

__all__ = ["BLOB_LIMIT", "RecordsOnly", "fetch_records"]

BLOB_LIMIT = 64 << 10  # bytes (stored) up to which a record's link is fetched without asking its kind


def fetch_records(
    registry: Registry,
    remote: Remote,
    roots: Iterable[str],
    *,
    blob_limit: int = BLOB_LIMIT,
    progress: ProgressCallback | None = None,
) -> FetchObjectsResult:
    """The records and trees of the roots' closure that the local store lacks (see module doc).

    roots: object ids (ref values, or the one object a reader misses), fetched whatever their
    kind. Every object is verified on arrival; RemoteObjectCorrupt names a damaged one."""
    sealed.before_fetch(registry, remote)  # encrypted remotes: same keys, or a keyring to adopt
    return receive(registry, remote, roots, Meter("receive", progress), RecordsOnly(remote, blob_limit))


class RecordsOnly:
    """The filter receive() applies to the closure walk (see module doc)."""

    def __init__(self, remote: Remote, blob_limit: int) -> None:
        self.remote = remote
        self.blob_limit = blob_limit

    def links(self, store: ObjectStore, object_id: str) -> list[str]:
        """What to follow from an object stored here: a tree's subtrees, a record's links."""
        info = store.stat(object_id)
        if info.kind == kinds.TREE:
            tree = kinds.decode_tree(store.read(object_id))
            return [e.id for e in tree.entries if e.kind == kinds.TREE]
        return local.structured_links(store, object_id)

    def choose(self, wanted: list[str], where: dict[str, Location], required: set[str]) -> list[str]:
        """Of the ids to download, those that are records or trees (or required: roots, chunks and
        bases of objects being fetched, or small enough to take without asking)."""
        keep = [i for i in wanted if i in required or where[i].length <= self.blob_limit]
        ask = [i for i in wanted if i not in required and where[i].length > self.blob_limit]
        if ask:
            kept = {
                i
                for i, kind in self.remote.map(lambda i: (i, self._kind(i, where[i])), ask)
                if kind != kinds.BLOB
            }
            keep += [i for i in ask if i in kept]
        return keep

    def _kind(self, object_id: str, loc: Location) -> str:
        """The kind an entry's header names (one ranged GET of the header's bytes)."""
        head = self.remote.backend.get_range(
            pack_key(loc.pack_id), loc.offset, min(loc.length, codec.MAX_HEADER_LEN)
        )
        try:
            return codec.parse_header(head, object_id).kind
        except CorruptObject as exc:
            raise RemoteObjectCorrupt(
                f"object {object_id} from remote {self.remote.url} is corrupt ({exc}); it was not installed",
                object_id,
            ) from None
