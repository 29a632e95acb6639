"""pacha checkout-object: write a blob to a file or a tree to a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.checkout_files import checkout
from pacha.cli.app import new_app, open_reg

app = new_app()


@app.command(epilog="Example: pacha checkout-object models/bert/1.0.0 ./bert")
def checkout_object(
    spec: Annotated[str, typer.Argument(help="Id, prefix or ref name of a blob or tree.")],
    path: Annotated[Path, typer.Argument(help="File or directory to create.")],
    force: Annotated[bool, typer.Option("-f", "--force", help="Replace PATH if it exists.")] = False,
) -> None:
    """Write a blob to a file or a tree to a directory, verified, all or nothing."""
    reg = open_reg()
    checkout(reg.objects, reg.resolve(spec), path, force=force)
