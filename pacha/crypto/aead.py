"""AES-256-GCM (NIST SP 800-38D) with a fresh random 96-bit nonce for every message.

Random nonces are safe for up to 2^32 messages under one key (SP 800-38D 8.3);
a registry encrypts one message per object body segment (about 13,000 per GiB
of 80 KiB chunks), far below it, and `pacha key rotate --data` starts a new key.
"""

from __future__ import annotations

import os
from typing import Any

NONCE_LEN = 12
TAG_LEN = 16


class TagMismatch(Exception):
    """The ciphertext, its nonce or its associated data were altered (or the key is another)."""


class Cipher:
    """One AES-256-GCM key, ready to seal and open messages."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != 32:
            raise ValueError(f"AES-256 needs a 32-byte key, not {len(key)} bytes")
        self._aead: Any = AESGCM(key)

    def seal(self, plaintext: bytes | bytearray | memoryview, associated: bytes) -> tuple[bytes, bytes]:
        """(nonce, ciphertext with its 16-byte tag appended) under a fresh random nonce."""
        nonce = os.urandom(NONCE_LEN)
        return nonce, self._aead.encrypt(nonce, plaintext, associated)

    def seal_into(
        self, nonce: bytes, plaintext: bytes | bytearray | memoryview, associated: bytes, out: memoryview
    ) -> None:
        """Seal plaintext under nonce (fresh, from the caller) into out (its length + TAG_LEN)."""
        self._aead.encrypt_into(nonce, plaintext, associated, out)

    def open_into(self, nonce: bytes, sealed: bytes | memoryview, associated: bytes, out: memoryview) -> None:
        """Decrypt a sealed message into out (exactly its plaintext's length); TagMismatch if
        anything was altered (out then holds garbage, to be discarded)."""
        from cryptography.exceptions import InvalidTag

        try:
            self._aead.decrypt_into(nonce, sealed, associated, out)
        except InvalidTag:
            raise TagMismatch() from None

    def open(self, nonce: bytes, sealed: bytes | memoryview, associated: bytes) -> bytes:
        """The plaintext of a sealed message; TagMismatch if anything of it was altered."""
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(nonce, sealed, associated)  # type: ignore[no-any-return]
        except InvalidTag:
            raise TagMismatch() from None
