"""Recipe signatures of the first kind, pinned in the card (read only; new ones are attached).

Recipes registered with --sign before signatures became attachments (porcelain/signatures)
hold `card["signature"] = {"ref": <fingerprint>, "id": <signature record id>}`: a record
{"type": "signature", "signed": <id of the TOML's bytes>, "signature": <armored detached
OpenPGP signature blob, RFC 4880 section 5.2>, "fingerprint", "key", "author", "created_ns"}.
`recipe validate` still checks those against the TOML; nothing writes them any more.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pacha
from porcelain.errors import CheckFailed, InvalidInput


def _gpg() -> Any:
    import shutil

    import gnupg

    if shutil.which("gpg") is None:
        raise InvalidInput("signing needs GnuPG: install the gpg program (e.g. apt-get install gnupg)")
    return gnupg.GPG(gnupghome=os.environ.get("GNUPGHOME"))


def verify(reg: Any, pinned: dict[str, str], data: bytes) -> str:
    """Check a pinned signature against data; returns who signed, or raises CheckFailed."""
    import msgspec

    doc = msgspec.json.decode(reg.plumbing.objects.read(pinned["id"]))
    if doc.get("type") != "signature":
        raise CheckFailed(f"object {pinned['id']} is not a signature")
    if doc["signed"] != pacha.hash_bytes(data):
        raise CheckFailed("the signature was made over other bytes than these")
    armored = reg.plumbing.objects.read(doc["signature"])
    with tempfile.NamedTemporaryFile(suffix=".asc") as sig_file:
        sig_file.write(armored)
        sig_file.flush()
        result = _gpg().verify_data(sig_file.name, data)
    if not result.valid:
        raise CheckFailed(f"bad or unverifiable signature by {doc['fingerprint']}: {result.status}")
    return f"{result.username or doc['key']} ({result.fingerprint})"
