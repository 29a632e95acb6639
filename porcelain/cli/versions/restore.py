"""`pacha model|data|recipe restore`: bring back a deleted or expired version from the reflog."""

from __future__ import annotations

from typing import Annotated

import typer

from porcelain.cli._output import print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption, MessageOption, VersionOption

EXAMPLE = "pacha {noun} restore fraud-detector:0.9.0"


def restore(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER of a deleted or expired version, or its id.")],
    version: VersionOption = None,
    message: MessageOption = "",
    as_json: JsonOption = False,
) -> None:
    """Bring back a deleted or expired version from the reflog (while gc has not removed it).

    It comes back in development, whatever stage it had: stage it again."""
    found, was = open_porcelain().restore(kind_of(ctx).kind, reference, version=version, why=message)
    if as_json:
        print_json(
            {
                "ref": found.ref,
                "id": found.record_id,
                "stage": found.stage,
                "was_stage": was.stage,
                "was_expired": was.expired,
            }
        )
        return
    where = f" in {found.stage}" if found.stage != "-" else ""
    before = f" (it was in {was.stage} when it went)" if was.stage and was.stage != found.stage else ""
    typer.echo(f"restored {found.ref} ({found.record_id[:12]}){where}{before}")
