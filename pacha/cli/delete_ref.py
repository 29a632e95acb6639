"""pacha delete-ref: remove a ref (its reflog is kept as the audit trail)."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli._refargs import expected_old
from pacha.cli.app import new_app, open_reg
from pacha.errors import InvalidInput
from pacha.refs.names import check_ref_name

app = new_app()


@app.command(epilog="Example: pacha delete-ref models/fraud-detector/0.9.0 -m 'withdrawn'")
def delete_ref(
    name: Annotated[str, typer.Argument(help="Ref name.")],
    old: Annotated[str | None, typer.Option("--old", help="Only if NAME points at this id now.")] = None,
    message: Annotated[str, typer.Option("-m", "--message", help="Why, for the reflog.")] = "",
    expire: Annotated[
        bool,
        typer.Option("--expire", help="Its reflog stays as a record but no longer keeps objects from gc."),
    ] = False,
) -> None:
    """Delete NAME; with --old only if it points at that id. The reflog is kept."""
    check_ref_name(name)
    reg = open_reg()
    with reg.transaction(message) as tx:
        if old is None:
            tx.delete(name, expire=expire)
        else:
            expected = expected_old(old)
            if expected is None:
                raise InvalidInput("--old must be the id the ref points at, not the zero id")
            tx.delete(name, expected, expire=expire)
