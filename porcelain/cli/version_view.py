"""How a version and a stage change are shown: as JSON (--json) and for people."""

from __future__ import annotations

from typing import Any

import msgspec
import typer

from porcelain.cli._output import console, human_size, print_json, when
from porcelain.finite import shown
from porcelain.registry import Registered, Transition, Version


def version_json(v: Version) -> dict[str, Any]:
    """A version as --json prints it: name, version, stage, record id and the record itself."""
    return {
        "name": v.name,
        "version": v.version,
        "stage": v.stage,
        "id": v.record_id,
        "record": msgspec.to_builtins(v.record),
    }


def show_version(v: Version, noun: str) -> None:
    """A version for people: one `key  value` line each, never cut in a pipe."""
    from rich.markup import escape

    r = v.record
    out = console()
    out.print(f"[bold]{v.name}[/bold] {v.version}  ({noun})")
    rows: list[tuple[str, object]] = [("stage", v.stage)] if v.stage != "-" else []
    rows += [
        ("purpose" if noun == "data" else "description", r.description or "-"),
        ("artifact", f"{r.artifact_kind} {r.artifact} ({human_size(r.size)}, {r.filename})"),
        ("record", v.record_id),
        ("registered", f"{when(r.created_ns)} by {r.author}"),
    ]
    if r.message:
        rows.append(("message", r.message))
    for metric, number in sorted(r.metrics.items()):
        rows.append((f"metric {metric}", shown(number)))
    for edge in r.parents:
        rows.append(("parent", f"{edge.relation} {edge.record}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.print(f"  {key:<{width}}  {escape(str(value))}", soft_wrap=True)


def report_registration(result: Registered, noun: str, as_json: bool) -> None:
    """What `register` prints: the new version, or that these bytes were already registered."""
    v = result.version
    if as_json:
        print_json(dict(version_json(v), created=result.created))
    elif result.created:
        where = f" in {v.stage}" if v.stage != "-" else ""
        typer.echo(f"registered {v.ref} ({v.record_id[:12]}){where}")
        show_version(v, noun)
    else:
        typer.echo(f"{v.ref} is already registered with these bytes; nothing changed")


def transition_json(t: Transition) -> dict[str, Any]:
    """A stage change as --json prints it (`stage`, `history`)."""
    return {
        "name": t.name,
        "version": t.version,
        "from": t.from_stage,
        "to": t.to_stage,
        "who": t.who,
        "when_ns": t.when_ns,
        "time": when(t.when_ns),
        "why": t.why,
    }
