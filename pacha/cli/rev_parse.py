"""pacha rev-parse: turn ids, prefixes, ref names and NAME@{N} into full ids."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out

app = new_app()


@app.command(epilog="Example: pacha rev-parse models/fraud-detector/1.0.0@{1}")
def rev_parse(
    specs: Annotated[list[str], typer.Argument(help="What to resolve.")],
    short: Annotated[bool, typer.Option("--short", help="Print 12-character prefixes.")] = False,
) -> None:
    """Print the full object id each SPEC names (id, unique prefix >= 4, ref, REF@{N})."""
    reg = open_reg()
    for spec in specs:
        object_id = reg.resolve(spec)
        write_out((object_id[:12] if short else object_id) + "\n")
