"""`pacha model|data history`: the audit trail of a name's stage changes."""

from __future__ import annotations

from typing import Annotated

import typer

from porcelain.cli._output import console, print_json, table, when
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption
from porcelain.cli.version_view import transition_json
from porcelain.remotes.history import remote_history

EXAMPLE = "pacha {noun} history fraud-detector --json"


def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name whose stage changes to show.")],
    remote: Annotated[
        str | None,
        typer.Option("--remote", help="As REMOTE records it (after `pacha fetch`): every machine's."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the audit trail of stage changes: when, who, version, from, to, why."""
    kind = kind_of(ctx).kind
    if remote is not None:
        moves = remote_history(open_porcelain().plumbing, kind, name, remote)
    else:
        moves = open_porcelain().history(kind, name)
    if as_json:
        print_json([transition_json(t) for t in moves])
        return
    rows = table("when", "who", "version", "from", "to", "why")
    for t in moves:
        rows.add_row(
            when(t.when_ns),
            t.who,
            t.version,
            t.from_stage or "(registered)",
            t.to_stage or "(deleted)",
            t.why,
        )
    console().print(rows)
