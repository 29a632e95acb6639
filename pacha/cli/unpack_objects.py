"""pacha unpack-objects: turn a pack's objects into loose objects."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, write_out, writing_reg
from pacha.errors import InvalidInput
from pacha.store.pack import remove_pack
from pacha.store.repack import find_pack, unpack

app = new_app()


@app.command(epilog="Example: pacha unpack-objects /mnt/usb/pack-1a2b….pack")
def unpack_objects(
    pack: Annotated[str, typer.Argument(help="A pack or index file, or one of this registry's pack ids.")],
    delete: Annotated[
        bool, typer.Option("-d", "--delete", help="Remove the pack afterwards (only one of this registry's).")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No summary.")] = False,
) -> None:
    """Write every object of a pack (with its .idx beside it) as a loose object; -d removes the pack."""
    import sys

    with writing_reg() as reg:
        store = reg.objects
        found = find_pack(store, pack)
        written = unpack(store, found)
        if delete:
            if found.index_path.parent.resolve() != store.packs.dir.resolve():
                raise InvalidInput(f"{found.path} is not one of this registry's packs: it was left in place")
            remove_pack(found)
            store.forget_packs()
    if not quiet:
        sys.stderr.write(f"unpacked {written} new object(s) of {found.count} from {found.name}\n")
    write_out("")
