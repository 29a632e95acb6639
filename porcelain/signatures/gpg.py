"""The one place porcelain talks to GnuPG (python-gnupg over the system `gpg` program).

Signatures are OpenPGP detached signatures (RFC 4880 section 5.2, "Signature Packet",
signature type 0x00 over binary data; RFC 9580 section 5.2 for version 6 keys), ASCII-armored
(RFC 4880 section 6.2). Signing uses the caller's keyring ($GNUPGHOME or ~/.gnupg). Verifying
trusts either the keys of a keyring file (`--keyring FILE`, config `sign.keyring`: public keys
as `gpg --export` writes them, armored or binary), imported into a throwaway GNUPGHOME so that
exactly those keys are known, or, without one, the keys of the user's keyring whose validity
gpg computes as full or ultimate (its web of trust: your own keys, and keys you certified).

Every failure of gpg (program missing, key not found, expired or revoked, unreadable keyring)
becomes one InvalidInput line; a bad signature is not an error but a Checked with valid False.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from porcelain.errors import InvalidInput

# gpg's validity letters in a key listing (doc/DETAILS, field 2): expired, revoked, invalid
UNUSABLE = {"e": "has expired", "r": "was revoked", "i": "is invalid", "d": "is disabled"}


@dataclass(frozen=True)
class Signed:
    """A detached signature made: the armored bytes, the key's fingerprint and first user id."""

    armored: bytes
    fingerprint: str
    uid: str


@dataclass(frozen=True)
class Checked:
    """What gpg says of one detached signature over some bytes.

    valid: good signature by a key that is neither expired nor revoked. trusted: valid, and the
    key is one the verifier trusts (see the module docstring). reason: gpg's words when not
    valid ("no public key", "signing key was revoked", "signing key has expired", "signature
    bad"), or why it is not trusted.
    """

    valid: bool
    trusted: bool
    fingerprint: str  # the primary key's fingerprint (upper-case hex), "" if gpg could not tell
    uid: str
    reason: str


Verifier = Callable[[bytes, bytes], Checked]  # (armored signature, signed bytes) -> Checked


def _gpg(home: str | None = None) -> Any:
    """A python-gnupg handle on home (default: $GNUPGHOME, else gpg's own default)."""
    if shutil.which("gpg") is None:
        raise InvalidInput("signatures need GnuPG: install the gpg program (e.g. apt-get install gnupg)")
    import gnupg  # type: ignore[import-untyped]

    try:
        return gnupg.GPG(gnupghome=home or os.environ.get("GNUPGHOME"))
    except (OSError, ValueError, RuntimeError) as exc:
        raise InvalidInput(f"gpg cannot be used: {exc}; check GNUPGHOME and the gpg installation") from None


def secret_key(key: str) -> dict[str, Any]:
    """The one usable secret key that key (an id, fingerprint or email) names in the keyring.

    Raises InvalidInput when none or several match (gpg would quietly fall back to its default
    key), or the key has expired or was revoked.
    """
    try:
        matches = _gpg().list_keys(secret=True, keys=[key])
    except (OSError, ValueError, RuntimeError) as exc:
        raise InvalidInput(f"cannot list secret keys with gpg: {exc}") from None
    if len(matches) != 1:
        how_many = "no secret key" if not matches else f"{len(matches)} secret keys"
        raise InvalidInput(
            f"cannot sign with key {key!r}: {how_many} matches it in the keyring (`gpg -K` lists them; "
            "give a full fingerprint)"
        )
    found: dict[str, Any] = dict(matches[0])
    unusable = UNUSABLE.get(str(found.get("trust", "")))
    if unusable:
        raise InvalidInput(
            f"cannot sign with key {key!r}: it {unusable} (`gpg -K {found['fingerprint']}`); "
            "renew it (gpg --quick-set-expire) or sign with another key"
        )
    return found


def sign_detached(data: bytes, key: str) -> Signed:
    """Sign data with the secret key key names: a detached, ASCII-armored signature.

    Raises InvalidInput if the key is unusable (secret_key) or gpg cannot sign (its reason).
    """
    found = secret_key(key)
    fingerprint = str(found["fingerprint"])
    uid = str((found.get("uids") or [key])[0])
    try:
        result = _gpg().sign(data, keyid=fingerprint, detach=True, binary=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise InvalidInput(f"cannot sign with key {key!r}: {exc}") from None
    if not result.data or result.fingerprint != fingerprint:
        reason = getattr(result, "status", None) or "gpg could not sign"
        raise InvalidInput(f"cannot sign with key {key!r}: {reason} (is its passphrase available?)")
    return Signed(bytes(result.data), fingerprint, uid)


def read_keyring(keyring: Path) -> bytes:
    """The bytes of a keyring file (InvalidInput naming it if it cannot be read)."""
    try:
        return keyring.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read keyring {keyring}: {exc.strerror}") from None


@contextmanager
def _home(keyring: Path | None) -> Iterator[str | None]:
    """None (the user's keyring), or a throwaway GNUPGHOME holding only keyring's keys."""
    if keyring is None:
        yield None
        return
    keys = read_keyring(keyring)
    with tempfile.TemporaryDirectory(prefix="pacha-gpg-") as home:
        os.chmod(home, 0o700)
        try:
            imported = _gpg(home).import_keys(keys)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InvalidInput(f"cannot import keyring {keyring}: {exc}") from None
        if not imported.fingerprints:
            raise InvalidInput(
                f"keyring {keyring} holds no OpenPGP public key (export some with `gpg --export -a KEYID`)"
            )
        yield home


@contextmanager
def verifier(keyring: Path | None = None) -> Iterator[Verifier]:
    """A function (armored, data) -> Checked trusting keyring's keys (all of them) if given,
    else the user's keys of full or ultimate validity."""
    with _home(keyring) as home:
        gpg = _gpg(home)

        def check(armored: bytes, data: bytes) -> Checked:
            with tempfile.NamedTemporaryFile(suffix=".asc") as sig:
                sig.write(armored)
                sig.flush()
                try:
                    result = gpg.verify_data(sig.name, data)
                except (OSError, ValueError, RuntimeError) as exc:
                    raise InvalidInput(f"gpg could not check a signature: {exc}") from None
            return _judged(result, keyring is not None)

        yield check


def _judged(result: Any, every_key_trusted: bool) -> Checked:
    """A Checked from python-gnupg's Verify result."""
    fingerprint = str(getattr(result, "pubkey_fingerprint", None) or result.fingerprint or "").upper()
    uid = str(result.username or "")
    if not result.valid:
        reason = getattr(result, "key_status", None) or result.status or "no valid signature"
        if reason in ("signature error", "no public key") and getattr(result, "key_id", None):
            reason = f"no public key {result.key_id} among the trusted keys (unknown key)"
        return Checked(False, False, fingerprint or str(result.key_id or ""), uid, str(reason))
    level = result.trust_level if result.trust_level is not None else -1
    if every_key_trusted or level >= result.TRUST_FULLY:
        return Checked(True, True, fingerprint, uid, "")
    why = (
        f"key {fingerprint} is not trusted (validity {result.trust_text or 'unknown'}): give --keyring FILE "
        "or set sign.keyring, or certify it (gpg --lsign-key)"
    )
    return Checked(True, False, fingerprint, uid, why)
