"""`pacha model|data|recipe verify` and `restore`, and the --latest option of state changes.

Commands that change a version (delete, stage, lineage add) act only on a version
named explicitly: NAME:VER, NAME -v VER, NAME@STAGE, a record id, or NAME with
--latest (a bare NAME is refused; see porcelain/resolve.py).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pacha.cli._app import RegistryOption
from porcelain.cli._versions import JsonOption, LatestOption, VersionOption, open_porcelain

__all__ = ["LatestOption", "add_change_commands", "explicit"]


def explicit(reference: str, version: str | None, latest: bool) -> str:
    """The reference with --latest applied (NAME --latest is NAME:latest)."""
    from porcelain.errors import InvalidInput

    if not latest:
        return reference
    if version is not None or ":" in reference or "@" in reference:
        raise InvalidInput(f"give either {reference!r} with a version, or NAME --latest, not both")
    return f"{reference}:latest"


def add_change_commands(app: typer.Typer, kind: str, noun: str) -> None:
    """Add verify, restore and used-by to the command group of kind."""

    @app.command("verify", epilog=f"Example: pacha {noun} verify fraud-detector:1.0.0")
    def verify(
        reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest, NAME or id.")],
        version: VersionOption = None,
        as_json: JsonOption = False,
        registry: RegistryOption = None,
    ) -> None:
        """Re-check a version by hash: record, artifact, every ancestor and pinned reference."""
        from porcelain.cli._output import print_json

        found, count, problems = open_porcelain(registry).verify(kind, reference, version)
        if as_json:
            print_json(
                {
                    "kind": kind,
                    "ref": found.ref,
                    "id": found.record_id,
                    "objects": count,
                    "ok": not problems,
                    "problems": problems,
                }
            )
        else:
            for problem in problems:
                sys.stderr.write(f"error: {problem}\n")
            if problems:
                sys.stderr.write(f"{found.ref}: {len(problems)} problem(s) in {count} objects\n")
            else:
                typer.echo(f"{found.ref}: ok ({count} objects: record, artifact and ancestry verified)")
        if problems:
            raise typer.Exit(1)

    @app.command("restore", epilog=f"Example: pacha {noun} restore fraud-detector:0.9.0")
    def restore(
        reference: Annotated[
            str, typer.Argument(help="NAME:VER of a deleted or expired version, or its id.")
        ],
        version: VersionOption = None,
        message: Annotated[str, typer.Option("-m", "--message", help="Why, for the audit trail.")] = "",
        as_json: JsonOption = False,
        registry: RegistryOption = None,
    ) -> None:
        """Bring back a deleted or expired version from the reflog (while gc has not removed it).

        It comes back in development, whatever stage it had: stage it again."""
        from porcelain.cli._output import print_json

        found, was = open_porcelain(registry).restore(kind, reference, version=version, why=message)
        if as_json:
            print_json(
                {
                    "ref": found.ref,
                    "id": found.record_id,
                    "stage": found.stage,
                    "was_stage": was.stage,
                    "was_expired": was.expired,
                }
            )
            return
        where = f" in {found.stage}" if found.stage != "-" else ""
        before = f" (it was in {was.stage} when it went)" if was.stage and was.stage != found.stage else ""
        typer.echo(f"restored {found.ref} ({found.record_id[:12]}){where}{before}")

    @app.command("used-by", epilog=f"Example: pacha {noun} used-by transactions:1.0.0 --kind model")
    def used_by(
        reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest, NAME or id.")],
        version: VersionOption = None,
        kinds: Annotated[
            list[str] | None,
            typer.Option("--kind", help="Only users of this kind: model, data, recipe or run (repeatable)."),
        ] = None,
        as_json: JsonOption = False,
        registry: RegistryOption = None,
    ) -> None:
        """Which versions and runs used this version: trained or evaluated on it, derived from it."""
        from porcelain.cli._output import print_json
        from porcelain.errors import InvalidInput
        from porcelain.lineage.usage import used_by as find_users

        wanted = {"dataset" if k == "data" else k for k in kinds or []}
        unknown = wanted - {"model", "dataset", "recipe", "run"}
        if unknown:
            raise InvalidInput(f"unknown --kind {', '.join(sorted(unknown))}: use model, data, recipe or run")
        found, uses = find_users(open_porcelain(registry), kind, reference, version, wanted or None)
        if as_json:
            print_json(
                {
                    "ref": found.ref,
                    "id": found.record_id,
                    "used_by": [
                        {"kind": u.kind, "ref": u.label, "id": u.record_id, "how": u.how, "state": u.state}
                        for u in uses
                    ],
                }
            )
            return
        if not uses:
            typer.echo(f"nothing recorded as using {found.ref}")
        for u in uses:
            typer.echo(f"{u.kind}\t{u.label}\t{u.how}\t{u.state}")
