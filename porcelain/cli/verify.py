"""pacha verify: re-check a version's artifact, record and whole ancestry by hash."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pacha.cli.app import new_app
from porcelain.cli._output import print_json
from porcelain.cli.context import open_porcelain
from porcelain.cli.options import JsonOption, KeyringOption, VersionOption
from porcelain.policies.chain import verify_chain
from porcelain.policies.signed import verify_policy
from porcelain.registry import Registry
from porcelain.remotes.lazy import ensure_local
from porcelain.results import Version
from porcelain.signatures.verify import verify_version

app = new_app()


def _report(found: Any, named: Version | None, count: int, problems: list[str]) -> dict[str, Any]:
    """The --json report without its signatures."""
    return {
        "kind": found.kind,
        "ref": found.ref,  # name:version, or the run's name
        "name": named.name if named is not None else None,
        "version": named.version if named is not None else None,
        "id": found.record_id,
        "objects": count,
        "ok": not problems,
        "problems": problems,
    }


def policy_check(
    reg: Registry, named: Version | None, keyring: Path | None
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """verify --policy: (who signed what, problems, the policy chain of the name); a run is signed
    by nobody's policy."""
    if named is None:
        return [], ["--policy checks versions of models, datasets and recipes, not runs"], []
    links = verify_chain(reg, named.name, keyring)
    signed, problems = verify_policy(reg, named, keyring)
    chain_problems = [link["problem"] for link in links if link["problem"]]
    return signed, chain_problems + problems, links


@app.command(epilog="Example: pacha verify fraud-detector:1.0.0")
def verify(
    reference: Annotated[
        str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest, run-NNN or record id.")
    ],
    version: VersionOption = None,
    keyring: KeyringOption = None,
    policy: Annotated[
        bool,
        typer.Option(
            "--policy",
            help="Also require the version, and the change into its stage, signed by a key of a "
            "principal the access policy allows to write it, and each change of the policies "
            "covering it signed by an admin (the policy chain; docs/security.md).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Re-check a model, dataset or recipe version, or a run: record, artifact, ancestry, by hash,
    then each signature of the version against trusted keys, and policy.require_signed."""
    reg = open_porcelain()
    ensure_local(reg.plumbing, None, reference, version, progress=not as_json)  # lazy remote only
    found, count, problems = reg.verify(None, reference, version)
    named = getattr(found, "version", None)  # the Target's Version; None for a run
    checks, signature_problems = verify_version(reg, named, keyring) if named is not None else ([], [])
    problems = problems + signature_problems
    signed_by, policy_problems, links = policy_check(reg, named, keyring) if policy else ([], [], [])
    problems += policy_problems
    if as_json:
        report = _report(found, named, count, problems)
        report["signatures"] = [check.as_dict() for check in checks]
        if policy:
            report["policy"] = {"ok": not policy_problems, "signed": signed_by, "chain": links}
        print_json(report)
        if problems:
            raise typer.Exit(1)
        return
    for check in checks:
        if check.ok:
            typer.echo(check.text)
    for line in [link["signed"] for link in links if link["signed"]] + signed_by:
        typer.echo(line)
    for problem in problems:
        sys.stderr.write(f"error: {problem}\n")
    if problems:
        sys.stderr.write(f"{found.ref}: {len(problems)} problem(s) in {count} objects\n")
        raise typer.Exit(1)
    typer.echo(f"{found.ref}: ok ({count} objects: record, artifact and ancestry verified)")
