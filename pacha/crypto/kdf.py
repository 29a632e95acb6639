"""Argon2id (RFC 9106): from a passphrase to a 256-bit key-encryption key.

Parameters are recorded next to what they protect (keyring slots, sealed files),
so they can be raised later without breaking what was written before. Reading
refuses parameters below the floor the issue sets (64 MiB, 3 passes) and above a
ceiling that would let a hostile file exhaust memory or time.

New slots and files use one lane (parallelism p = 1, as OWASP's recommended settings
do): what a guess costs an attacker is the memory filled times the passes, the same
for any number of lanes, and one lane lets libsodium (PyNaCl) derive the key with its
SIMD Argon2id in half the CPU time of OpenSSL's (64 MiB, 3 passes: 0.06 s against
0.12 s, which every command of an encrypted registry pays once). libsodium computes
only one lane; other parameters (slots made with 4 lanes before) are derived by
OpenSSL through `cryptography`, and both give the same key for the same parameters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pacha.crypto.errors import KeyringError

KEY_LEN = 32  # AES-256
SALT_LEN = 16  # RFC 9106 section 3.1 recommends 128 bits
MIN_MEMORY_KIB = 64 * 1024  # 64 MiB
MIN_ITERATIONS = 3
MAX_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB: a file asking for more is refused, not obeyed
MAX_ITERATIONS = 64
MAX_LANES = 64


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters: memory in KiB, passes over it, parallel lanes; and the salt."""

    salt: bytes
    memory_kib: int = MIN_MEMORY_KIB
    iterations: int = MIN_ITERATIONS
    lanes: int = 1

    @classmethod
    def fresh(cls) -> Argon2Params:
        """Default costs (64 MiB, 3 passes, 1 lane: ~0.06 s here) with a new random salt."""
        return cls(os.urandom(SALT_LEN))

    def check(self, where: str) -> Argon2Params:
        """self, if its parameters are within [floor, ceiling]; else KeyringError naming where."""
        problems = []
        if not MIN_MEMORY_KIB <= self.memory_kib <= MAX_MEMORY_KIB:
            problems.append(f"memory {self.memory_kib} KiB (allowed {MIN_MEMORY_KIB}..{MAX_MEMORY_KIB})")
        if not MIN_ITERATIONS <= self.iterations <= MAX_ITERATIONS:
            problems.append(f"{self.iterations} passes (allowed {MIN_ITERATIONS}..{MAX_ITERATIONS})")
        if not 1 <= self.lanes <= MAX_LANES:
            problems.append(f"{self.lanes} lanes (allowed 1..{MAX_LANES})")
        if len(self.salt) < 8:
            problems.append(f"a salt of {len(self.salt)} bytes (at least 8)")
        if problems:
            raise KeyringError(f"{where}: Argon2id parameters refused: {', '.join(problems)}")
        return self

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": "argon2id",
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "lanes": self.lanes,
            "salt": self.salt.hex(),
        }

    @classmethod
    def from_doc(cls, doc: Any, where: str) -> Argon2Params:
        """Parse what to_doc wrote (KeyringError naming where if it is not that)."""
        try:
            if doc["name"] != "argon2id":
                raise KeyringError(
                    f"{where}: unknown key derivation {doc['name']!r} (this pacha knows argon2id)"
                )
            params = cls(
                bytes.fromhex(doc["salt"]), int(doc["memory_kib"]), int(doc["iterations"]), int(doc["lanes"])
            )
        except (KeyError, TypeError, ValueError):
            raise KeyringError(f"{where}: malformed key derivation parameters") from None
        return params.check(where)


def derive(passphrase: bytes, params: Argon2Params) -> bytes:
    """The 32-byte key Argon2id (version 0x13) derives from passphrase with params: by
    libsodium where it computes these parameters (one lane, a 16-byte salt), else by
    OpenSSL. KeyringError if neither can (out of memory, say)."""
    if params.lanes == 1 and len(params.salt) == SALT_LEN:
        key = _derive_libsodium(passphrase, params)
        if key is not None:
            return key
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    try:
        kdf = Argon2id(
            salt=params.salt,
            length=KEY_LEN,
            iterations=params.iterations,
            lanes=params.lanes,
            memory_cost=params.memory_kib,
        )
        return kdf.derive(passphrase)
    except (ValueError, MemoryError) as exc:
        raise KeyringError(f"Argon2id could not derive a key ({exc})") from None


def _derive_libsodium(passphrase: bytes, params: Argon2Params) -> bytes | None:
    """derive() by libsodium's crypto_pwhash (Argon2id version 0x13, one lane, 16-byte salt);
    None if PyNaCl is not installed (an environment set up before it was a dependency):
    OpenSSL then derives the same key, only slower."""
    try:
        from nacl.bindings import crypto_pwhash_alg, crypto_pwhash_ALG_ARGON2ID13
        from nacl.exceptions import CryptoError
    except ImportError:
        return None

    try:
        key: bytes = crypto_pwhash_alg(
            KEY_LEN,
            passphrase,
            params.salt,
            params.iterations,
            params.memory_kib * 1024,
            crypto_pwhash_ALG_ARGON2ID13,
        )
    except (CryptoError, ValueError, MemoryError) as exc:
        raise KeyringError(f"Argon2id could not derive a key ({exc})") from None
    return key
