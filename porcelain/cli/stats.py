"""pacha stats: what the registry holds and what dedup and compression save."""

from __future__ import annotations

from pacha.cli.app import new_app
from porcelain import stats as collect_stats
from porcelain.cli._output import console, human_size, print_json, table
from porcelain.cli.context import open_porcelain
from porcelain.cli.options import JsonOption

app = new_app()


@app.command(epilog="Example: pacha stats --json")
def stats(
    as_json: JsonOption = False,
) -> None:
    """Count models, datasets, versions and objects; logical vs stored bytes and the savings."""
    s = collect_stats.collect(open_porcelain())
    if as_json:
        print_json(s.as_dict())
        return

    def pct(part: int) -> str:
        return f"{100 * part / s.logical_bytes:.1f}% of logical" if s.logical_bytes else "-"

    rows = table("what", "value", "note", header=False, right=("value",))
    rows.add_row("models", f"{s.models}", f"{s.model_versions} versions")
    rows.add_row("datasets", f"{s.datasets}", f"{s.dataset_versions} versions")
    rows.add_row("recipes", f"{s.recipes}", f"{s.recipe_versions} versions")
    rows.add_row("objects", f"{s.objects}", "")
    rows.add_row("logical size", human_size(s.logical_bytes), "every version counted whole")
    rows.add_row(
        "stored size", human_size(s.stored_bytes), f"on disk ({human_size(s.metadata_bytes)} metadata)"
    )
    rows.add_row("saved by dedup", human_size(s.dedup_saving), pct(s.dedup_saving))
    rows.add_row("saved by compression", human_size(s.compression_saving), pct(s.compression_saving))
    console().print(rows)
