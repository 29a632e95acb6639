"""pacha run: track experiment runs from the shell, and look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pacha.cli.app import new_app
from pacha.errors import UsageError
from pacha.pathnames import check_destination
from porcelain.cli._output import console, parse_metrics, print_json, table, when
from porcelain.cli.context import open_porcelain
from porcelain.cli.options import JsonOption, VersionOption
from porcelain.errors import InvalidInput, NotFound
from porcelain.registry import Registry
from porcelain.runs import analysis as run_analysis
from porcelain.runs.metrics import load_series
from porcelain.runs.records import RunInfo

app = new_app(
    help="Track experiment runs: start, log, artifact, finish, list, get.",
    no_args_is_help=True,
)

OverrideOption = Annotated[
    list[str] | None, typer.Option("--override", help="NAME=VALUE hyperparameter, type-checked; repeatable.")
]


def run_json(info: RunInfo) -> dict[str, Any]:
    """A run as --json prints it: id, name, status, record id and the record."""
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
    as_json: JsonOption = False,
) -> None:
    """Start a run and print its name; log into it, then `pacha run finish`."""
    import os

    reg = open_porcelain()
    run = reg.start_run(recipe, version=version, overrides=override or [], pid=os.getppid())
    if as_json:
        print_json(run_json(reg.get_run(run.id)))
    else:
        typer.echo(run.name)


@app.command("log", epilog="Example: pacha run log run-001 val_loss=0.31 accuracy=0.9 --step 100")
def log(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    values: Annotated[list[str], typer.Argument(help="NAME=VALUE metric points.")],
    step: Annotated[int | None, typer.Option("--step", help="Training step of these points.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Log metric points into a running run."""
    reg = open_porcelain()
    points = parse_metrics(values, "metric point")
    reg.log_metrics_cli(run, points, step)
    if as_json:
        info = reg.get_run(run)
        print_json({"id": info.id, "name": info.name, "step": step, "logged": points})


