"""pacha pack-objects: put the objects named on stdin into one new pack."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, write_out, writing_reg
from pacha.errors import ObjectNotFound
from pacha.ids import check_id
from pacha.store.repack import pack_objects as write_pack

app = new_app()


@app.command(epilog="Example: pacha for-each-ref --format '%(objectname)' | pacha pack-objects")
def pack_objects(
    null: Annotated[bool, typer.Option("-z", help="Ids on stdin end with NUL, not newline.")] = False,
) -> None:
    """Write the objects whose ids are on stdin (one a line) into a new pack; print its name."""
    import sys

    with writing_reg() as reg:
        data = sys.stdin.buffer.read().decode()
        ids = [check_id(line.strip()) for line in data.split("\0" if null else "\n") if line.strip()]
        for object_id in ids:
            if not reg.objects.has(object_id):
                raise ObjectNotFound(f"object {object_id} not found: nothing was packed")
        index = write_pack(reg.objects, ids)
        if index is not None:
            write_out(f"{index.stem}\n")
