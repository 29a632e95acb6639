"""pacha gc: remove objects nothing reaches any more (after a grace period)."""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.errors import InvalidInput
from pacha.gc import collect
from pacha.registry import Registry

app = new_app()

PruneOption = Annotated[
    str | None,
    typer.Option("--prune", help="Remove unreachable objects written before DATE (ISO), or 'now'."),
]
DryRunOption = Annotated[bool, typer.Option("-n", "--dry-run", help="Only print what would go.")]
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No summary on stderr.")]


@app.command(epilog="Example: pacha gc --prune 2026-01-01 --dry-run")
def gc(
    prune: PruneOption = None,
    dry_run: DryRunOption = False,
    quiet: QuietOption = False,
) -> None:
    """Remove unreachable objects older than the grace period (default 2 weeks); --dry-run lists them."""
    run_gc(open_reg(), parse_prune(prune), dry_run, quiet)


def parse_prune(prune: str | None) -> float | None:
    """--prune DATE|now as a Unix time (None: the default grace period)."""
    import time
    from datetime import UTC, datetime

    if prune is None:
        return None
    if prune == "now":
        return time.time() + 1
    try:
        moment = datetime.fromisoformat(prune)
    except ValueError:
        raise InvalidInput(f"--prune {prune!r}: give an ISO date such as 2026-01-31, or 'now'") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def run_gc(
    reg: Registry, cutoff: float | None, dry_run: bool, quiet: bool, assume_expired: Collection[str] = ()
) -> None:
    """Collect, listing what goes on a dry run, and summarise on stderr."""

    def show(object_id: str) -> None:
        if dry_run:
            write_out(f"would remove {object_id}\n")

    report = collect(reg, cutoff, dry_run, show, assume_expired)
    if not quiet:
        verb = "would remove" if dry_run else "removed"
        sys.stderr.write(
            f"{report.objects} objects, {report.reachable} reachable; {verb} {len(report.removed)} "
            f"({report.freed_bytes // 1024} KiB) and {report.temp_removed} stale temp file(s); "
            f"{report.kept_young} unreachable but within the grace period\n"
        )
