"""Detached OpenPGP signatures (python-gnupg + the gpg binary) over what a version holds.

A signature is a blob (the ASCII-armored detached signature) plus a record of type
"signature" naming the signed blob, the signing key's fingerprint and the signer.
The version's card pins the signature record, so it is part of the version's
hash-linked closure; `recipe validate` checks it against the bytes.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import pacha
from porcelain.errors import CheckFailed, InvalidInput


def _gpg() -> Any:
    import shutil

    import gnupg

    if shutil.which("gpg") is None:
        raise InvalidInput("signing needs GnuPG: install the gpg program (e.g. apt-get install gnupg)")
    return gnupg.GPG(gnupghome=os.environ.get("GNUPGHOME"))


def sign(data: bytes, key: str, who: str) -> tuple[list[tuple[bytes, str]], dict[str, str]]:
    """Sign data with key; returns the objects to store and the pinned reference for the card."""
    gpg = _gpg()
    # gpg would quietly fall back to its default key: find the asked-for secret key first
    matches = gpg.list_keys(secret=True, keys=[key])
    if len(matches) != 1:
        found = "no secret key" if not matches else f"{len(matches)} secret keys"
        raise InvalidInput(
            f"cannot sign with key {key!r}: {found} matches it in the keyring (gpg -K lists them)"
        )
    fingerprint = matches[0]["fingerprint"]
    result = gpg.sign(data, keyid=fingerprint, detach=True, binary=False)
    if not result.data or result.fingerprint != fingerprint:
        reason = getattr(result, "status", None) or "gpg could not sign"
        raise InvalidInput(
            f"cannot sign with key {key!r}: {reason} (is it in your keyring with its secret key?)"
        )
    signature = bytes(result.data)
    signature_id = pacha.hash_bytes(signature)
    body = {
        "signed": pacha.hash_bytes(data),
        "signature": signature_id,
        "fingerprint": result.fingerprint,
        "key": key,
        "author": who,
        "created_ns": time.time_ns(),
    }
    record = pacha.make_record("signature", body, [body["signed"], signature_id])
    return [(signature, "blob"), (record, "record")], {
        "ref": result.fingerprint,
        "id": pacha.hash_bytes(record),
    }


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
