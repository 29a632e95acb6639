"""The encryption stage of the object body pipeline: body encoding 4 (docs/format.md).

An encrypted object keeps its plaintext header (kind, content size; encoding 4) and
its id (the BLAKE3 of the plaintext content). Its body is the envelope:

    offset  size  field
    0       1     envelope version (1)
    1       1     inner encoding: how the sealed bytes encode the content (0..3: identity,
                  zstd, delta, chunk list), i.e. the body the object would have unencrypted
    2       8     key id of the master key that sealed it (pacha.crypto.keyring.key_id)
    10      32    the object id, raw (as in the file name or the pack index: it lets
                  `index-pack` rebuild an index from an encrypted pack alone)
    42      ...   segments, back to back, at least one:
                    4   word, u32 little-endian: bit 31 set on the last segment, bits 0-30
                        the segment's plaintext length n (at most SEGMENT)
                    12  nonce, random
                    n+16  AES-256-GCM ciphertext and tag

The plaintext of the segments, concatenated, is the inner body. Each segment's
associated data binds everything that gives it meaning: b"pacha-object\\0", the
envelope version, the object id (32 raw bytes), the kind (length-prefixed), the
content size (u64), the inner encoding, the key id, the segment's index (u64) and
its word. A body moved to another object, relabelled as another kind or size,
re-ordered, truncated or cut short of its last segment fails authentication.
Compression and deltas run before this stage (ciphertext does not compress), so a
registry's savings are unchanged; packs, chunk lists, gc and repack carry the
envelope as they carry any body.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol

from pacha.crypto.aead import NONCE_LEN, TAG_LEN, Cipher, TagMismatch
from pacha.crypto.errors import AuthenticationFailed
from pacha.errors import CorruptObject

ENCRYPTED = 4  # the body encoding code of an envelope
VERSION = 1
SEGMENT = 1 << 20  # plaintext bytes per segment: AES-GCM runs at its best on ~1 MiB pieces
PREFIX = 42
SEGMENT_HEAD = 4 + NONCE_LEN
LAST = 1 << 31
_WORD = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_TAIL = struct.Struct("<QI")  # the end of a segment's associated data: its index and word
_SIZE_INNER = struct.Struct("<QB")  # an object's content size and inner encoding, in its associated data
_AD_START = b"pacha-object\x00" + bytes((VERSION,))

Buffer = bytes | bytearray | memoryview
CipherFor = Callable[[str], Cipher]


class _Raw(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...  # key id -> its cipher (raises if the key is not at hand)


def ad_head(object_id: str | bytes, kind: str, size: int, inner: int, kid: bytes) -> bytes:
    """The part of every segment's associated data that is the same for the whole object
    (computed once per object, not per segment); object_id in hex or raw."""
    raw_id = bytes.fromhex(object_id) if isinstance(object_id, str) else object_id
    return b"".join((_AD_START, raw_id, _kind_field(kind), _SIZE_INNER.pack(size, inner), kid))


@functools.lru_cache(maxsize=64)
def _kind_field(kind: str) -> bytes:
    """A kind as the associated data holds it: its length (one byte), then its ASCII name."""
    raw = kind.encode("ascii")
    return bytes((len(raw),)) + raw


def ad_tail(index: int, word: int) -> bytes:
    """The end of segment index's associated data: its index (u64) and word (u32)."""
    return _TAIL.pack(index, word)


def associated(object_id: str, kind: str, size: int, inner: int, kid: bytes, index: int, word: int) -> bytes:
    """The associated data of segment index (its word given) of an object's envelope."""
    return ad_head(object_id, kind, size, inner, kid) + _TAIL.pack(index, word)


