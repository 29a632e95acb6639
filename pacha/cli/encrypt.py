"""pacha encrypt: encrypt an existing registry in place (resumable)."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli._crypto_options import KeyFileOption
from pacha.cli.app import new_app, open_reg, write_out
from pacha.crypto.admin import encrypt as run_encrypt
from pacha.crypto.passphrase import use_key_file

app = new_app()


@app.command(epilog="Example: PACHA_PASSPHRASE=... pacha encrypt (or --key-file FILE, or type it when asked)")
def encrypt(
    key_file: KeyFileOption = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing.")] = False,
) -> None:
    """Encrypt every object of the registry in place; interrupted, run it again to finish."""
    use_key_file(key_file)
    created, report = run_encrypt(open_reg())
    if not quiet:
        start = "created the keyring; " if created else ""
        write_out(
            f"{start}sealed {report.loose} loose object(s) and {report.entries} packed object(s) in "
            f"{report.packs} pack(s); {report.already} were sealed already\n"
        )
