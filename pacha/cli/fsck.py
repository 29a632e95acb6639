"""pacha fsck: verify every object, link and ref of the registry."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.fsck_checks import fsck as run_fsck
from pacha.refs.integrity import recover_refs

app = new_app()


@app.command(epilog="Example: pacha fsck && echo registry healthy")
def fsck(
    jobs: Annotated[int, typer.Option("-j", "--jobs", help="Threads verifying in parallel.", min=1)] = 2,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No summary line on stderr.")] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Rewrite each damaged copy of an object from a good copy of it (loose or packed); "
            "say what could not be repaired.",
        ),
    ] = False,
    recover_refs: Annotated[
        bool,
        typer.Option(
            "--recover-refs",
            help="Rebuild a damaged or lost ref database from the ref snapshot (written by gc and "
            "repack) and the version records; the old one is moved to refs.damaged-<time>/.",
        ),
    ] = False,
) -> None:
    """Verify every object (re-hash), every link and every ref; exit 1 on damage to anything reachable.
    Leftovers of interrupted operations (warnings) and dangling links among unreachable objects (notes) go
    to stderr and do not fail."""

    if recover_refs:
        _recover()
        return

    def report(problem: str) -> None:
        write_out(problem + "\n")
        sys.stdout.buffer.flush()

    def warn(text: str) -> None:
        sys.stderr.write(text + "\n")

    result = run_fsck(open_reg(), jobs=jobs, on_problem=report, on_warning=warn, repair=repair)
    for line in result.hints + result.repaired:
        write_out(line + "\n")
    if not quiet:
        if repair and result.repaired:
            status = "ok after repair" if result.ok else f"{result.unrepaired} problem(s) left after repair"
        else:
            status = "ok" if result.ok else f"{len(result.problems)} problem(s)"
        extra = [
            f"{len(v)} {k}" for k, v in (("warning(s)", result.warnings), ("note(s)", result.notes)) if v
        ]
        status += f" ({', '.join(extra)})" if extra else ""
        sys.stderr.write(f"checked {result.objects} objects, {result.refs} refs: {status}\n")
    if not result.ok:
        raise typer.Exit(1)


def _recover() -> None:
    reg = open_reg()
    with reg.collecting():  # no gc and no writer meanwhile
        done = recover_refs(reg)
    for note in done.notes:
        sys.stderr.write(f"note: {note}\n")
    if done.moved_aside:
        sys.stderr.write(f"the old ref database is kept in {done.moved_aside}\n")
    if not done.rebuilt:
        write_out(
            f"the ref database is sound; restored {done.from_records} lost version(s) from their records\n"
        )
        return
    write_out(
        f"rebuilt the ref database: {done.from_snapshot} ref(s) from the ref snapshot and "
        f"{done.from_records} version(s) from their records ({done.skipped_missing} snapshot ref(s) "
        "skipped: object gone); run `pacha reindex`, then check the versions and stages\n"
    )
