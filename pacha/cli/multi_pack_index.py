"""pacha multi-pack-index: write or check the index of which pack holds each id."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out, writing_reg
from pacha.errors import InvalidInput
from pacha.store.midx import MIDX_AFTER, check_midx
from pacha.store.repack import rewrite_midx

app = new_app()


@app.command(epilog="Example: pacha multi-pack-index write; pacha multi-pack-index verify")
def multi_pack_index(
    action: Annotated[str, typer.Argument(help="'write' or 'verify'.", metavar="write|verify")],
) -> None:
    """Write (or with 'verify', check) the multi-pack index: one sorted table of the ids of every pack, so
    a lookup does not try each pack. Repack, gc and registrations keep it current."""
    import sys

    if action not in ("write", "verify"):
        raise InvalidInput(f"unknown action {action!r}: use 'write' or 'verify'")
    if action == "write":
        with writing_reg() as reg:
            store = reg.objects
            path = rewrite_midx(store)
        count = len(store.packs.packs)
        write_out(
            f"{path}: {count} packs\n"
            if path
            else f"no multi-pack index: {count} pack(s), fewer than {MIDX_AFTER}\n"
        )
        return
    store = open_reg().objects
    store.packs.refresh(force=True)
    midx, problems = check_midx(store.packs.dir, list(store.packs.packs))
    if midx is not None:
        state = "ok" if not problems else "bad"
        write_out(f"{midx.path}: {state} ({midx.count} ids, {len(midx.pack_names)} packs)\n")
    elif not problems:
        write_out("no multi-pack index\n")
    for problem in problems:
        sys.stderr.write(f"error: {problem}\n")
    if problems:
        raise typer.Exit(1)
