"""pacha write-tree: store a directory as tree and blob objects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli.app import new_app, write_out, writing_reg
from pacha.ignore import IgnoreRules
from pacha.trees import write_tree as store_tree

app = new_app()


@app.command(epilog="Example: pacha write-tree ./bert-base-uncased")
def write_tree(
    directory: Annotated[Path, typer.Argument(help="Directory to store.")],
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="Leave out the paths matching PATTERN (gitignore syntax, after DIR/.pachaignore), "
            "repeatable.",
        ),
    ] = None,
) -> None:
    """Store every file under DIR and print the id of its tree (leaving out what DIR/.pachaignore and
    --exclude match, and the registry itself)."""
    with writing_reg() as reg:
        # the registry itself is never stored, and a folder inside it is refused
        ignore = IgnoreRules.for_folder(directory, exclude or [], registry=reg.root)
        write_out(store_tree(reg.objects, directory, ignore=ignore) + "\n")
