"""pacha data: register, find, promote and download dataset versions.

The commands every kind shares (list, get, stage, lineage, ...) are in porcelain/cli/versions/,
one module each; this module adds the dataset's own: register.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.errors import UsageError
from porcelain.cards.fields import load_toml
from porcelain.cli.context import DATA, open_porcelain
from porcelain.cli.kind_group import kind_app
from porcelain.cli.options import (
    ExcludeOption,
    FilenameOption,
    JsonOption,
    MessageOption,
    SemverOption,
    SignOption,
)
from porcelain.cli.version_view import report_registration
from porcelain.versions.request import RegisterRequest

app = kind_app(DATA, "Register, find, promote and download dataset versions.")

NameArgument = Annotated[str, typer.Argument(help="Dataset name, e.g. transactions or team/transactions.")]
PathArgument = Annotated[Path, typer.Argument(help="Data file or folder, or - for standard input.")]
BumpOption = Annotated[
    str | None,
    typer.Option(
        "--bump",
        help="Next version from the latest: major, minor or patch (a new name starts at "
        "the datasheet's version or 1.0.0).",
    ),
]
PurposeOption = Annotated[str, typer.Option("-p", "--purpose", help="Why the dataset was created.")]
DatasheetOption = Annotated[
    Path | None, typer.Option("--datasheet", help="Datasheet (Gebru et al.) in TOML.")
]
DerivedFromOption = Annotated[
    list[str] | None, typer.Option("--derived-from", help="Source dataset version(s), repeatable.")
]
TransformOption = Annotated[
    str | None, typer.Option("--transform", help="How it was derived from the sources.")
]
GeneratedByOption = Annotated[
    str | None, typer.Option("--generated-by", help="The tracked run that produced the data (run-001).")
]


@app.command(
    "register",
    epilog="Example: pacha data register transactions data.ald -v 1.0.0 -p 'Transaction data for fraud "
    "detection'",
)
def register(
    name: NameArgument,
    path: PathArgument,
    version: SemverOption = None,
    bump: BumpOption = None,
    purpose: PurposeOption = "",
    datasheet: DatasheetOption = None,
    derived_from: DerivedFromOption = None,
    transform: TransformOption = None,
    generated_by: GeneratedByOption = None,
    message: MessageOption = "",
    filename: FilenameOption = None,
    exclude: ExcludeOption = None,
    sign: SignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a data file or folder as a new dataset version (it starts in development)."""
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
        sign=sign,
    )
    if (derived_from or transform) and not (derived_from and transform):
        raise UsageError("--derived-from and --transform go together (the source and how it was made)")
    result = open_porcelain().register(request)
    report_registration(result, "data", as_json)
