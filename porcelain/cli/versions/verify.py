"""`pacha model|data|recipe verify`: re-check a version and its ancestry by hash."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from porcelain.cli._output import print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption, KeyringOption, VersionOption
from porcelain.remotes.lazy import ensure_local
from porcelain.results import Version
from porcelain.signatures.verify import verify_version

EXAMPLE = "pacha {noun} verify fraud-detector:1.0.0"


def verify(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest, NAME or id.")],
    version: VersionOption = None,
    keyring: KeyringOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-check a version by hash: record, artifact, every ancestor and pinned reference; then its
    signatures against trusted keys, and policy.require_signed."""
    kind = kind_of(ctx).kind
    reg = open_porcelain()
    ensure_local(reg.plumbing, kind, reference, version, progress=not as_json)  # lazy remote only
    found, count, problems = reg.verify(kind, reference, version)
    assert isinstance(found, Version)
    checks, signature_problems = verify_version(reg, found, keyring)
    problems = problems + signature_problems
    if as_json:
        print_json(
            {
                "kind": kind,
                "ref": found.ref,
                "id": found.record_id,
                "objects": count,
                "ok": not problems,
                "problems": problems,
                "signatures": [check.as_dict() for check in checks],
            }
        )
    else:
        for check in checks:
            if check.ok:
                typer.echo(check.text)
        for problem in problems:
            sys.stderr.write(f"error: {problem}\n")
        if problems:
            sys.stderr.write(f"{found.ref}: {len(problems)} problem(s) in {count} objects\n")
        else:
            typer.echo(f"{found.ref}: ok ({count} objects: record, artifact and ancestry verified)")
    if problems:
        raise typer.Exit(1)
