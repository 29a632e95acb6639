"""`pacha model|data|recipe download`: write a version's file or folder, verified (or sealed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._crypto_options import NewKeyFileOption, RecipientOption
from pacha.crypto.share import seal_artifact
from pacha.errors import UsageError
from porcelain.cli._output import print_json
from porcelain.cli.context import kind_of, open_porcelain
from porcelain.cli.options import JsonOption, VersionOption
from porcelain.cli.version_view import version_json
from porcelain.remotes.lazy import ensure_local

EXAMPLE = "pacha {noun} download fraud-detector:1.0.0 -o model.apr"


def download(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME@STAGE, NAME or id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File or directory to write.")],
    version: VersionOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace OUTPUT if it holds other contents.")
    ] = False,
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Write a sealed file (AES-256-GCM) under a new passphrase (Argon2id; "
            "PACHA_NEW_PASSPHRASE, --new-key-file, or typed twice) or for --recipient public keys; "
            "`pacha decrypt` opens it.",
        ),
    ] = False,
    new_key_file: NewKeyFileOption = None,
    recipient: RecipientOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a version's file or folder, verified as written, all or nothing."""
    if not encrypt and (recipient or new_key_file):  # else the option was ignored, unsealed bytes written
        given = "--recipient" if recipient else "--new-key-file"
        raise UsageError(f"{given} seals the download: give --encrypt with it")
    if recipient and new_key_file:  # sealed to the recipients, the key file was ignored
        raise UsageError(
            "give --recipient or --new-key-file, not both: a sealed file opens with its recipients' keys "
            "or with a passphrase"
        )
    kind = kind_of(ctx).kind
    reg = open_porcelain()
    ensure_local(reg.plumbing, kind, reference, version, progress=not as_json)  # lazy remote only
    if encrypt:
        found = reg.get(kind, reference, version)
        record = found.record
        seal_artifact(
            reg.plumbing.objects,
            record.artifact,
            record.artifact_kind,
            record.filename,
            found.ref,
            output,
            force,
            new_key_file,
            recipient or (),
        )
        if as_json:
            print_json(dict(version_json(found), path=str(output), encrypted=True))
        else:
            typer.echo(f"{found.ref} -> {output} (sealed)")
        return
    found, placed = reg.download_placed(kind, reference, output, version=version, force=force)
    if as_json:
        print_json(dict(version_json(found), path=str(placed.path), written=placed.written))
    else:
        typer.echo(
            f"{found.ref} -> {placed.path}" + ("" if placed.written else " (already there; up to date)")
        )
