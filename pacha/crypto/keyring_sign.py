"""Signing a keyring with a key only master-key holders can derive (Ed25519, RFC 8032).

A keyring's slots are public (an encrypted remote's bucket holds one), so whoever can write
the bucket could add a slot, remove a colleague's, or put back an older copy. Version 2 of
the keyring is signed: the Ed25519 private key is derived from the current master key
(BLAKE3 derive-key mode, context SIGNING_CONTEXT, 32 bytes as the RFC 8032 seed), its public
key is recorded in the keyring as `signer` and pinned by every registry holding that master
key (its own keyring's `signer`, itself checked against the master key at unlock). A
signature, unlike a MAC under the same key, can be checked without the passphrase: a fetch
that only takes a colleague's keyring checks it against the pinned public key.
"""

from __future__ import annotations

SIGNING_CONTEXT = "pacha 2026-12-01 keyring signing key"
SIGNED_PREFIX = b"pacha-keyring-signature\x00v2\x00"  # domain separation of what is signed


def _private(master: bytes) -> object:
    import blake3
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = blake3.blake3(master, derive_key_context=SIGNING_CONTEXT).digest(32)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(master: bytes) -> str:
    """The hex Ed25519 public key (32 bytes) of the signing key derived from master."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = _private(master)
    assert isinstance(key, Ed25519PrivateKey)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sign(master: bytes, message: bytes) -> str:
    """The hex Ed25519 signature (64 bytes) of SIGNED_PREFIX + message under master's signing key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = _private(master)
    assert isinstance(key, Ed25519PrivateKey)
    return key.sign(SIGNED_PREFIX + message).hex()


def verify(public_hex: str, message: bytes, signature_hex: str) -> bool:
    """Whether signature_hex is public_hex's signature of SIGNED_PREFIX + message (False on any
    malformed input: a forged keyring is refused, never a traceback)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        key.verify(bytes.fromhex(signature_hex), SIGNED_PREFIX + message)
    except (InvalidSignature, ValueError):
        return False
    return True
