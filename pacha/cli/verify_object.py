"""pacha verify-object: re-hash objects and check their structure."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.verify import check_object, verify_closure

app = new_app()


@app.command(epilog="Example: pacha verify-object -v models/fraud-detector/1.0.0")
def verify_object(
    specs: Annotated[list[str], typer.Argument(help="Ids, prefixes or ref names.")],
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Print 'ok <id>' for good objects.")
    ] = False,
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Also everything they link to (trees, records).")
    ] = False,
) -> None:
    """Verify objects: decode, re-hash and check structure; exit 1 if any is bad."""
    reg = open_reg()
    bad = 0
    if recursive:
        count, problems = verify_closure(reg.objects, [reg.resolve(spec) for spec in specs])
        for problem in problems:
            sys.stderr.write(f"error: {problem}\n")
        if verbose:
            write_out(f"checked {count} objects, {len(problems)} problem(s)\n")
        if problems:
            raise typer.Exit(1)
        return
    for spec in specs:
        object_id = reg.resolve(spec)
        result = check_object(reg.objects, object_id)
        if result.problem:
            bad += 1
            sys.stderr.write(f"error: {result.problem}\n")
        elif verbose:
            write_out(f"ok {object_id} {result.kind}\n")
    if bad:
        raise typer.Exit(1)
