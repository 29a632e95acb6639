"""Options and arguments several porcelain commands share, each described once.

Wording rule for every option's help: a sentence ending with a period; what the value is,
then its default or how it combines with other options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from porcelain.errors import InvalidInput
from porcelain.signatures.gpg import read_keyring

VersionOption = Annotated[
    str | None, typer.Option("-v", "--version", help="Version (long form of NAME:VER).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SigningKeyOption = Annotated[  # the key `pacha sign` and `pacha policy sign` sign with
    str | None,
    typer.Option("--key", metavar="KEYID", help="Key id, fingerprint or email (default: user.signingkey)."),
]
LatestOption = Annotated[
    bool, typer.Option("--latest", help="Act on the latest version of NAME (it must be asked for).")
]
MessageOption = Annotated[str, typer.Option("-m", "--message", help="Why, for the audit trail.")]


def _keyring_given(keyring: Path | None) -> Path | None:
    """A --keyring FILE is read when the command starts, whatever it then verifies: a mistyped
    path was ignored (exit 0) on a version without signatures and refused on one with them."""
    if keyring is not None:
        read_keyring(keyring)
    return keyring


KeyringOption = Annotated[
    Path | None,
    typer.Option(
        "--keyring",
        metavar="FILE",
        help="Trust only the OpenPGP public keys in FILE (gpg --export; default: sign.keyring).",
        callback=_keyring_given,
    ),
]
SignOption = Annotated[
    str | None,
    typer.Option(
        "--sign",
        metavar="KEYID",
        help="Sign with this OpenPGP key (id, fingerprint or email); with sign.always: user.signingkey.",
    ),
]
# register's input options, shared by model and data
FilenameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="File name to record (default: the path's own name; required when PATH is - for "
        "standard input, or a pipe such as <(cmd)).",
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Leave out of a folder the paths matching PATTERN (gitignore syntax, after the "
        "folder's .pachaignore), repeatable.",
    ),
]
SemverOption = Annotated[str | None, typer.Option("-v", "--version", help="SemVer version, e.g. 1.2.0.")]


def explicit(reference: str, version: str | None, latest: bool) -> str:
    """The reference with --latest applied (NAME --latest is NAME:latest).

    Commands that change a version (delete, stage, lineage add) act only on a version
    named explicitly: NAME:VER, NAME -v VER, NAME@STAGE, a record id, or NAME with
    --latest (a bare NAME is refused; see porcelain/resolve.py).
    """
    if not latest:
        return reference
    if version is not None or ":" in reference or "@" in reference:
        raise InvalidInput(f"give either {reference!r} with a version, or NAME --latest, not both")
    return f"{reference}:latest"
