"""pacha count-objects: how many objects, how much disk."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from pacha import codec
from pacha.cli.app import new_app, open_reg, write_out
from pacha.errors import ObjectNotFound
from pacha.leftovers import scan
from pacha.store import ObjectStore
from pacha.store.repack import pack_stats

app = new_app()


@app.command(epilog="Example: pacha count-objects -v")
def count_objects(
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="One 'key: value' a line.")] = False,
) -> None:
    """Count stored objects and the disk they use; -v for a breakdown."""
    store = open_reg().objects
    count, disk, loose_encodings = _count_loose(store, verbose)
    if not verbose:
        write_out(f"{count} objects, {disk // 1024} kilobytes\n")
        return
    lines = {"count": count, "size": disk // 1024, **_breakdown(store, loose_encodings)}
    write_out("".join(f"{k}: {v}\n" for k, v in lines.items()))


def _count_loose(store: ObjectStore, encodings: bool) -> tuple[int, int, dict[int, int]]:
    """(loose objects, their disk bytes, {body encoding: objects} if encodings else {0: all})."""
    loose = store.loose
    count = disk = 0
    by_encoding: dict[int, int] = {}
    # Other processes write, pack and remove files while this counts: a file that is gone
    # by the time it is looked at is not counted (a repack moved it into a pack).
    for object_id in loose.iter_ids():
        try:
            size = loose.disk_size(object_id)
            encoding = store.stat(object_id).encoding if encodings else 0  # an envelope's inner one
        except (FileNotFoundError, ObjectNotFound):
            continue
        count += 1
        disk += size
        by_encoding[encoding] = by_encoding.get(encoding, 0) + 1
    return count, disk, by_encoding


def _breakdown(store: ObjectStore, loose_encodings: dict[int, int]) -> dict[str, int]:
    """The -v lines after count and size: packs, deltas, garbage, temp files, leftovers (KiB sizes)."""
    store.packs.refresh(force=True)
    packs = []
    deltas = loose_encodings.get(codec.DELTA, 0)
    chunked = loose_encodings.get(codec.CHUNKS, 0)
    pack_bytes = 0
    for pack in store.packs.packs:
        try:
            pack_deltas, pack_chunked = pack_stats(pack)
            pack_bytes += pack.disk_size()
        except FileNotFoundError:
            if pack.index_path.exists():
                raise
            continue  # removed by a repack or gc since it was listed: its objects are elsewhere
        packs.append(pack)
        deltas += pack_deltas
        chunked += pack_chunked
    loose = store.loose
    garbage = _sizes(loose.stray_files())
    tmp_files = _sizes(Path(e.path) for e in os.scandir(loose.tmp_dir)) if loose.tmp_dir.is_dir() else []
    leftovers = scan(store)
    return {
        "in-pack": sum(p.count for p in packs),
        "packs": len(packs),
        "packs-outside-midx": store.packs.uncovered,
        "size-pack": pack_bytes // 1024,
        "deltas": deltas,
        "chunked": chunked,
        "garbage": len(garbage),
        "size-garbage": sum(garbage) // 1024,
        "tmp": len(tmp_files),
        "size-tmp": sum(tmp_files) // 1024,
        # what interrupted operations left (pacha.leftovers; fsck names each, with its fix)
        "tmp-leftover": sum(item.kind == "temp" for item in leftovers),
        "orphan-packs": sum(item.kind == "orphan-pack" for item in leftovers),
        "size-orphan-packs": sum(item.size for item in leftovers if item.kind == "orphan-pack") // 1024,
        "stale-midx": sum(item.kind == "stale-midx" for item in leftovers),
        "damaged-packs": len(store.packs.damaged),
    }


def _sizes(paths: Iterable[Path]) -> list[int]:
    """The size of each file that still exists (temp files come and go while writers run)."""
    out = []
    for path in paths:
        try:
            out.append(path.stat().st_size)
        except FileNotFoundError:
            continue
    return out
