"""pacha init: create a registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._crypto_options import KeyFileOption
from pacha.cli.app import new_app, write_out
from pacha.crypto.admin import init_encrypted, is_encrypted
from pacha.crypto.passphrase import use_key_file
from pacha.refs.store import close_all
from pacha.registry import Registry, default_init_path, init_registry

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
    existed = (Path(path).expanduser() if path else default_init_path()).exists()
    registry, created = init_registry(path, shared)
    try:
        sealed = encrypt and init_encrypted(registry)
    except BaseException:
        if created:  # a refused `init --encrypt` (short passphrase, ^C) leaves no plain registry
            _unmake(registry, existed)
        raise
    if not quiet:
        verb = "Initialized empty" if created else "Reinitialized existing"
        what = "encrypted Pacha registry" if sealed or is_encrypted(registry.root) else "Pacha registry"
        write_out(f"{verb} {what} in {registry.root}\n")


def _unmake(registry: Registry, keep_dir: bool) -> None:
    """Remove what init_registry just created (the directory itself unless it was there)."""
    import shutil

    close_all()  # the ref database just created, before its files go
    if not keep_dir:
        shutil.rmtree(registry.root, ignore_errors=True)
        return
    for child in registry.root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
