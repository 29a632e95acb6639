"""pacha verify: re-check a version's artifact, record and whole ancestry by hash."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption, new_app
from porcelain.cli._versions import VersionOption, open_porcelain

app = new_app()


@app.command(
    help="Re-check a model, dataset or recipe version, or a run: record, artifact, ancestry, by hash.",
    epilog="Example: pacha verify fraud-detector:1.0.0",
)
def verify(
    reference: Annotated[
        str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest, run-NNN or record id.")
    ],
    version: VersionOption = None,
    registry: RegistryOption = None,
) -> None:
    found, count, problems = open_porcelain(registry).verify(None, reference, version)
    for problem in problems:
        sys.stderr.write(f"error: {problem}\n")
    if problems:
        sys.stderr.write(f"{found.ref}: {len(problems)} problem(s) in {count} objects\n")
        raise typer.Exit(1)
    typer.echo(f"{found.ref}: ok ({count} objects: record, artifact and ancestry verified)")
