"""Options the encryption commands share: where the passphrase comes from (never argv)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="File holding the passphrase (mode 0600; else PACHA_PASSPHRASE, else a prompt).",
        show_default=False,
    ),
]
NewKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--new-key-file",
        help="File holding the new passphrase (else PACHA_NEW_PASSPHRASE, else typed twice).",
        show_default=False,
    ),
]
RecipientOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--recipient",
        help="Seal for this recipient's public key file (`pacha key generate` makes one; repeatable); "
        "no passphrase then.",
        show_default=False,
    ),
]
IdentityOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--identity",
        help="Private key file (mode 0600) of a recipient the file was sealed to (repeatable).",
        show_default=False,
    ),
]
