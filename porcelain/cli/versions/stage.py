"""`pacha model|data stage`: move a version to another lifecycle stage."""

from __future__ import annotations

from typing import Annotated

import typer

from porcelain.cli._output import print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import (
    JsonOption,
    LatestOption,
    MessageOption,
    SignOption,
    VersionOption,
    explicit,
)
from porcelain.cli.version_view import transition_json

EXAMPLE = "pacha {noun} stage fraud-detector -v 1.0.0 -t production"


def stage(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME -v VER, NAME --latest or id.")],
    target: Annotated[str, typer.Option("-t", "--to", help="development, staging, production or archived.")],
    version: VersionOption = None,
    latest: LatestOption = False,
    message: MessageOption = "",
    keep_existing: Annotated[
        bool, typer.Option("--keep-existing", help="Leave the current production version there.")
    ] = False,
    sign: SignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a version to another lifecycle stage (recorded: who, when, why; --sign: signed)."""
    reference = explicit(reference, version, latest)
    moves = open_porcelain().set_stage(
        kind_of(ctx).kind, reference, target, version=version, why=message, keep_existing=keep_existing,
        sign=sign,
    )  # fmt: skip
    if as_json:
        print_json([transition_json(move) for move in moves])
        return
    for move in moves:
        typer.echo(f"{move.name}:{move.version}: {move.from_stage} -> {move.to_stage}")
