"""pacha model: register, find, promote, trace and download model versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption
from porcelain.cli._versions import (
    ExcludeOption,
    FilenameOption,
    JsonOption,
    make_app,
    open_porcelain,
    report_registration,
)
from porcelain.errors import InvalidInput
from porcelain.versions.request import RegisterRequest

app = make_app("model", "model", "Register, find, promote, trace and download model versions.")


@app.command(
    "register",
    epilog="Example: pacha model register fraud-detector model.apr -v 1.0.0 -d 'Fraud detection model'",
)
def register(
    name: Annotated[str, typer.Argument(help="Model name, e.g. fraud-detector or team/fraud-detector.")],
    path: Annotated[
        Path,
        typer.Argument(help="Model file or folder (e.g. a Hugging Face folder), or - for standard input."),
    ],
    version: Annotated[
        str | None, typer.Option("-v", "--version", help="SemVer version, e.g. 1.2.0.")
    ] = None,
    bump: Annotated[
        str | None,
        typer.Option(
            "--bump",
            help="Next version from the latest: major = architecture change, minor = retrained on new "
            "data, patch = fix, quantization or optimization. A new name starts at the card's version "
            "or 1.0.0.",
        ),
    ] = None,
    description: Annotated[str, typer.Option("-d", "--description", help="What the model does.")] = "",
    card: Annotated[Path | None, typer.Option("--card", help="Model Card in TOML.")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="NAME=VALUE, repeatable.")] = None,
    sources: Annotated[
        list[str] | None, typer.Option("--from", help="Parent version(s) it was made from, repeatable.")
    ] = None,
    relation: Annotated[
        str | None,
        typer.Option("--relation", help="fine-tuned, distilled, merged, quantized or pruned (with --from)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Edge parameter NAME=VALUE: temperature (distilled), weights (merged, one per --from), "
            "quantization (quantized), sparsity (pruned), recipe (fine-tuned).",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option("--run", help="The tracked run that produced it (default: $PACHA_RUN_ID inside a run)."),
    ] = None,
    message: Annotated[str, typer.Option("-m", "--message", help="Why, for the audit trail.")] = "",
    filename: FilenameOption = None,
    exclude: ExcludeOption = None,
    as_json: JsonOption = False,
    registry: RegistryOption = None,
) -> None:
    """Register a model file or folder as a new version (it starts in development)."""
    from porcelain.cards.fields import load_toml
    from porcelain.cli._output import parse_metrics
    from porcelain.lineage.graph import parse_params

    request = RegisterRequest(
        kind="model",
        name=name,
        path=path,
        version=version,
        bump=bump,
        description=description,
        card=load_toml(card, "model card") if card else None,
        metrics=parse_metrics(metric or []),
        parents=sources,
        relation=relation,
        params=parse_params(param or []),
        run=run,
        message=message,
        filename=filename,
        exclude=exclude,
    )
    if (sources or param) and not relation:
        raise InvalidInput("--from needs --relation (fine-tuned, distilled, merged, quantized, pruned)")
    result = open_porcelain(registry).register(request)
    report_registration(result, "model", as_json)


@app.command("card", epilog="Example: pacha model card fraud-detector@production --format md > README.md")
def card(
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest or id.")],
    fmt: Annotated[str, typer.Option("--format", help="toml, md (Hugging Face layout) or json.")] = "toml",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    registry: RegistryOption = None,
) -> None:
    """Render a version's Model Card (Mitchell et al. 2019)."""
    from porcelain.cards import render as card_render
    from porcelain.cli._output import print_json
    from porcelain.errors import InvalidInput

    found = open_porcelain(registry).get("model", reference)
    if as_json or fmt == "json":
        print_json(card_render.to_json(found))
    elif fmt == "md":
        typer.echo(card_render.to_markdown(found), nl=False)
    elif fmt == "toml":
        typer.echo(card_render.to_toml(found), nl=False)
    else:
        raise InvalidInput(f"unknown card format {fmt!r}: use toml, md or json")
