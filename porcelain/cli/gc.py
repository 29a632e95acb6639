"""pacha gc, porcelain edition: plumbing's gc plus --keep-last N (retention by version)."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, write_out
from pacha.cli.gc import DryRunOption, PruneOption, QuietOption, parse_prune, run_gc
from pacha.gc import collect
from porcelain import layout
from porcelain.cli._output import print_json
from porcelain.cli.context import open_porcelain

app = new_app()


@app.command(epilog="Example: pacha gc --keep-last 3 --prune now --dry-run")
def gc(
    prune: PruneOption = None,
    keep_last: Annotated[
        int | None,
        typer.Option(
            "--keep-last",
            help="Keep the newest N versions of each model, dataset and recipe, plus any in staging or "
            "production; expire the others (their reflog stays as the audit trail).",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    quiet: QuietOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was (or would be) expired and removed as JSON.")
    ] = False,
) -> None:
    """Remove unreachable objects older than the grace period (default 2 weeks); --keep-last N first
    expires all but the newest N versions of each name."""
    cutoff = parse_prune(prune)
    reg = open_porcelain()
    expired: list[str] = []
    found = []
    if keep_last is not None:
        found = reg.beyond_keep_last(keep_last)
        verb = "would expire" if dry_run else "expired"
        for version in found:
            if not as_json:
                write_out(f"{verb} {version.kind} {version.name}:{version.version} ({version.stage})\n")
            expired.append(layout.version_ref(version.kind, version.name, version.version))
            if version.kind in layout.STAGED:
                expired.append(layout.stage_ref(version.kind, version.name, version.stage, version.version))
        if not dry_run:
            reg.expire_versions(found, f"gc --keep-last {keep_last}")
            expired = []
    if not as_json:
        run_gc(reg.plumbing, cutoff, dry_run, quiet, expired)
        return
    import dataclasses

    report = collect(reg.plumbing, cutoff, dry_run, lambda object_id: None, expired)
    print_json(
        {
            "dry_run": dry_run,
            "expired": [
                {"kind": v.kind, "name": v.name, "version": v.version, "stage": v.stage} for v in found
            ],
            **dataclasses.asdict(report),
        }
    )