def sealed_length(n: int) -> int:
    """Bytes of the envelope of an inner body of n bytes (prefix, segment heads and tags)."""
    return PREFIX + max(1, -(-n // SEGMENT)) * (SEGMENT_HEAD + TAG_LEN) + n


def seal(
    cipher: Cipher, kid: str, object_id: str, kind: str, size: int, inner: int, parts: Sequence[Buffer]
) -> bytearray:
    """The envelope of an object whose inner body is the concatenation of parts (written in
    place: one buffer of the envelope's final size, each segment encrypted into it)."""
    body = memoryview(parts[0] if len(parts) == 1 else b"".join(parts)).cast("B")
    out = bytearray(sealed_length(len(body)))
    Sealer(cipher, kid).seal_into(bytes.fromhex(object_id), kind, size, inner, body, memoryview(out))
    return out


class Sealer:
    """Writes envelopes under one master key: its id and cipher are looked up once, not per
    object, and an object of one segment (every chunk) takes one pass of little Python
    around its AES-GCM (a chunked GiB is 13,000 objects: the per-object work counts)."""

    def __init__(self, cipher: Cipher, kid: str) -> None:
        self.kid = kid
        self._kid_raw = bytes.fromhex(kid)
        self._encrypt_into = cipher.seal_into

    def seal_into(
        self, raw_id: bytes, kind: str, size: int, inner: int, body: Buffer, out: memoryview
    ) -> None:
        """Write the envelope of inner body `body` of object raw_id (32 raw bytes) into out,
        exactly sealed_length(len(body)) bytes (a caller's buffer: a writer reuses its own)."""
        if inner >= ENCRYPTED:
            raise ValueError("an envelope cannot hold another envelope")
        n = len(body)
        if len(out) != sealed_length(n):
            raise ValueError(f"an envelope of {n} bytes needs {sealed_length(n)} bytes, not {len(out)}")
        head = ad_head(raw_id, kind, size, inner, self._kid_raw)
        prefix = bytes((VERSION, inner)) + self._kid_raw + raw_id
        if n <= SEGMENT:  # one segment: the common case, without the loop's slicing
            word = n | LAST
            nonce = os.urandom(NONCE_LEN)
            out[: PREFIX + SEGMENT_HEAD] = prefix + _WORD.pack(word) + nonce
            self._encrypt_into(nonce, body, head + _TAIL.pack(0, word), out[PREFIX + SEGMENT_HEAD :])
            return
        body = memoryview(body).cast("B")
        out[:PREFIX] = prefix
        count = -(-n // SEGMENT)
        pos = PREFIX
        for index in range(count):
            piece = body[index * SEGMENT : (index + 1) * SEGMENT]
            word = len(piece) | (LAST if index == count - 1 else 0)
            nonce = os.urandom(NONCE_LEN)
            out[pos : pos + SEGMENT_HEAD] = _WORD.pack(word) + nonce
            pos += SEGMENT_HEAD
            end = pos + len(piece) + TAG_LEN
            self._encrypt_into(nonce, piece, head + _TAIL.pack(index, word), out[pos:end])
            pos = end


def key_of(body: Buffer) -> str:
    """The id of the master key an envelope was sealed with (its body must be at least 10 bytes)."""
    return bytes(memoryview(body)[2:10]).hex()


def stored_id(body: Buffer) -> str:
    """The object id an envelope states (its body must be at least PREFIX bytes)."""
    return bytes(memoryview(body)[10:PREFIX]).hex()


def length(body: Buffer, start: int = 0, stored: int | None = None) -> tuple[int, int]:
    """(stored length, inner body length) of the envelope starting at body[start:], from its
    segment words alone (no key needed); ValueError saying why if it is not whole.
    stored: the envelope's length on disk when body holds only its start (through every
    segment word the walk reads: for one segment, PREFIX + 4 bytes)."""
    view = memoryview(body)
    end = len(view) if stored is None else start + stored
    if end - start < PREFIX + SEGMENT_HEAD:
        raise ValueError("encrypted body is truncated")
    if view[start] != VERSION:
        raise ValueError(f"unknown envelope version {view[start]}")
    if view[start + 1] >= ENCRYPTED:
        raise ValueError(f"unknown inner encoding {view[start + 1]}")
    pos, inner = start + PREFIX, 0
    while True:
        if pos + SEGMENT_HEAD > end:
            raise ValueError(f"encrypted body is truncated at byte {pos - start}")
        (word,) = _WORD.unpack_from(view, pos)
        n = word & ~LAST
        if n > SEGMENT:
            raise ValueError(f"segment of {n} bytes at byte {pos - start} is larger than {SEGMENT}")
        pos += SEGMENT_HEAD + n + TAG_LEN
        inner += n
        if pos > end:
            raise ValueError(f"encrypted body is truncated at byte {end - start}")
        if word & LAST:
            return pos - start, inner
        if n != SEGMENT:
            raise ValueError(f"segment at byte {pos - start} is short but not the last")


class EnvelopeReader:
    """A file-like stream of the inner body, decrypting one segment at a time.

    The prefix (inner encoding, key id) is read on opening; the key is asked for only
    when the first segment is read, so a header-only look (kind, size) needs no key.
    """

    def __init__(self, raw: _Raw, object_id: str, kind: str, size: int, cipher_for: CipherFor) -> None:
        self._raw = raw
        self.id = object_id
        self._kind = kind
        self._size = size
        self._cipher_for = cipher_for
        prefix = raw.read(PREFIX)
        if len(prefix) < PREFIX:
            raise CorruptObject(f"object {object_id} is corrupt: encrypted body is truncated")
        if prefix[0] != VERSION:
            raise CorruptObject(
                f"object {object_id} has envelope version {prefix[0]}; this pacha reads {VERSION}"
            )
        self.inner = prefix[1]
        if self.inner >= ENCRYPTED:
            raise CorruptObject(f"object {object_id} is corrupt: unknown inner encoding {self.inner}")
        self._kid = prefix[2:10]
        if prefix[10:PREFIX] != bytes.fromhex(object_id):
            raise AuthenticationFailed(
                f"object {object_id} failed authentication: its encrypted body is object "
                f"{prefix[10:PREFIX].hex()}'s"
            )
        self._ad_head = ad_head(prefix[10:PREFIX], kind, size, self.inner, self._kid)
        self._cipher: Cipher | None = None
        self._index = 0
        self._done = False
        self._buffer = b""
        self._pos = 0

    def _corrupt(self, why: str) -> CorruptObject:
        return CorruptObject(f"object {self.id} is corrupt: {why}")

    def _next_segment(self, into: memoryview | None = None) -> int:
        """Decrypt the next segment: straight into `into` when it has room for all of it
        (no intermediate copy; returns the bytes put there), else into the buffer
        (returns 0); -1 at the end."""
        if self._done:
            return -1
        if self._cipher is None:
            self._cipher = self._cipher_for(self._kid.hex())
        head = self._raw.read(SEGMENT_HEAD)
        if len(head) < SEGMENT_HEAD:
            raise self._corrupt(f"encrypted body is truncated in segment {self._index}")
        (word,) = _WORD.unpack_from(head)
        n = word & ~LAST
        if n > SEGMENT:
            raise self._corrupt(f"encrypted segment {self._index} claims {n} bytes")
        sealed = self._raw.read(n + TAG_LEN)
        if len(sealed) < n + TAG_LEN:
            raise self._corrupt(f"encrypted body is truncated in segment {self._index}")
        ad = self._ad_head + _TAIL.pack(self._index, word)
        direct = 0
        try:
            if into is not None and n <= len(into):
                self._cipher.open_into(head[4:], sealed, ad, into[:n])
                direct = n
            else:
                self._buffer, self._pos = self._cipher.open(head[4:], sealed, ad), 0
        except TagMismatch:
            raise AuthenticationFailed(
                f"object {self.id} failed authentication (AES-GCM, segment {self._index}): its encrypted "
                "body was altered, or belongs to another object; restore it from a good copy or a remote"
            ) from None
        self._index += 1
        if word & LAST:
            self._done = True
            if self._raw.read(1):
                raise self._corrupt("bytes follow the last encrypted segment")
        elif n != SEGMENT:
            raise self._corrupt(f"encrypted segment {self._index - 1} is short but not the last")
        return direct

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if self._pos == len(self._buffer):
                got = self._next_segment(view[filled:])
                if got < 0:
                    break
                filled += got
                continue
            take = min(len(view) - filled, len(self._buffer) - self._pos)
            view[filled : filled + take] = self._buffer[self._pos : self._pos + take]
            self._pos += take
            filled += take
        return filled

    def read(self, n: int = -1, /) -> bytes:
        parts: list[bytes] = []
        if n is None or n < 0:
            parts.append(self._buffer[self._pos :])
            self._pos = len(self._buffer)
            while self._next_segment() >= 0:
                parts.append(self._buffer)
                self._pos = len(self._buffer)
            return b"".join(parts)
        wanted = n
        while wanted:
            if self._pos == len(self._buffer) and self._next_segment() < 0:
                break
            piece = self._buffer[self._pos : self._pos + wanted]
            self._pos += len(piece)
            wanted -= len(piece)
            parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> EnvelopeReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None:
        self.close()
