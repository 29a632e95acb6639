"""pacha data: register, find, promote and download dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption
from porcelain.cli._versions import (
    ExcludeOption,
    FilenameOption,
    JsonOption,
    make_app,
    open_porcelain,
    report_registration,
)
from porcelain.errors import InvalidInput
from porcelain.versions.request import RegisterRequest

app = make_app("dataset", "data", "Register, find, promote and download dataset versions.")


@app.command(
    "register",
    epilog="Example: pacha data register transactions data.ald -v 1.0.0 -p 'Transaction data for fraud "
    "detection'",
)
def register(
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. transactions or team/transactions.")],
    path: Annotated[Path, typer.Argument(help="Data file or folder, or - for standard input.")],
    version: Annotated[
        str | None, typer.Option("-v", "--version", help="SemVer version, e.g. 1.2.0.")
    ] = None,
    bump: Annotated[
        str | None,
        typer.Option(
            "--bump",
            help="Next version from the latest: major, minor or patch (a new name starts at "
            "the datasheet's version or 1.0.0).",
        ),
    ] = None,
    purpose: Annotated[str, typer.Option("-p", "--purpose", help="Why the dataset was created.")] = "",
    datasheet: Annotated[
        Path | None, typer.Option("--datasheet", help="Datasheet (Gebru et al.) in TOML.")
    ] = None,
    derived_from: Annotated[
        list[str] | None, typer.Option("--derived-from", help="Source dataset version(s), repeatable.")
    ] = None,
    transform: Annotated[
        str | None, typer.Option("--transform", help="How it was derived from the sources.")
    ] = None,
    generated_by: Annotated[
        str | None, typer.Option("--generated-by", help="The tracked run that produced the data (run-001).")
    ] = None,
    message: Annotated[str, typer.Option("-m", "--message", help="Why, for the audit trail.")] = "",
    filename: FilenameOption = None,
    exclude: ExcludeOption = None,
    as_json: JsonOption = False,
    registry: RegistryOption = None,
) -> None:
    """Register a data file or folder as a new dataset version (it starts in development)."""
    from porcelain.cards.fields import load_toml

    request = RegisterRequest(
        kind="dataset",
        name=name,
        path=path,
        version=version,
        bump=bump,
        description=purpose,
        card=load_toml(datasheet, "datasheet") if datasheet else None,
        parents=derived_from,
        relation="derived" if derived_from else None,
        params={"transform": transform} if transform else None,
        run=generated_by,
        message=message,
        filename=filename,
        exclude=exclude,
    )
    if (derived_from or transform) and not (derived_from and transform):
        raise InvalidInput("--derived-from and --transform go together (the source and how it was made)")
    result = open_porcelain(registry).register(request)
    report_registration(result, "data", as_json)
