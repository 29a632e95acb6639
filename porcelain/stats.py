"""Registry statistics: what is registered, and what dedup and compression save."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import porcelain.layout as layout
from pacha.codec import CHUNKS
from pacha.errors import ObjectNotFound
from porcelain.core import Core


@dataclass
class Stats:
    models: int = 0
    model_versions: int = 0
    datasets: int = 0
    dataset_versions: int = 0
    recipes: int = 0
    recipe_versions: int = 0
    objects: int = 0
    logical_bytes: int = 0  # every registered version's artifact, counted whole
    content_bytes: int = 0  # every distinct blob once, uncompressed
    blob_bytes_on_disk: int = 0  # those blobs as stored
    metadata_bytes: int = 0  # trees and records on disk
    stored_bytes: int = 0  # everything on disk

    @property
    def dedup_saving(self) -> int:
        return max(0, self.logical_bytes - self.content_bytes)

    @property
    def compression_saving(self) -> int:
        return max(0, self.content_bytes - self.blob_bytes_on_disk)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(dedup_saving=self.dedup_saving, compression_saving=self.compression_saving)
        return out


def collect(core: Core) -> Stats:
    """What is registered (names, versions, logical bytes) and what the store holds for it."""
    stats = Stats()
    for kind in layout.KINDS:
        names = set()
        versions = 0
        for ref, record_id in core.plumbing.refs.iter(layout.plural(kind) + "/"):
            names.add(layout.split_version_ref(kind, ref)[0])
            versions += 1
            stats.logical_bytes += core.read_record(record_id).size
        setattr(stats, f"{kind}s", len(names))
        setattr(stats, f"{kind}_versions", versions)
    store = core.plumbing.objects
    for object_id in store.iter_ids():
        found = _stored(store, object_id)
        if found is None:
            continue
        disk, info = found
        stats.objects += 1
        if info.kind == "blob" and info.encoding != CHUNKS:
            stats.content_bytes += info.size
            stats.blob_bytes_on_disk += disk
        else:  # trees, records, and the chunk lists of large blobs (their chunks count above)
            stats.metadata_bytes += disk
        stats.stored_bytes += disk
    return stats


def _stored(store: Any, object_id: str) -> tuple[int, Any] | None:
    """(bytes on disk, header info), or None for an object that gc removed since it was listed.

    A repack may move a loose object into a pack between looking and reading: look again."""
    for _ in range(3):
        try:
            return store.stored_size(object_id), store.stat(object_id)
        except FileNotFoundError:
            continue
        except ObjectNotFound:
            return None
    return None
