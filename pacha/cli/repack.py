"""pacha repack: gather loose objects and packs into one pack."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, writing_reg
from pacha.leftovers import clean
from pacha.refs.integrity import write_snapshot
from pacha.store.repack import repack as run_repack

app = new_app()


@app.command(epilog="Example: pacha repack && pacha count-objects -v; pacha repack --geometric 2")
def repack(
    geometric: Annotated[
        int | None,
        typer.Option(
            "--geometric",
            min=2,
            help="Merge only the smallest packs (and loose objects), so that each pack left is at "
            "least FACTOR times all smaller ones together; packs of 64 MiB or more stay.",
            metavar="FACTOR",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No summary.")] = False,
) -> None:
    """Move every loose object and every pack into one pack (deltas and chunk lists kept as stored)."""
    import sys

    with writing_reg() as reg:
        cleaned = clean(reg.objects)  # complete or clear what an interrupted repack or write left
        report = run_repack(reg.objects, geometric=geometric)
    try:
        write_snapshot(reg)  # the refs as of now: what `pacha fsck --recover-refs` restores from
    except OSError as exc:
        sys.stderr.write(f"pacha: warning: ref snapshot not written ({exc.strerror}); the repack stands\n")
    if not quiet and (cleaned.packs_indexed or cleaned.temp_removed or cleaned.midx_rewritten):
        sys.stderr.write(
            f"cleared leftovers: indexed {cleaned.packs_indexed} pack(s) without an index, removed "
            f"{cleaned.temp_removed} temp file(s) of dead writers"
            f"{', rewrote the stale multi-pack index' if cleaned.midx_rewritten else ''}\n"
        )
    if not quiet:
        where = report.pack.stem if report.pack else "nothing to do"
        sys.stderr.write(
            f"packed {report.packed} object(s) into {where}; removed {report.loose_removed} loose "
            f"object(s) and {report.packs_removed} pack(s)\n"
        )
