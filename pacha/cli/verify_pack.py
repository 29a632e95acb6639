"""pacha verify-pack: check a pack and its index, and every object in it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pacha import codec
from pacha.cli.app import new_app, open_reg, write_out
from pacha.fsck_checks import pack_file_problems
from pacha.store.copies import Copy, verify_copy
from pacha.store.repack import find_pack
from pacha.verify import check_object

app = new_app()


@app.command(epilog="Example: pacha verify-pack -v .pacha/objects/pack/pack-1a2b….idx")
def verify_pack(
    packs: Annotated[
        list[str] | None, typer.Argument(help="Pack files (.pack/.idx) or pack ids; default: all.")
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("-v", "--verbose", help="List each object: id kind size stored-size offset encoding."),
    ] = False,
) -> None:
    """Check packs (index checksum, pack id, order, bounds) and verify every object; exit 1 if bad."""

    reg = open_reg()
    store = reg.objects
    if packs:
        chosen = [find_pack(store, name) for name in packs]
    else:
        store.packs.refresh(force=True)
        chosen = list(store.packs.packs)
    bad = 0
    if not packs:  # packs set aside when opened: damaged
        for name, why in sorted(store.packs.damaged.items()):
            sys.stderr.write(f"error: {why}\n")
            write_out(f"{store.packs.dir / name}: bad (set aside)\n")
            bad += 1
    for pack in chosen:
        problems = pack_file_problems(pack)
        if problems is None:  # removed by a repack or gc since it was listed: its objects live on
            continue
        for i in range(pack.count):
            object_id = pack.id_at(i)
            entry = pack.entry_at(i)
            header = codec.parse_header(pack.read_at(entry.offset, codec.MAX_HEADER_LEN), object_id)
            if store.loose.has(object_id):  # readers take the loose copy: check this one itself
                problem = verify_copy(store, object_id, Copy(pack, i))
            else:
                problem = check_object(store, object_id).problem
            if problem:
                problems.append(problem)
            if verbose:
                name = codec.ENCODING_NAMES[header.encoding]
                write_out(f"{object_id} {header.kind} {header.size} {entry.length} {entry.offset} {name}\n")
        for problem in problems:
            sys.stderr.write(f"error: {problem}\n")
        bad += len(problems)
        write_out(f"{pack.path}: {'ok' if not problems else 'bad'} ({pack.count} objects)\n")
    if bad:
        raise typer.Exit(1)
