"""pacha show-index: list what a pack index says."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.store.pack import Pack
from pacha.store.repack import find_pack

app = new_app()


@app.command(epilog="Example: pacha show-index .pacha/objects/pack/pack-1a2b….idx")
def show_index(
    pack: Annotated[str, typer.Argument(help="An index or pack file, or a pack id (prefix).")],
) -> None:
    """Print each entry of a pack index: offset, id, stored length (id order)."""
    from pathlib import Path

    path = Path(pack)
    if path.suffix in (".idx", ".pack") and path.exists():
        found = Pack(path.with_suffix(".idx"))  # any pack file: no registry needed
    else:
        found = find_pack(open_reg().objects, pack)
    lines = []
    for i in range(found.count):
        entry = found.entry_at(i)
        lines.append(f"{entry.offset} {found.id_at(i)} ({entry.length})\n")
    write_out("".join(lines))
