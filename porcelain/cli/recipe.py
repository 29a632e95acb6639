"""pacha recipe: register, check, show and compare training recipes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from porcelain.cli._output import console, print_json
from porcelain.cli.context import RECIPE, open_porcelain
from porcelain.cli.kind_group import kind_app
from porcelain.cli.options import JsonOption, MessageOption, SignOption, VersionOption
from porcelain.cli.run import run_json
from porcelain.cli.version_view import report_registration, version_json
from porcelain.recipes.check import hyperparameters
from porcelain.runs.execute import execute

app = kind_app(RECIPE, "Register, check, show and compare training recipes (TOML).", staged=False)


@app.command("register", epilog="Example: pacha recipe register recipe.toml")
def register(
    path: Annotated[Path, typer.Argument(help="The recipe TOML (name, version, hyperparameters, ...).")],
    sign: SignOption = None,
    message: MessageOption = "",
    as_json: JsonOption = False,
) -> None:
    """Register a recipe: the TOML is kept byte for byte, data references are pinned."""
    result = open_porcelain().register_recipe(path, message=message, sign=sign)
    report_registration(result, "recipe", as_json)


@app.command("validate", epilog="Example: pacha recipe validate bert-finetune -v 1.0.0")
def validate(
    reference: Annotated[str, typer.Argument(help="A recipe file, or NAME:VER / NAME -v VER.")],
    version: VersionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a recipe: report errors and warnings; exit 1 if there are errors."""
    what, report = open_porcelain().validate_recipe(reference, version)
    if as_json:
        print_json(
            {"recipe": what, "errors": report.errors, "warnings": report.warnings, "notes": report.notes}
        )
    else:
        from rich.markup import escape

        out = console()
        for line in report.errors:
            out.print(f"[red]error[/red]    {escape(line)}")
        for line in report.warnings:
            out.print(f"[yellow]warning[/yellow]  {escape(line)}")
        for line in report.notes:
            out.print(f"[green]ok[/green]       {escape(line)}")
        verdict = "ok" if report.ok else f"{len(report.errors)} error(s)"
        out.print(f"{escape(what)}: {verdict}, {len(report.warnings)} warning(s)")
    if not report.ok:
        raise typer.Exit(1)


@app.command("show", epilog="Example: pacha recipe show bert-finetune:1.0.0 > recipe.toml")
def show(
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME or id.")],
    version: VersionOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON: the version, its TOML text and the parsed recipe.")
    ] = False,
) -> None:
    """Print the recipe's TOML exactly as it was registered."""
    reg = open_porcelain()
    found, doc = reg.recipe_doc(reference, version)
    if as_json:
        print_json(dict(version_json(found), text=reg.recipe_text(found), recipe=doc))
        return
    typer.echo(reg.recipe_text(found), nl=False)


@app.command("diff", epilog="Example: pacha recipe diff bert-finetune:1.0.0 bert-finetune:1.1.0")
def diff(
    old: Annotated[str, typer.Argument(help="The first recipe version.")],
    new: Annotated[str, typer.Argument(help="The second recipe version.")],
    as_json: JsonOption = False,
) -> None:
    """Compare two recipe versions: changed hyperparameters, then a unified diff of the TOML texts."""
    import difflib

    reg = open_porcelain()
    a, a_doc = reg.recipe_doc(old)
    b, b_doc = reg.recipe_doc(new)
    a_hp, b_hp = hyperparameters(a_doc), hyperparameters(b_doc)
    changed = [name for name in sorted(set(a_hp) | set(b_hp)) if a_hp.get(name) != b_hp.get(name)]
    lines = "".join(
        difflib.unified_diff(
            reg.recipe_text(a).splitlines(keepends=True),
            reg.recipe_text(b).splitlines(keepends=True),
            fromfile=a.ref,
            tofile=b.ref,
        )
    )
    if as_json:
        print_json(
            {
                "old": {"ref": a.ref, "id": a.record_id},
                "new": {"ref": b.ref, "id": b.record_id},
                # a hyperparameter one side lacks is null there
                "hyperparameters": {name: {"old": a_hp.get(name), "new": b_hp.get(name)} for name in changed},
                "diff": lines,
            }
        )
        return
    for name in changed:
        typer.echo(f"{name}: {a_hp.get(name, '(absent)')} -> {b_hp.get(name, '(absent)')}")
    typer.echo(lines, nl=False)


@app.command(
    "run",
    epilog="Examples: pacha recipe run bert-finetune:1.0.0 --override learning_rate=1e-5  ·  "
    "pacha recipe run bert-finetune:1.0.0 -- python train.py",
)
def run(
    reference: Annotated[str, typer.Argument(help="Recipe NAME:VER (or NAME -v VER).")],
    command: Annotated[list[str] | None, typer.Argument(help="After --: the command to run.")] = None,
    override: Annotated[
        list[str] | None,
        typer.Option("--override", help="NAME=VALUE hyperparameter, type-checked; repeatable."),
    ] = None,
    version: VersionOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the run as JSON at the end (the command's output goes to stderr)."
        ),
    ] = False,
) -> None:
    """Start a run; execute COMMAND (or the recipe's run.command), else print the run's name."""
    import os
    import shlex
    import sys

    reg = open_porcelain()
    _, doc = reg.recipe_doc(reference, version)
    argv = list(command or [])
    if not argv and isinstance(doc.get("run"), dict) and doc["run"].get("command"):
        argv = shlex.split(str(doc["run"]["command"]))
    if not argv:
        started = reg.start_run(reference, version=version, overrides=override or [], pid=os.getppid())
        if as_json:
            print_json(run_json(reg.get_run(started.id)))
        else:
            typer.echo(started.name)
        return
    started = reg.start_run(reference, version=version, overrides=override or [], command=argv)
    typer.echo(f"{started.name}: {shlex.join(argv)}", err=True)
    info = execute(reg, started, argv, echo=sys.stderr.buffer if as_json else sys.stdout.buffer)
    typer.echo(f"{info.name}: {info.status} (exit {info.record.get('exit_code')})", err=True)
    if as_json:
        print_json(run_json(info))
    if info.status != "completed":
        raise typer.Exit(1)
