"""pacha data: register, find, promote and download dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption
from porcelain.cli._versions import JsonOption, make_app, open_porcelain, show_version, version_json

app = make_app("dataset", "data", "Register, find, promote and download dataset versions.")


@app.command(
    "register",
    epilog="Example: pacha data register transactions data.ald -v 1.0.0 -p 'Transaction data for fraud "
    "detection'",
)
def register(
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. transactions or team/transactions.")],
    path: Annotated[Path, typer.Argument(help="Data file or folder.")],
    version: Annotated[
        str | None, typer.Option("-v", "--version", help="SemVer version, e.g. 1.2.0.")
    ] = None,
    bump: Annotated[
        str | None,
        typer.Option("--bump", help="Next version from the latest: major, minor or patch."),
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
    message: Annotated[str, typer.Option("-m", "--message", help="Why, for the audit trail.")] = "",
    as_json: JsonOption = False,
    registry: RegistryOption = None,
) -> None:
    """Register a data file or folder as a new dataset version (it starts in development)."""
    from porcelain.cli._output import print_json
    from porcelain.errors import InvalidInput
    from porcelain.lineage import build_edges

    reg = open_porcelain(registry)
    parents = []
    if derived_from or transform:
        if not derived_from or not transform:
            raise InvalidInput("--derived-from and --transform go together (source and how it was made)")
        parents = [
            edge
            for source in reg.resolve_parents("dataset", derived_from)
            for edge in build_edges("dataset", "derived", [source], {"transform": transform})
        ]
    from porcelain.cards import load_toml, validate_datasheet
    from porcelain.schema_infer import infer

    sheet = infer(Path(path)) or {}
    if datasheet:
        sheet.update(validate_datasheet(load_toml(datasheet, "datasheet"), str(datasheet)))
    if purpose:
        sheet["purpose"] = purpose
    result = reg.register(
        "dataset",
        name,
        path,
        version=version,
        bump=bump,
        description=sheet.get("purpose", ""),
        card=sheet,
        parents=parents,
        message=message,
    )
    if as_json:
        print_json(dict(version_json(result.version), created=result.created))
    elif result.created:
        typer.echo(f"registered {result.version.ref} ({result.version.record_id[:12]}) in development")
        show_version(result.version, "data")
    else:
        typer.echo(f"{result.version.ref} is already registered with these bytes; nothing changed")
