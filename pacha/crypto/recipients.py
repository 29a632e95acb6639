"""Recipients' public keys for sealed files: X25519 key agreement, HKDF-SHA256, AES-256-GCM.

The scheme is age's X25519 recipient stanza (age-encryption.org/v1) with AES-256-GCM in
place of ChaCha20-Poly1305, built from `cryptography`, which Pacha already depends on:

- a recipient is an X25519 public key (RFC 7748, section 5), 32 bytes; an identity is
  its private key;
- a sealed file has one random 32-byte file key; for each recipient the writer makes a
  fresh ephemeral X25519 key pair, computes the shared secret with the recipient's public
  key (an all-zero result, from a low-order point, is refused: RFC 7748, section 6.1),
  derives a 32-byte wrap key with HKDF-SHA256 (RFC 5869): salt = ephemeral public key ‖
  recipient public key, info = WRAP_INFO, and seals the file key with AES-256-GCM (NIST
  SP 800-38D) under it, nonce 12 zero bytes (each wrap key is used once), no associated
  data. A stanza is the ephemeral public key (32 bytes) and the sealed file key (48);
- the stanzas name no recipient (as in age): an identity tries each one.

Why this and not OpenPGP (python-gnupg): no gpg binary, agent or keyring state on either
side, keys are one line of text, and the header can be described byte for byte
(docs/format.md, "Sealed files") so that another program can read it with any X25519,
HKDF and AES-GCM library.

Key files (text; `#` lines are comments): a recipient file holds a line
`pacha-x25519-public <64 hex>`, an identity file `pacha-x25519-secret <64 hex>` and must not
be readable by group or others. `pacha key generate FILE` writes both (FILE, FILE.pub).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pacha.crypto.aead import TAG_LEN, Cipher, TagMismatch
from pacha.crypto.errors import KeyringError
from pacha.pathnames import not_a_directory

PUBLIC_LABEL = "pacha-x25519-public"
SECRET_LABEL = "pacha-x25519-secret"
WRAP_INFO = b"pacha sealed file v1 X25519"
KEY_LEN = 32
FILE_KEY_LEN = 32
STANZA_LEN = KEY_LEN + FILE_KEY_LEN + TAG_LEN  # ephemeral public key + sealed file key (80 bytes)
_ZERO_NONCE = bytes(12)


def _wrap_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> Cipher:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if shared == bytes(KEY_LEN):
        raise ValueError("X25519 gave the all-zero shared secret (a low-order point)")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=WRAP_INFO)
    return Cipher(hkdf.derive(shared))


def wrap(file_key: bytes, recipient: bytes) -> bytes:
    """A stanza (STANZA_LEN bytes) that gives file_key to the holder of recipient's private key."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
        cipher = _wrap_key(shared, ephemeral_public, recipient)
    except ValueError:
        raise KeyringError(f"recipient key {recipient.hex()} is not a usable X25519 public key") from None
    out = bytearray(STANZA_LEN)
    out[:KEY_LEN] = ephemeral_public
    cipher.seal_into(_ZERO_NONCE, file_key, b"", memoryview(out)[KEY_LEN:])
    return bytes(out)


def unwrap(stanza: bytes, identity: bytes) -> bytes | None:
    """The file key a stanza holds, if identity (an X25519 private key) is its recipient's."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    private = X25519PrivateKey.from_private_bytes(identity)
    ephemeral = stanza[:KEY_LEN]
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        cipher = _wrap_key(shared, ephemeral, private.public_key().public_bytes_raw())
        return cipher.open(_ZERO_NONCE, stanza[KEY_LEN:], b"")
    except (ValueError, TagMismatch):
        return None


def generate(path: Path) -> str:
    """Write a new identity to path (mode 0600, refused if it exists) and its recipient to
    path.pub; returns the recipient line."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    secret = private.private_bytes_raw()
    public = f"{PUBLIC_LABEL} {private.public_key().public_bytes_raw().hex()}"
    pub_path = path.with_name(path.name + ".pub")
    for p in (path, pub_path):
        if p.exists():
            raise KeyringError(f"{p} exists: remove it or give another file name")
    identity = f"# pacha identity (keep it private)\n# {public}\n{SECRET_LABEL} {secret.hex()}\n"
    _write_new(path, identity, 0o600)
    try:
        _write_new(pub_path, f"# pacha recipient: give this file to whoever seals for you\n{public}\n", 0o644)
    except BaseException:
        path.unlink(missing_ok=True)  # both files or neither
        raise
    return public


def _write_new(path: Path, text: str, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        why = not_a_directory(path) if isinstance(exc, NotADirectoryError) else None
        raise KeyringError(f"cannot create {path}: {why or exc.strerror}") from None
    try:
        with open(fd, "w", encoding="ascii") as f:
            os.fchmod(fd, mode)
            f.write(text)
            f.flush()
            os.fsync(fd)
    except OSError as exc:
        path.unlink(missing_ok=True)  # never a half-written key file
        raise KeyringError(f"cannot write {path}: {exc.strerror}") from None


# what a key file given in the wrong place is, and what was wanted instead (one line each)
_MIXED_UP = {
    SECRET_LABEL: f"is a recipient's public key ({PUBLIC_LABEL}), not an identity ({SECRET_LABEL}): "
    "--identity takes the secret key file (`pacha key generate FILE` wrote the secret FILE and the "
    "public FILE.pub)",
    PUBLIC_LABEL: f"is an identity (a secret key, {SECRET_LABEL}), not a recipient ({PUBLIC_LABEL}): "
    "--recipient takes the public key file (FILE.pub of `pacha key generate FILE`); keep the "
    "identity to yourself",
}


def _key_line(path: Path, label: str, what: str) -> bytes:
    """The 32-byte key of path's `label <64 hex>` line. what: "recipient file" or "identity file"."""
    other = PUBLIC_LABEL if label == SECRET_LABEL else SECRET_LABEL
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise KeyringError(f"cannot read {what} {path}: {why}") from None
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == other:
            raise KeyringError(f"{path} {_MIXED_UP[label]}")
        if len(words) == 2 and words[0] == label:
            try:
                key = bytes.fromhex(words[1])
            except ValueError:
                break
            if len(key) == KEY_LEN:
                return key
            break
    article = "an" if what[0] in "aeiou" else "a"
    raise KeyringError(f"{path} is not {article} {what}: it needs a line `{label} <64 hex digits>`")


def read_recipient(path: Path) -> bytes:
    """The X25519 public key of a recipient file (KeyringError naming the file if malformed)."""
    return _key_line(path, PUBLIC_LABEL, "recipient file")


def read_identity(path: Path) -> bytes:
    """The X25519 private key of an identity file, which must be private (mode 0600 or less)."""
    key = _key_line(path, SECRET_LABEL, "identity file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyringError(f"identity file {path} is readable by others (mode {mode:04o}): chmod 600 {path}")
    return key
