"""A self-describing encrypted file, to share one artifact outside a registry.

`pacha model download REF --encrypt -o FILE` writes it; `pacha decrypt FILE`
reads it back with nothing but the passphrase, or (`--recipient`) with the private
key of one of the recipients it was sealed to (pacha.crypto.recipients). Layout
(integers little-endian; docs/format.md, "Sealed files"):

    offset  size  field
    0       8     magic b"PACHAENC"
    8       1     format version (1)
    9       1     key source: 1 = a passphrase through Argon2id (RFC 9106, version 0x13),
                  2 = recipients' X25519 public keys (then, instead of bytes 10 to 20+s:
                  a recipient count r, 1 byte, and r stanzas of 80 bytes; the file key
                  unwrapped from one of them is the content key)
    10      4     Argon2id memory in KiB (u32)
    14      4     Argon2id passes (u32)
    18      1     Argon2id lanes
    19      1     salt length s (16)
    20      s     salt
    20+s    4     segment size S: plaintext bytes per content segment (u32; 1 MiB)
    24+s    ...   segments, back to back, as in an object envelope: a u32 word (bit 31
                  set on the last segment, bits 0-30 the plaintext length n), a random
                  12-byte nonce, n+16 bytes of AES-256-GCM ciphertext and tag

The key is Argon2id(passphrase, salt) with the parameters above (32 bytes).
Segment 0 is the metadata, canonical JSON: {"filename", "id" (BLAKE3 of the
content, hex), "kind" ("blob" or "tar" for a folder), "size", "source"}; the
content follows in segments of exactly S bytes, the last one shorter (or empty).
Each segment's associated data is every header byte (0 to 24+s), then the
segment's index (u64) and word (u32): segments cannot be reordered, dropped,
truncated or moved to another file. The reader checks the content's size and
BLAKE3 id against the metadata before it renames its output into place.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from pacha.crypto.aead import NONCE_LEN, TAG_LEN, Cipher, TagMismatch
from pacha.crypto.errors import AuthenticationFailed, KeyringError, Locked, WrongPassphrase
from pacha.crypto.kdf import Argon2Params, derive
from pacha.crypto.recipients import FILE_KEY_LEN, STANZA_LEN, unwrap, wrap
from pacha.errors import InvalidInput

MAGIC = b"PACHAENC"
VERSION = 1
KDF_ARGON2ID = 1
KEY_RECIPIENTS = 2
MAX_RECIPIENTS = 255
SEGMENT = 1 << 20
LAST = 1 << 31
_PREFIX = struct.Struct("<8sBB")
_ARGON = struct.Struct("<IIBB")
_WORD = struct.Struct("<I")
_U64 = struct.Struct("<Q")
MAX_METADATA = 1 << 16


class IdentityNeeded(Locked):
    """A file sealed to recipients was opened without any identity (exit 128)."""


class WrongIdentity(Locked):
    """No identity given unwraps the file key of a file sealed to recipients (exit 128)."""


def _passphrase_header(params: Argon2Params) -> bytes:
    """Bytes 0 to 20+s of a passphrase file: magic, version, key source 1, Argon2id parameters."""
    argon = _ARGON.pack(params.memory_kib, params.iterations, params.lanes, len(params.salt))
    return _PREFIX.pack(MAGIC, VERSION, KDF_ARGON2ID) + argon + params.salt


def _recipients_header(stanzas: list[bytes]) -> bytes:
    """The header of a file sealed to recipients, up to the segment size."""
    return _PREFIX.pack(MAGIC, VERSION, KEY_RECIPIENTS) + bytes((len(stanzas),)) + b"".join(stanzas)


def _ad(header: bytes, index: int, word: int) -> bytes:
    return header + _U64.pack(index) + _WORD.pack(word)


class SealedWriter:
    """Writes a sealed file to out: metadata first, then the content, in order."""

    def __init__(self, out: IO[bytes], key: bytes, key_header: bytes, metadata: dict[str, Any]) -> None:
        import msgspec

        self._out = out
        self._cipher = Cipher(key)
        self._header = key_header + _WORD.pack(SEGMENT)
        out.write(self._header)
        self._index = 0
        self._pending = bytearray()
        self._emit(msgspec.json.encode(metadata, order="sorted"), last=False)

    @classmethod
    def for_passphrase(cls, out: IO[bytes], secret: bytes, metadata: dict[str, Any]) -> SealedWriter:
        """A file the passphrase secret opens (key: Argon2id of it, fresh salt)."""
        params = Argon2Params.fresh()
        return cls(out, derive(secret, params), _passphrase_header(params), metadata)

    @classmethod
    def for_recipients(
        cls, out: IO[bytes], recipients: list[bytes], metadata: dict[str, Any]
    ) -> SealedWriter:
        """A file each recipient's private key opens (a random file key, wrapped for each)."""
        if not 1 <= len(recipients) <= MAX_RECIPIENTS:
            raise InvalidInput(f"a sealed file takes 1 to {MAX_RECIPIENTS} recipients, not {len(recipients)}")
        file_key = os.urandom(FILE_KEY_LEN)
        stanzas = [wrap(file_key, r) for r in dict.fromkeys(recipients)]
        return cls(out, file_key, _recipients_header(stanzas), metadata)

    def _emit(self, piece: bytes | bytearray | memoryview, last: bool) -> None:
        word = len(piece) | (LAST if last else 0)
        nonce, sealed = self._cipher.seal(piece, _ad(self._header, self._index, word))
        self._out.write(_WORD.pack(word) + nonce)
        self._out.write(sealed)
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._pending += data
        while len(self._pending) > SEGMENT:  # keep the last full segment: it may be the last one
            self._emit(memoryview(self._pending)[:SEGMENT], last=False)
            del self._pending[:SEGMENT]

    def finish(self) -> None:
        self._emit(self._pending, last=True)
        self._pending = bytearray()


