"""`pacha model|data|recipe list`: the registered versions, optionally of one name or stage."""

from __future__ import annotations

from typing import Annotated

import typer

from porcelain.cli._output import console, human_size, print_json, table, when
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption
from porcelain.cli.version_view import version_json
from porcelain.stages.rules import check_stage

EXAMPLE = "pacha {noun} list --stage production"


def list_versions(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this name.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only versions in this stage.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List registered versions: name, version, stage, size, created, id."""
    kind = kind_of(ctx)
    if stage:
        check_stage(stage)
    found = open_porcelain().list(kind.kind, name, stage)
    if as_json:
        print_json([version_json(v) for v in found])
        return
    rows = table("name", "version", "stage", "size", "created", "id", right=("size",))
    for v in found:
        rows.add_row(
            v.name,
            v.version,
            v.stage,
            human_size(v.record.size),
            when(v.record.created_ns),
            v.record_id[:12],
        )
    console().print(rows if found else f"no {kind.noun} versions" + (f" in {stage}" if stage else ""))
