"""The `model`, `data` and `recipe` command groups: the commands they share, registered per kind.

Each shared command is a top-level function in a module named for it (porcelain/cli/versions/);
a group's own commands (register, card, validate, ...) are in the group's module.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from pacha.cli.app import new_app
from porcelain.cli.context import Kind
from porcelain.cli.versions import (
    delete,
    download,
    get,
    history,
    lineage,
    provenance,
    restore,
    stage,
    used_by,
    verify,
)
from porcelain.cli.versions import list as list_command

# subcommand -> (function, example), in the order `pacha model --help` lists them
EVERY_KIND: dict[str, tuple[Callable[..., None], str]] = {
    "list": (list_command.list_versions, list_command.EXAMPLE),
    "get": (get.get, get.EXAMPLE),
    "download": (download.download, download.EXAMPLE),
    "delete": (delete.delete, delete.EXAMPLE),
}
STAGED: dict[str, tuple[Callable[..., None], str]] = {  # models and datasets only
    "stage": (stage.stage, stage.EXAMPLE),
    "history": (history.history, history.EXAMPLE),
}
CHANGES: dict[str, tuple[Callable[..., None], str]] = {
    "verify": (verify.verify, verify.EXAMPLE),
    "restore": (restore.restore, restore.EXAMPLE),
    "used-by": (used_by.used_by, used_by.EXAMPLE),
}
TRACED: dict[str, tuple[Callable[..., None], str]] = {  # models and datasets only
    "provenance": (provenance.provenance, provenance.EXAMPLE),
}


def kind_app(kind: Kind, help_text: str, staged: bool = True) -> typer.Typer:
    """The command group of kind with the shared commands (stages and lineage if staged)."""
    app = new_app(
        help=help_text,
        no_args_is_help=True,
        context_settings={"obj": kind},  # what the shared commands act on: context.kind_of
    )
    tables = [EVERY_KIND, STAGED, CHANGES, TRACED] if staged else [EVERY_KIND, CHANGES]
    for table in tables:
        for name, (function, example) in table.items():
            app.command(name, epilog="Example: " + example.format(noun=kind.noun))(function)
    if staged:
        app.add_typer(lineage.lineage_app(kind), name="lineage")
    return app
