"""pacha reindex: rebuild derived indices (lineage) from records and refs."""

from __future__ import annotations

import typer

from pacha.cli.app import new_app
from porcelain.cli._output import print_json
from porcelain.cli.context import open_porcelain
from porcelain.cli.options import JsonOption

app = new_app()


@app.command(epilog="Example: pacha reindex")
def reindex(as_json: JsonOption = False) -> None:
    """Rebuild derived indices (reverse lineage edges, run summaries) from the records and refs."""
    reg = open_porcelain()
    edges = reg.reindex()
    runs = reg.reindex_runs()
    if as_json:
        print_json({"lineage_edges": edges, "runs": runs})
        return
    typer.echo(f"lineage index rebuilt: {edges} edge(s)")
    typer.echo(f"run summaries rebuilt: {runs} run(s)")
