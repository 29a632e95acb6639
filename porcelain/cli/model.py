"""pacha model: register, find, promote, trace and download model versions.

The commands every kind shares (list, get, stage, lineage, ...) are in porcelain/cli/versions/,
one module each; this module adds the model's own: register and card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.errors import UsageError
from porcelain.cards import render as card_render
from porcelain.cards.fields import load_toml
from porcelain.cli._output import parse_metrics, print_json
from porcelain.cli.context import MODEL, open_porcelain
from porcelain.cli.kind_group import kind_app
from porcelain.cli.options import (
    ExcludeOption,
    FilenameOption,
    JsonOption,
    MessageOption,
    SemverOption,
    SignOption,
)
from porcelain.cli.version_view import report_registration
from porcelain.errors import InvalidInput
from porcelain.lineage.graph import parse_params
from porcelain.versions.request import RegisterRequest

app = kind_app(MODEL, "Register, find, promote, trace and download model versions.")

NameArgument = Annotated[str, typer.Argument(help="Model name, e.g. fraud-detector or team/fraud-detector.")]
PathArgument = Annotated[
    Path,
    typer.Argument(help="Model file or folder (e.g. a Hugging Face folder), or - for standard input."),
]
BumpOption = Annotated[
    str | None,
    typer.Option(
        "--bump",
        help="Next version from the latest: major = architecture change, minor = retrained on new "
        "data, patch = fix, quantization or optimization. A new name starts at the card's version "
        "or 1.0.0.",
    ),
]
DescriptionOption = Annotated[str, typer.Option("-d", "--description", help="What the model does.")]
CardOption = Annotated[Path | None, typer.Option("--card", help="Model Card in TOML.")]
MetricOption = Annotated[list[str] | None, typer.Option("--metric", help="NAME=VALUE, repeatable.")]
FromOption = Annotated[
    list[str] | None, typer.Option("--from", help="Parent version(s) it was made from, repeatable.")
]
RelationOption = Annotated[
    str | None,
    typer.Option("--relation", help="fine-tuned, distilled, merged, quantized or pruned (with --from)."),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        help="Edge parameter NAME=VALUE: temperature (distilled), weights (merged, one per --from), "
        "quantization (quantized), sparsity (pruned), recipe (fine-tuned).",
    ),
]
RunOption = Annotated[
    str | None,
    typer.Option("--run", help="The tracked run that produced it (default: $PACHA_RUN_ID inside a run)."),
]


@app.command(
    "register",
    epilog="Example: pacha model register fraud-detector model.apr -v 1.0.0 -d 'Fraud detection model'",
)
def register(
    name: NameArgument,
    path: PathArgument,
    version: SemverOption = None,
    bump: BumpOption = None,
    description: DescriptionOption = "",
    card: CardOption = None,
    metric: MetricOption = None,
    sources: FromOption = None,
    relation: RelationOption = None,
    param: ParamOption = None,
    run: RunOption = None,
    message: MessageOption = "",
    filename: FilenameOption = None,
    exclude: ExcludeOption = None,
    sign: SignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a model file or folder as a new version (it starts in development)."""
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
        sign=sign,
    )
    if (sources or param) and not relation:
        given = "--from" if sources else "--param"
        raise UsageError(f"{given} needs --relation (fine-tuned, distilled, merged, quantized, pruned)")
    result = open_porcelain().register(request)
    report_registration(result, "model", as_json)


@app.command("card", epilog="Example: pacha model card fraud-detector@production --format md > README.md")
def card(
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest or id.")],
    fmt: Annotated[str, typer.Option("--format", help="toml, md (Hugging Face layout) or json.")] = "toml",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Render a version's Model Card (Mitchell et al. 2019)."""
    found = open_porcelain().get("model", reference)
    if as_json or fmt == "json":
        print_json(card_render.to_json(found))
    elif fmt == "md":
        typer.echo(card_render.to_markdown(found), nl=False)
    elif fmt == "toml":
        typer.echo(card_render.to_toml(found), nl=False)
    else:
        raise InvalidInput(f"unknown card format {fmt!r}: use toml, md or json")
