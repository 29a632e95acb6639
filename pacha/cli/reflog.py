"""pacha reflog: the audit trail of ref changes (who, when, why)."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.errors import RefNotFound
from pacha.refs.names import check_ref_name
from pacha.refs.store import iso_time

app = new_app()


@app.command(epilog="Example: pacha reflog stages/fraud-detector/production")
def reflog(
    name: Annotated[str | None, typer.Argument(help="Ref name; omit for every ref.")] = None,
    limit: Annotated[int | None, typer.Option("-n", help="Show at most N entries.", min=0)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Show the changes of ref NAME (or of every ref), newest first."""
    # each line: NAME@{N}<TAB>OLD<TAB>NEW<TAB>TIME<TAB>WHO<TAB>MESSAGE (zero id = absent)
    reg = open_reg()
    if name is not None:
        check_ref_name(name)
        entries = reg.refs.reflog(name)
        if not entries:
            raise RefNotFound(f"ref {name} has no reflog")
    else:
        entries = reg.refs.reflog_all()
    entries = entries[::-1]
    positions: dict[str, int] = {}
    rows = []
    for entry in entries:
        n = positions.get(entry.name, 0)
        positions[entry.name] = n + 1
        rows.append((n, entry))
    if limit is not None:
        rows = rows[:limit]
    if as_json:
        import msgspec

        data = [dict(entry.as_dict(), back=n) for n, entry in rows]
        write_out(msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n")
        return
    for n, e in rows:
        message = e.message.replace("\n", " ").replace("\t", " ")
        write_out(f"{e.name}@{{{n}}}\t{e.old}\t{e.new}\t{iso_time(e.when_ns)}\t{e.who}\t{message}\n")
