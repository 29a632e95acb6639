"""pacha reindex: rebuild derived indices (lineage) from records and refs."""

from __future__ import annotations

import typer

from pacha.cli._app import RegistryOption, new_app
from porcelain.cli._versions import open_porcelain

app = new_app()


@app.command(
    help="Rebuild derived indices (reverse lineage edges, run summaries) from the records and refs.",
    epilog="Example: pacha reindex",
)
def reindex(registry: RegistryOption = None) -> None:
    reg = open_porcelain(registry)
    typer.echo(f"lineage index rebuilt: {reg.reindex()} edge(s)")
    typer.echo(f"run summaries rebuilt: {reg.reindex_runs()} run(s)")
