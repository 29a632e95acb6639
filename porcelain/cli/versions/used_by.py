"""`pacha model|data|recipe used-by`: the versions and runs that used a version."""

from __future__ import annotations

from typing import Annotated

import typer

from porcelain.cli._output import print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption, VersionOption
from porcelain.errors import InvalidInput
from porcelain.lineage.usage import used_by as find_users

EXAMPLE = "pacha {noun} used-by transactions:1.0.0 --kind model"


def used_by(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest, NAME or id.")],
    version: VersionOption = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Only users of this kind: model, data, recipe or run (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the versions and runs that used this version: trained or evaluated on it, derived from it."""
    wanted = {"dataset" if k == "data" else k for k in kinds or []}
    unknown = wanted - {"model", "dataset", "recipe", "run"}
    if unknown:
        raise InvalidInput(f"unknown --kind {', '.join(sorted(unknown))}: use model, data, recipe or run")
    found, uses = find_users(open_porcelain(), kind_of(ctx).kind, reference, version, wanted or None)
    if as_json:
        print_json(
            {
                "ref": found.ref,
                "id": found.record_id,
                "used_by": [
                    {"kind": u.kind, "ref": u.label, "id": u.record_id, "how": u.how, "state": u.state}
                    for u in uses
                ],
            }
        )
        return
    if not uses:
        typer.echo(f"nothing recorded as using {found.ref}")
    for u in uses:
        typer.echo(f"{u.kind}\t{u.label}\t{u.how}\t{u.state}")
