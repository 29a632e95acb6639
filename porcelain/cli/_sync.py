"""Printing what push, fetch, pull and clone did: for people, or --json."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from porcelain.cli._output import console, human_size, print_json
from porcelain.remotes.sync import SyncReport

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
RemoteArg = Annotated[
    str | None, typer.Argument(help="Remote name (default: the default remote).", show_default=False)
]
RefsArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="What to move: NAME (all its versions and stages), NAME:VER, NAME@STAGE, or a ref name or "
        "prefix ending in '/' (default: everything).",
        show_default=False,
    ),
]
ForceOption = Annotated[bool, typer.Option("--force", "-f", help="Override a not-fast-forward refusal.")]


def _verb(old: str | None, new: str | None) -> str:
    if old is None:
        return "new"
    if new is None:
        return "deleted"
    return "moved"


def print_report(
    report: SyncReport, as_json: bool, direction: str, extra: dict[str, Any] | None = None
) -> None:
    """direction: "push" (To URL), "fetch" / "pull" / "clone" (From URL)."""
    if as_json:
        print_json({**report.as_dict(), **(extra or {})})
        return

    out = console()
    where = "To" if direction == "push" else "From"
    out.print(f"{where} {report.url} ({report.remote})", markup=False)
    if report.up_to_date:
        out.print("Everything up-to-date")
        return
    for move in report.moved:
        short = (move.new or move.old or "")[:12]
        out.print(f"  {_verb(move.old, move.new):<8} {move.ref}  {short}", markup=False)
    verb = "sent" if direction == "push" else "received"
    out.print(
        f"{len(report.moved)} ref(s) {'updated' if direction != 'clone' else 'created'}, "
        f"{report.objects} object(s) {verb} ({human_size(report.bytes)})"
    )
