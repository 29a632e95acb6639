"""`pacha model|data|recipe delete`: remove a version's refs (objects and audit trail stay)."""

from __future__ import annotations

from typing import Annotated

import typer

from porcelain.cli._output import print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption, LatestOption, MessageOption, VersionOption, explicit
from porcelain.cli.version_view import version_json

EXAMPLE = "pacha {noun} delete fraud-detector:0.9.0 -m 'withdrawn'"


def delete(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME -v VER, NAME --latest or id.")],
    version: VersionOption = None,
    latest: LatestOption = False,
    force: Annotated[bool, typer.Option("--force", help="Delete even a production version.")] = False,
    message: MessageOption = "",
    as_json: JsonOption = False,
) -> None:
    """Remove a version's refs (its objects and audit trail stay; `restore` brings it back)."""
    reference = explicit(reference, version, latest)
    found = open_porcelain().delete(kind_of(ctx).kind, reference, version=version, force=force, why=message)
    if as_json:
        print_json(dict(version_json(found), deleted=True))
    else:
        typer.echo(f"deleted {found.ref} (was in {found.stage})")
