"""pacha index-pack: rebuild a pack's index from the pack (as `git index-pack`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.store.index_pack import index_pack as rebuild

app = new_app()


@app.command(epilog="Example: pacha index-pack .pacha/objects/pack/pack-1a2b….pack")
def index_pack(
    packs: Annotated[list[Path], typer.Argument(help="Pack files (.pack; a .idx names its pack).")],
) -> None:
    """Rebuild the index of a pack from the pack itself (a damaged or missing .idx); prints its path."""
    reg = open_reg()
    with reg.writing():  # gc must not remove the temp index, nor a pack being indexed
        for pack in packs:
            write_out(f"{rebuild(reg.objects, pack)}\n")
