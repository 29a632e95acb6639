"""pacha write-tree: store a directory as tree and blob objects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption, new_app, write_out, writing_reg

app = new_app()


@app.command(
    help="Store every file under DIR and print the id of its tree.",
    epilog="Example: pacha write-tree ./bert-base-uncased",
)
def write_tree(
    directory: Annotated[Path, typer.Argument(help="Directory to store.")],
    registry: RegistryOption = None,
) -> None:
    from pacha.trees import write_tree as store_tree

    with writing_reg(registry) as reg:
        write_out(store_tree(reg.objects, directory) + "\n")