def _read_exact(f: IO[bytes], n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise InvalidInput(f"{what} is truncated: not a whole pacha sealed file")
    return data


class SealedReader:
    """Opens a sealed file: header, key (passphrase or identity), metadata; then the content.

    secret: called for the passphrase only if the file is sealed with one; identities:
    X25519 private keys tried on a file sealed to recipients."""

    def __init__(
        self, f: IO[bytes], name: str, secret: Callable[[], bytes], identities: Sequence[bytes] = ()
    ) -> None:
        import msgspec

        self._f = f
        self._name = name
        prefix = f.read(_PREFIX.size)
        if not prefix[: len(MAGIC)] or not MAGIC.startswith(prefix[: len(MAGIC)]):
            why = "it is empty" if not prefix else "no PACHAENC magic"
            raise InvalidInput(f"{name} is not a pacha sealed file ({why})")
        if len(prefix) != _PREFIX.size:
            raise InvalidInput(f"{name} is truncated: not a whole pacha sealed file")
        magic, version, source = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise InvalidInput(f"{name} is not a pacha sealed file (no PACHAENC magic)")
        if version != VERSION:
            raise InvalidInput(f"{name} is a sealed file of version {version}; this pacha reads {VERSION}")
        if source == KDF_ARGON2ID:
            key_header, key = self._passphrase_key(prefix, secret)
            wrong = f"the passphrase does not open {name} (or its header was altered)"
        elif source == KEY_RECIPIENTS:
            key_header, key = self._recipient_key(prefix, identities)
            wrong = f"{name} failed authentication at segment 0: its header or metadata was altered"
        else:
            raise InvalidInput(f"{name} uses key source {source}, which this pacha does not know")
        (self.segment,) = _WORD.unpack(_read_exact(f, 4, name))
        if not 1 <= self.segment <= 1 << 30:
            raise InvalidInput(f"{name} states a segment size of {self.segment} bytes")
        self._header = key_header + _WORD.pack(self.segment)
        self._cipher = Cipher(key)
        self._index = 0
        self._last = False
        try:
            first = self._segment(MAX_METADATA)
        except AuthenticationFailed:
            if source == KDF_ARGON2ID:
                raise WrongPassphrase(wrong) from None
            raise AuthenticationFailed(wrong) from None
        if self._last:
            raise InvalidInput(f"{name} holds no content segments")
        try:
            self.metadata: dict[str, Any] = msgspec.json.decode(first)
            self.size = int(self.metadata["size"])
            self.id = str(self.metadata["id"])
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            raise KeyringError(f"{name}: its metadata is malformed") from None

    def _passphrase_key(self, prefix: bytes, secret: Callable[[], bytes]) -> tuple[bytes, bytes]:
        argon = _read_exact(self._f, _ARGON.size, self._name)
        memory, passes, lanes, salt_len = _ARGON.unpack(argon)
        salt = _read_exact(self._f, salt_len, self._name)
        params = Argon2Params(salt, memory, passes, lanes).check(self._name)
        return prefix + argon + salt, derive(secret(), params)

    def _recipient_key(self, prefix: bytes, identities: Sequence[bytes]) -> tuple[bytes, bytes]:
        count = _read_exact(self._f, 1, self._name)
        if count[0] == 0:
            raise InvalidInput(f"{self._name} names no recipients")
        stanzas = _read_exact(self._f, count[0] * STANZA_LEN, self._name)
        if not identities:
            raise IdentityNeeded(
                f"{self._name} is sealed to {count[0]} recipient(s)' public keys: give --identity FILE "
                "(the private key of one of them, from `pacha key generate`)"
            )
        for i in range(count[0]):
            for identity in identities:
                key = unwrap(stanzas[i * STANZA_LEN : (i + 1) * STANZA_LEN], identity)
                if key is not None:
                    return prefix + count + stanzas, key
        raise WrongIdentity(
            f"no identity given opens {self._name} (sealed to {count[0]} recipient(s), or its header was "
            "altered); nothing was written"
        )

    def _segment(self, limit: int) -> bytes:
        head = _read_exact(self._f, 4 + NONCE_LEN, self._name)
        (word,) = _WORD.unpack_from(head)
        n = word & ~LAST
        if n > limit:
            raise InvalidInput(f"{self._name}: segment {self._index} claims {n} bytes, more than {limit}")
        sealed = _read_exact(self._f, n + TAG_LEN, self._name)
        try:
            plain = self._cipher.open(head[4:], sealed, _ad(self._header, self._index, word))
        except TagMismatch:
            raise AuthenticationFailed(
                f"{self._name} failed authentication at segment {self._index}: it was altered or truncated"
            ) from None
        self._index += 1
        self._last = bool(word & LAST)
        if not self._last and self._index > 1 and n != self.segment:
            raise InvalidInput(f"{self._name}: segment {self._index - 1} is short but not the last")
        return plain

    def blocks(self) -> Iterator[bytes]:
        """The content, segment by segment (each authenticated before it is handed out)."""
        while not self._last:
            yield self._segment(self.segment)
        if self._f.read(1):
            raise InvalidInput(f"{self._name}: bytes follow the last segment")
