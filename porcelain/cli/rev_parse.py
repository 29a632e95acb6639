"""pacha rev-parse, porcelain edition: also NAME:VER, NAME:latest and NAME@STAGE.

Plumbing's rev-parse knows ids, prefixes and refs; this one first tries the
version references of models and datasets, then falls back to it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, write_out
from porcelain import layout
from porcelain.cli._output import print_json
from porcelain.cli.context import open_porcelain
from porcelain.cli.options import JsonOption
from porcelain.registry import Registry
from porcelain.resolve import Target, resolve_target
from porcelain.stages.rules import STAGES

app = new_app()


def is_version_reference(spec: str) -> bool:
    if ":" in spec:
        return True
    name, sep, stage = spec.rpartition("@")
    return bool(sep and name and stage in STAGES)


@app.command(epilog="Example: pacha rev-parse fraud-detector@production")
def rev_parse(
    specs: Annotated[list[str], typer.Argument(help="What to resolve.")],
    short: Annotated[bool, typer.Option("--short", help="Print 12-character prefixes.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the object id each SPEC names: id, prefix, ref, REF@{N}, NAME:VER, NAME@STAGE."""
    reg = open_porcelain()
    found = []
    for spec in specs:
        object_id = _version_id(reg, spec) if is_version_reference(spec) else reg.plumbing.resolve(spec)
        found.append({"spec": spec, "id": object_id[:12] if short else object_id})
    if as_json:
        print_json(found)
        return
    for item in found:
        write_out(item["id"] + "\n")


def _version_id(reg: Registry, spec: str) -> str:
    """The record id of a version reference; an ambiguous one lists the refs that pick each."""

    def pick(target: Target) -> str:
        name, _, ver = target.label.rpartition(":")
        return f"pacha rev-parse {layout.version_ref(target.kind, name, ver)}"

    return resolve_target(reg, spec, pick=pick).record_id
