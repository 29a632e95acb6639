"""`pacha model|data|recipe get`: show a version, optionally as it was at a time, or download it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.errors import UsageError
from porcelain.cli._output import parse_time, print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption, VersionOption
from porcelain.cli.version_view import show_version, version_json
from porcelain.errors import NotFound
from porcelain.registry import Registry
from porcelain.remotes.lazy import ensure_local

EXAMPLE = "pacha {noun} get fraud-detector@production --json"

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="With NAME@STAGE: as it was at this ISO 8601 time (UTC unless an offset is "
        "given; a time names its whole second, minute or day): after every change stored "
        "within or before it, replayed in the reflog's order "
        "(stored times never go backwards; see docs/format.md, Reflog order and time).",
    ),
]


def get(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME@STAGE, NAME or id.")],
    version: VersionOption = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Also download to PATH.")] = None,
    force: Annotated[bool, typer.Option("--force", help="With -o, replace PATH.")] = False,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a version: stage, artifact, record, metrics; -o downloads it too."""
    kind = kind_of(ctx)
    reg = open_porcelain()
    if at is not None:
        reference = as_of(reg, kind.kind, reference, at)
    found = reg.get(kind.kind, reference, version)
    if output is not None:
        ensure_local(reg.plumbing, kind.kind, found.record_id, progress=not as_json)  # lazy remote only
        found, path = reg.download(kind.kind, found.record_id, output, force=force)
    if as_json:
        print_json(version_json(found))
    else:
        show_version(found, kind.noun)
        if output is not None:
            typer.echo(f"downloaded to {path}")


def as_of(reg: Registry, kind: str, reference: str, at: str) -> str:
    """NAME@STAGE at time `at` -> NAME:VER of the version that was in that stage then."""
    name, sep, stage = reference.rpartition("@")
    if not sep:
        raise UsageError("--at needs a NAME@STAGE reference, e.g. fraud-detector@production")
    found = reg.at(kind, name, stage, parse_time(at))
    if not found:
        raise NotFound(f"no version of {name} was in {stage} at {at}")
    return f"{name}:{found[-1]}"
