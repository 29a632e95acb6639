"""pacha run: track experiment runs from the shell, and look at them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pacha.cli._app import RegistryOption
from porcelain.cli._versions import JsonOption, VersionOption, open_porcelain

if TYPE_CHECKING:
    from porcelain.runs import RunInfo

app = typer.Typer(
    help="Track experiment runs: start, log, artifact, finish, list, get.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

OverrideOption = Annotated[
    list[str] | None, typer.Option("--override", help="NAME=VALUE hyperparameter, type-checked; repeatable.")
]


def run_json(info: RunInfo) -> dict:
    return {
        "id": info.id,
        "name": info.name,
        "status": info.status,
        "record_id": info.record_id,
        "record": info.record,
    }


@app.command("start", epilog="Example: RUN=$(pacha run start bert-finetune:1.0.0 --override epochs=5)")
def start(
    recipe: Annotated[str, typer.Argument(help="Recipe NAME:VER (or NAME -v VER).")],
    override: OverrideOption = None,
    version: VersionOption = None,
    registry: RegistryOption = None,
) -> None:
    """Start a run and print its name; log into it, then `pacha run finish`."""
    import os

    run = open_porcelain(registry).start_run(
        recipe, version=version, overrides=override or [], pid=os.getppid()
    )
    typer.echo(run.name)


@app.command("log", epilog="Example: pacha run log run-001 val_loss=0.31 accuracy=0.9 --step 100")
def log(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    values: Annotated[list[str], typer.Argument(help="NAME=VALUE metric points.")],
    step: Annotated[int | None, typer.Option("--step", help="Training step of these points.")] = None,
    registry: RegistryOption = None,
) -> None:
    """Log metric points into a running run."""
    from porcelain.cli._output import parse_metrics

    open_porcelain(registry).log_metrics_cli(run, parse_metrics(values), step)


@app.command("artifact", epilog="Example: pacha run artifact run-001 ./checkpoints/best.pt")
def artifact(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    path: Annotated[Path | None, typer.Argument(help="A file or folder to store and attach.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Attach a registered model version.")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Attach a registered dataset version.")
    ] = None,
    registry: RegistryOption = None,
) -> None:
    """Attach a file, folder, or registered model/dataset version to a run."""
    from porcelain.errors import InvalidInput

    if sum(x is not None for x in (path, model, dataset)) != 1:
        raise InvalidInput("give one of PATH, --model REF or --dataset REF")
    reg = open_porcelain(registry)
    if path is not None:
        object_id = reg.run_attach(run, path=path)
    else:
        object_id = reg.run_attach(run, kind="model" if model else "dataset", reference=model or dataset)
    typer.echo(object_id)


@app.command("finish", epilog="Example: pacha run finish run-001 --status failed")
def finish(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    status: Annotated[str, typer.Option("--status", help="completed, failed or killed.")] = "completed",
    registry: RegistryOption = None,
) -> None:
    """Finish a run: its metric series are frozen and its status recorded."""
    info = open_porcelain(registry).finish_run(run, status)
    typer.echo(f"{info.name}: {info.status}")


@app.command("get", epilog="Example: pacha run get run-001 --json")
def get(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    as_json: JsonOption = False,
    registry: RegistryOption = None,
) -> None:
    """Show a run: recipe, status, parameters, environment, final metrics, artifacts."""
    from porcelain.cli._output import console, print_json, when

    info = open_porcelain(registry).get_run(run)
    if as_json:
        print_json(run_json(info))
        return
    from rich.markup import escape

    r = info.record
    out = console()
    out.print(
        f"[bold]{info.name}[/bold] {info.id}  {escape(r['recipe_ref'])}  {escape('[' + info.status + ']')}"
    )
    out.print(f"  started   {when(r['started_ns'])} by {escape(r['author'])} on {escape(str(r.get('host')))}")
    if r.get("ended_ns"):
        out.print(f"  ended     {when(r['ended_ns'])} ({(r['ended_ns'] - r['started_ns']) / 1e9:.1f} s)")
    if r.get("git"):
        out.print(f"  git       {r['git']['commit'][:12]}{' (dirty)' if r['git']['dirty'] else ''}")
    for name, value in sorted(r.get("params", {}).items()):
        mark = " (override)" if name in r.get("overrides", {}) else ""
        out.print(f"  param     {escape(name)} = {escape(repr(value))}{mark}")
    for name, summary in sorted(r.get("metrics", {}).items()):
        out.print(
            f"  metric    {escape(name)}: last {summary['last']:g}, min {summary['min']:g}, "
            f"max {summary['max']:g} ({summary['count']} points)"
        )
    for item in r.get("artifacts", []):
        out.print(f"  artifact  {escape(item.get('path') or item.get('ref', ''))} {item['id'][:12]}")


@app.command("list", epilog="Example: pacha run list bert-finetune -v 1.0.0 --status completed")
def list_runs(
    recipe: Annotated[str | None, typer.Argument(help="Recipe NAME or NAME:VER; omit for all runs.")] = None,
    version: VersionOption = None,
    status: Annotated[
        str | None, typer.Option("--status", help="running, completed, failed, killed, died.")
    ] = None,
    as_json: JsonOption = False,
    registry: RegistryOption = None,
) -> None:
    """List runs with status, start time and final metrics."""
    from porcelain.cli._output import console, print_json, when

    found = open_porcelain(registry).list_runs(recipe, version, status)
    if as_json:
        print_json([run_json(i) for i in found])
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("run", "recipe", "status", "started", "metrics"):
        table.add_column(column)
    for info in found:
        metrics = ", ".join(f"{k}={v['last']:g}" for k, v in sorted(info.record.get("metrics", {}).items()))
        table.add_row(
            info.name, info.record["recipe_ref"], info.status, when(info.record["started_ns"]), metrics
        )
    console().print(table if found else "no runs")
