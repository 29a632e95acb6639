"""pacha read-ref: print the id a ref points at."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.errors import RefNotFound

app = new_app()


@app.command(epilog="Example: pacha read-ref models/fraud-detector/1.0.0")
def read_ref(
    name: Annotated[str, typer.Argument(help="Ref name.")],
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No message when missing.")] = False,
) -> None:
    """Print the id NAME points at; exit 1 if there is no such ref."""
    reg = open_reg()
    try:
        write_out(reg.refs.resolve(name) + "\n")
    except RefNotFound:
        if quiet:
            raise typer.Exit(1) from None
        raise
