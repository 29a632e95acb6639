"""`pacha model|data|recipe download`: write a version's file or folder, verified."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from porcelain.cli._output import print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption, VersionOption
from porcelain.cli.version_view import version_json

EXAMPLE = "pacha {noun} download fraud-detector:1.0.0 -o model.apr"


def download(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME@STAGE, NAME or id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File or directory to write.")],
    version: VersionOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace OUTPUT if it holds other contents.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a version's file or folder, verified as written, all or nothing."""
    found, placed = open_porcelain().download_placed(
        kind_of(ctx).kind, reference, output, version=version, force=force
    )
    if as_json:
        print_json(dict(version_json(found), path=str(placed.path), written=placed.written))
    else:
        typer.echo(
            f"{found.ref} -> {placed.path}" + ("" if placed.written else " (already there; up to date)")
        )
