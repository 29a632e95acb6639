"""pacha count-objects: how many objects, how much disk."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption, new_app, open_reg, write_out

app = new_app()


@app.command(
    help="Count stored objects and the disk they use; -v for a breakdown.",
    epilog="Example: pacha count-objects -v",
)
def count_objects(
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="One 'key: value' a line.")] = False,
    registry: RegistryOption = None,
) -> None:
    from pacha import codec
    from pacha.leftovers import scan
    from pacha.store.repack import pack_stats

    reg = open_reg(registry)
    store = reg.objects
    loose = store.loose
    count = disk = 0
    loose_encodings: dict[int, int] = {}
    for object_id in loose.iter_ids():
        count += 1
        disk += loose.disk_size(object_id)
        if verbose:
            encoding = loose.stat(object_id).encoding
            loose_encodings[encoding] = loose_encodings.get(encoding, 0) + 1
    if not verbose:
        write_out(f"{count} objects, {disk // 1024} kilobytes\n")
        return
    store.packs.refresh(force=True)
    packs = store.packs.packs
    deltas = loose_encodings.get(codec.DELTA, 0)
    chunked = loose_encodings.get(codec.CHUNKS, 0)
    for pack in packs:
        pack_deltas, pack_chunked = pack_stats(pack)
        deltas += pack_deltas
        chunked += pack_chunked
    garbage = list(loose.stray_files())
    leftovers = scan(store)
    tmp_files = list(os.scandir(loose.tmp_dir)) if loose.tmp_dir.is_dir() else []
    lines = {
        "count": count,
        "size": disk // 1024,
        "in-pack": sum(p.count for p in packs),
        "packs": len(packs),
        "packs-outside-midx": store.packs.uncovered,
        "size-pack": sum(p.disk_size() for p in packs) // 1024,
        "deltas": deltas,
        "chunked": chunked,
        "garbage": len(garbage),
        "size-garbage": sum(p.stat().st_size for p in garbage) // 1024,
        "tmp": len(tmp_files),
        "size-tmp": sum(e.stat().st_size for e in tmp_files) // 1024,
        # what interrupted operations left (pacha.leftovers; fsck names each, with its fix)
        "tmp-leftover": sum(item.kind == "temp" for item in leftovers),
        "orphan-packs": sum(item.kind == "orphan-pack" for item in leftovers),
        "size-orphan-packs": sum(item.size for item in leftovers if item.kind == "orphan-pack") // 1024,
        "stale-midx": sum(item.kind == "stale-midx" for item in leftovers),
        "damaged-packs": len(store.packs.damaged),
    }
    write_out("".join(f"{k}: {v}\n" for k, v in lines.items()))