@app.command("artifact", epilog="Example: pacha run artifact run-001 ./checkpoints/best.pt")
def artifact(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    path: Annotated[Path | None, typer.Argument(help="A file or folder to store and attach.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Attach a registered model version.")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Attach a registered dataset version.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Attach a file, folder, or registered model/dataset version to a run."""
    if sum(x is not None for x in (path, model, dataset)) != 1:
        raise InvalidInput("give one of PATH, --model REF or --dataset REF")
    reg = open_porcelain()
    if path is not None:
        object_id = reg.run_attach(run, path=path)
    else:
        object_id = reg.run_attach(run, kind="model" if model else "dataset", reference=model or dataset)
    if as_json:
        info = reg.get_run(run)
        print_json({"id": info.id, "name": info.name, "attached": info.record["artifacts"][-1]})
    else:
        typer.echo(object_id)


@app.command("finish", epilog="Example: pacha run finish run-001 --status failed")
def finish(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    status: Annotated[str, typer.Option("--status", help="completed, failed or killed.")] = "completed",
    as_json: JsonOption = False,
) -> None:
    """Finish a run: its metric series are frozen and its status recorded."""
    info = open_porcelain().finish_run(run, status)
    if as_json:
        print_json(run_json(info))
    else:
        typer.echo(f"{info.name}: {info.status}")


@app.command("get", epilog="Example: pacha run get run-001 --json")
def get(
    run: Annotated[str, typer.Argument(help="Run name (run-001) or id.")],
    as_json: JsonOption = False,
) -> None:
    """Show a run: recipe, status, parameters, environment, final metrics, artifacts."""
    info = open_porcelain().get_run(run)
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
) -> None:
    """List runs with status, start time and final metrics."""
    found = open_porcelain().list_runs(recipe, version, status)
    if as_json:
        print_json([run_json(i) for i in found])
        return

    rows = table("run", "recipe", "status", "started", "metrics")
    for info in found:
        metrics = ", ".join(f"{k}={v['last']:g}" for k, v in sorted(info.record.get("metrics", {}).items()))
        rows.add_row(
            info.name, info.record["recipe_ref"], info.status, when(info.record["started_ns"]), metrics
        )
    console().print(rows if found else "no runs")


def _runs(reg: Registry, names: list[str]) -> list[RunInfo]:
    return [reg.get_run(name) for name in names]


@app.command("compare", epilog="Example: pacha run compare run-001 run-002 run-003")
def compare(
    names: Annotated[list[str], typer.Argument(help="Two or more run names or ids.")],
    as_json: JsonOption = False,
) -> None:
    """Compare runs: differing hyperparameters, final/min/max metrics; seed groups with Welch t-test."""
    result = run_analysis.compare(_runs(open_porcelain(), names))
    if as_json:
        print_json(
            {
                "runs": [r.name for r in result.runs],
                "params": {
                    p: {r.name: r.record["params"].get(p) for r in result.runs} for p in result.params
                },
                "metrics": {
                    m: {r.name: r.record.get("metrics", {}).get(m) for r in result.runs}
                    for m in result.metrics
                },
                "groups": {
                    m: {label: {"runs": g.runs, "mean": g.mean, "std": g.std} for label, g in groups.items()}
                    for m, groups in result.groups.items()
                },
                "welch_p": result.p_values,
            }
        )
        return
    from rich.markup import escape
    from rich.text import Text

    names = [r.name for r in result.runs]
    rows = table("", *names, right=tuple(names))
    for p in result.params:
        rows.add_row(p, *[repr(r.record["params"].get(p)) for r in result.runs])
    for m in result.metrics:
        cells: list[Text | str] = []
        for r in result.runs:
            s = r.record.get("metrics", {}).get(m)
            cells.append(
                Text.from_markup(f"{s['last']:.4g} [dim]({s['min']:.4g}..{s['max']:.4g})[/dim]") if s else "-"
            )
        rows.add_row(Text.from_markup(escape(m) + " [dim]final (min..max)[/dim]"), *cells)
    out = console()
    out.print(rows)
    for metric, groups in result.groups.items():
        for label, g in groups.items():
            out.print(f"{escape(metric)}: {escape(label)}: {g.mean:.4g} ± {g.std:.4g} (n={len(g.runs)})")
        for pair, p_value in result.p_values.get(metric, {}).items():
            out.print(f"{escape(metric)}: Welch t-test {escape(pair)}: p = {p_value:.3g}")


@app.command("best", epilog="Example: pacha run best bert-finetune -v 1.0.0 -m val_loss --minimize")
def best(
    recipe: Annotated[str, typer.Argument(help="Recipe NAME or NAME:VER.")],
    metric: Annotated[str, typer.Option("-m", "--metric", help="Metric to rank by (its final value).")],
    minimize: Annotated[bool, typer.Option("--minimize", help="Lower is better.")] = False,
    version: VersionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the finished run with the best final value of a metric."""
    infos = [i for i in open_porcelain().list_runs(recipe, version) if i.status == "completed"]
    top = run_analysis.best(infos, metric, minimize)
    if as_json:
        print_json(run_json(top))
    else:
        typer.echo(f"{top.name} {metric}={top.record['metrics'][metric]['last']:g} {top.id}")


@app.command("importance", epilog="Example: pacha run importance bert-finetune --metric val_loss")
def importance(
    recipe: Annotated[str, typer.Argument(help="Recipe NAME or NAME:VER.")],
    metric: Annotated[str, typer.Option("-m", "--metric", help="Metric whose final value is explained.")],
    version: VersionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rank numeric hyperparameters by Spearman correlation with a metric, strongest first."""
    infos = [i for i in open_porcelain().list_runs(recipe, version) if i.status == "completed"]
    rows = run_analysis.importance(infos, metric)
    if as_json:
        print_json(
            [{"param": r.param, "spearman_rho": r.rho, "p_value": r.p_value, "runs": r.runs} for r in rows]
        )
        return
    for r in rows:
        typer.echo(f"{r.param:<24} rho={r.rho:+.3f}  p={r.p_value:.3g}  (n={r.runs})")
    if not rows:
        typer.echo("no numeric hyperparameter varies across these runs")


@app.command("metrics", epilog="Example: pacha run metrics run-001 --metric val_loss")
def metrics(
    run: Annotated[str, typer.Argument(help="Run name or id.")],
    metric: Annotated[str | None, typer.Option("-m", "--metric", help="Only this metric.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a run's metric series (step, time, value), with a sparkline per metric."""
    reg = open_porcelain()
    info = reg.get_run(run)
    series = load_series(reg, info.id, info.record)
    if metric is not None:
        if metric not in series:
            raise NotFound(
                f"{info.name} has no metric {metric!r}; it has: {', '.join(sorted(series)) or 'none'}"
            )
        series = {metric: series[metric]}
    if as_json:
        print_json(
            {
                name: [{"step": p[0], "ts_ns": p[1], "value": p[2]} for p in pts]
                for name, pts in series.items()
            }
        )
        return
    for name, points in sorted(series.items()):
        values = [p[2] for p in points]
        typer.echo(
            f"{name}: {run_analysis.sparkline(values)}  last {values[-1]:g} "
            f"(min {min(values):g}, max {max(values):g}, {len(values)} points)"
        )


@app.command("plot", epilog="Example: pacha run plot run-001 run-002 --metric val_loss -o curve.png")
def plot(
    names: Annotated[list[str], typer.Argument(help="Run names or ids.")],
    metric: Annotated[str, typer.Option("-m", "--metric", help="Metric to draw.")],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Image file to write: PNG, or the format its suffix names (svg, pdf, ...)."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Draw one metric's curves for several runs on one chart (PNG)."""
    reg = open_porcelain()
    curves = {}
    for info in _runs(reg, names):
        series = load_series(reg, info.id, info.record)
        if metric in series:
            curves[info.name] = series[metric]
    if not curves:
        raise NotFound(f"none of these runs has metric {metric!r}")
    if output.is_dir():  # -o "" comes as "."
        raise UsageError(f"-o {output} is a directory: give the file to write, e.g. {output / 'curve.png'}")
    if not output.parent.is_dir():
        raise InvalidInput(f"cannot write {output}: directory {output.parent} does not exist")

    check_destination(output)  # a FIFO would block the plot, a device node be written to
    run_analysis.plot(curves, metric, output)
    if as_json:
        print_json({"path": str(output), "metric": metric, "runs": list(curves)})
    else:
        typer.echo(f"wrote {output} ({len(curves)} curve(s))")
