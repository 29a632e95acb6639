"""`pacha model|data provenance`: W3C PROV-DM provenance of a version."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from porcelain import provenance as prov
from porcelain.cli.context import kind_of, open_porcelain

EXAMPLE = "pacha {noun} provenance transactions:latest --format prov-json"


class ProvFormat(StrEnum):
    tree = "tree"
    prov_json = "prov-json"
    prov_n = "prov-n"


def provenance(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME@STAGE or id.")],
    fmt: Annotated[ProvFormat, typer.Option("--format", help="tree, prov-json or prov-n.")] = ProvFormat.tree,
    as_json: Annotated[
        bool, typer.Option("--json", help="Same as --format prov-json (W3C PROV-JSON).")
    ] = False,
) -> None:
    """Show W3C PROV-DM provenance: derivations, generating activities, usage, attribution."""
    doc = prov.build(open_porcelain(), kind_of(ctx).kind, reference)
    if as_json or fmt is ProvFormat.prov_json:
        typer.echo(doc.serialize(format="json", indent=2))
    elif fmt is ProvFormat.prov_n:
        typer.echo(doc.get_provn())
    else:
        for line in prov.summary(doc):
            typer.echo(line)
