"""pacha init: create a registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._crypto_options import KeyFileOption
from pacha.cli.app import new_app, write_out
from pacha.crypto.admin import init_encrypted
from pacha.crypto.passphrase import use_key_file
from pacha.registry import init_registry

app = new_app()


@app.command(epilog="Example: pacha init ~/.pacha; PACHA_PASSPHRASE=... pacha init --encrypt")
def init(
    path: Annotated[Path | None, typer.Argument(help="Directory to become the registry.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing.")] = False,
    shared: Annotated[
        str | None,
        typer.Option(
            "--shared",
            help="private (the default): only you can read it (directories 0700, files 0600); "
            "group: every member of the directory's group can write it (setgid directories, "
            "group-writable files, whatever each one's umask); all: also readable by everybody; "
            "umask: each user's umask. Recorded as core.shared.",
        ),
    ] = None,
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Encrypt every object (AES-256-GCM under a master key wrapped with the passphrase; "
            "see docs/security.md).",
        ),
    ] = False,
    key_file: KeyFileOption = None,
) -> None:
    """Create an empty registry at PATH (default: $PACHA_DIR, else ./.pacha)."""
    use_key_file(key_file)
    registry, created = init_registry(path, shared)
    sealed = encrypt and init_encrypted(registry)
    if not quiet:
        verb = "Initialized empty" if created else "Reinitialized existing"
        what = "encrypted Pacha registry" if sealed else "Pacha registry"
        write_out(f"{verb} {what} in {registry.root}\n")
