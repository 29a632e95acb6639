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
    reg = open_reg(registry)
    loose = reg.objects.loose
    count = disk = 0
    for object_id in loose.iter_ids():
        count += 1
        disk += loose.disk_size(object_id)
    if not verbose:
        write_out(f"{count} objects, {disk // 1024} kilobytes\n")
        return
    garbage = list(loose.stray_files())
    tmp_files = list(os.scandir(loose.tmp_dir)) if loose.tmp_dir.is_dir() else []
    lines = {
        "count": count,
        "size": disk // 1024,
        "in-pack": 0,
        "packs": 0,
        "size-pack": 0,
        "garbage": len(garbage),
        "size-garbage": sum(p.stat().st_size for p in garbage) // 1024,
        "tmp": len(tmp_files),
        "size-tmp": sum(e.stat().st_size for e in tmp_files) // 1024,
    }
    write_out("".join(f"{k}: {v}\n" for k, v in lines.items()))
