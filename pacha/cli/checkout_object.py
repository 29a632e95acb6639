"""pacha checkout-object: write a blob to a file or a tree to a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption, new_app, open_reg

app = new_app()


@app.command(
    help="Write a blob to a file or a tree to a directory, verified, all or nothing.",
    epilog="Example: pacha checkout-object models/bert/1.0.0 ./bert",
)
def checkout_object(
    spec: Annotated[str, typer.Argument(help="Id, prefix or ref name of a blob or tree.")],
    path: Annotated[Path, typer.Argument(help="File or directory to create.")],
    force: Annotated[bool, typer.Option("-f", "--force", help="Replace PATH if it exists.")] = False,
    registry: RegistryOption = None,
) -> None:
    from pacha.checkout_files import checkout

    reg = open_reg(registry)
    checkout(reg.objects, reg.resolve(spec), path, force=force)
