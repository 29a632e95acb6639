"""`pacha data provenance REF` (and `pacha model provenance REF`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from porcelain.cli._versions import open_porcelain


class ProvFormat(StrEnum):
    tree = "tree"
    prov_json = "prov-json"
    prov_n = "prov-n"


def add_provenance_command(app: typer.Typer, kind: str, noun: str) -> None:
    @app.command(
        "provenance", epilog=f"Example: pacha {noun} provenance transactions:latest --format prov-json"
    )
    def provenance(
        reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME@STAGE or id.")],
        fmt: Annotated[
            ProvFormat, typer.Option("--format", help="tree, prov-json or prov-n.")
        ] = ProvFormat.tree,
        as_json: Annotated[
            bool, typer.Option("--json", help="Same as --format prov-json (W3C PROV-JSON).")
        ] = False,
    ) -> None:
        """W3C PROV-DM provenance: derivations, generating activities, usage, attribution."""
        from porcelain import provenance as prov

        doc = prov.build(open_porcelain(), kind, reference)
        if as_json or fmt is ProvFormat.prov_json:
            typer.echo(doc.serialize(format="json", indent=2))
        elif fmt is ProvFormat.prov_n:
            typer.echo(doc.get_provn())
        else:
            for line in prov.summary(doc):
                typer.echo(line)
