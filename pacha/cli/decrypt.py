"""pacha decrypt: open a sealed file made by `download --encrypt` (no registry needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._crypto_options import IdentityOption, KeyFileOption
from pacha.cli.app import new_app, write_out
from pacha.crypto.passphrase import use_key_file
from pacha.crypto.share import open_sealed

app = new_app()


@app.command(
    epilog="Example: PACHA_PASSPHRASE=... pacha decrypt model.apr.sealed -o model.apr; "
    "pacha decrypt model.apr.sealed --identity ~/.pacha-key -o model.apr"
)
def decrypt(
    file: Annotated[Path, typer.Argument(help="The sealed file.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Where to write (default: the recorded name, here)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
    key_file: KeyFileOption = None,
    identity: IdentityOption = None,
) -> None:
    """Decrypt a sealed file into the file or folder it holds, checked against its id: with
    its passphrase, or the private key (--identity) of a recipient it was sealed to."""
    use_key_file(key_file)
    dest, meta = open_sealed(file, output, force, identity or ())
    write_out(f"{meta.get('source') or meta.get('id')} -> {dest}\n")
