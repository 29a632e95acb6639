"""pacha write-ref: point a ref at an object, with compare-and-swap."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli._refargs import expected_old
from pacha.cli.app import new_app, open_reg
from pacha.errors import UsageError
from pacha.refs.names import check_ref_name

app = new_app()


@app.command(epilog="Example: pacha write-ref models/fraud-detector/1.0.0 4f1c --create -m 'register'")
def write_ref(
    name: Annotated[str, typer.Argument(help="Ref name, e.g. models/fraud-detector/1.0.0.")],
    spec: Annotated[str, typer.Argument(help="Id, prefix or ref name of the new target.")],
    old: Annotated[str | None, typer.Option("--old", help="Only if NAME points at this id now.")] = None,
    create: Annotated[bool, typer.Option("--create", help="Only if NAME does not exist yet.")] = False,
    message: Annotated[str, typer.Option("-m", "--message", help="Why, for the reflog.")] = "",
) -> None:
    """Point NAME at ID; --old or --create make it a compare-and-swap."""
    check_ref_name(name)
    if old is not None and create:
        raise UsageError("give --old or --create, not both")
    expected = expected_old(old) if old is not None else None
    reg = open_reg()
    new = reg.resolve(spec)
    with reg.transaction(message) as tx:
        if create or (old is not None and expected is None):
            tx.create(name, new)
        elif old is not None:
            tx.update(name, new, expected)
        else:
            tx.update(name, new)
