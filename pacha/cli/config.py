"""pacha config: read and change registry settings in config.toml."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.errors import InvalidInput

app = new_app()


@app.command(epilog="Example: pacha config user.name 'Ada Lovelace'")
def config(
    key: Annotated[str | None, typer.Argument(help="SECTION.NAME, e.g. user.email")] = None,
    value: Annotated[str | None, typer.Argument(help="New value; omit to print the current one.")] = None,
    unset: Annotated[bool, typer.Option("--unset", help="Remove KEY.")] = False,
    list_all: Annotated[bool, typer.Option("-l", "--list", help="Print every setting.")] = False,
) -> None:
    """Get, set or list registry settings (config.toml; comments are kept)."""
    cfg = open_reg().config
    if list_all or key is None:
        for name, current in cfg.items():
            write_out(f"{name}={_show(current)}\n")
        return
    if unset:
        if value is not None:
            raise InvalidInput("--unset takes only KEY")
        if not cfg.unset(key):
            raise typer.Exit(1)
        return
    if value is None:
        current = cfg.get(key)
        if current is None:
            raise typer.Exit(1)
        write_out(f"{_show(current)}\n")
        return
    cfg.set(key, value)


def _show(value: object) -> str:
    """A value as config.toml spells it, so that what is printed can be given back to set it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        import json

        return json.dumps(value, ensure_ascii=False)  # a TOML array of strings (or numbers)
    return str(value)
