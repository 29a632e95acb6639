"""pacha sign: sign a version's record with an OpenPGP key (a detached signature kept as objects)."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app
from porcelain.cli._output import print_json
from porcelain.cli.context import open_porcelain
from porcelain.cli.options import JsonOption, SigningKeyOption, VersionOption
from porcelain.signatures.attach import sign_version

app = new_app()


@app.command(epilog="Example: pacha sign fraud-detector:1.0.0 --key ada@example.com")
def sign(
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest or record id.")],
    key: SigningKeyOption = None,
    version: VersionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a model, dataset or recipe version's record; `pacha verify` checks the signature."""
    found, made = sign_version(open_porcelain(), reference, key, version)
    if as_json:
        print_json(
            {
                "kind": found.kind,
                "name": found.name,
                "version": found.version,
                "id": found.record_id,
                "signature": made.record_id,
                "ref": made.ref,
                "fingerprint": made.fingerprint,
                "uid": made.uid,
                "already": made.already,
            }
        )
        return
    if made.already:
        typer.echo(f"{found.ref} is already signed by {made.signer}")
        return
    typer.echo(f"signed {found.ref} ({found.record_id[:12]}) by {made.signer}")
