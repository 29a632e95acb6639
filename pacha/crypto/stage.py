"""The store's side of the encryption stage (body encoding 4): sealing stored forms on their
way to disk and opening them on the way back, so nothing else in the store changes.

Every place that writes an object's stored form to disk (a loose file, a pack entry)
passes it through `seal_parts` when the registry is encrypted: the header and body it
was given (identity, zstd, delta or chunk list) become a header saying encoding 4 and
the envelope holding that body (pacha.crypto.envelope). Every place that opens a stored
form passes it through `open_stored`, which gives back the inner header and a stream of
the inner body, so decoders, chunk lists, delta bases, gc's links and repack read an
encrypted object exactly as a plain one. Forms already sealed pass through unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, Self

from pacha import codec
from pacha.crypto import envelope
from pacha.crypto.aead import NONCE_LEN, TAG_LEN, Cipher, TagMismatch

Buffer = bytes | bytearray | memoryview
_ENCODING_AT = len(codec.MAGIC) + 1  # a header's encoding byte follows its magic and format version
Room = Callable[[int], memoryview]  # n -> n writable bytes (pacha.store.slabs.Slab.take)


class Stream(Protocol):
    """A stored body as the store reads it (pacha.store.reader.Stream, structurally)."""

    def read(self, n: int = -1, /) -> bytes: ...

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


class Keys(Protocol):
    """What the stage needs of a registry's keys (pacha.crypto.unlock.RegistryKeys)."""

    @property
    def encrypted(self) -> bool: ...

    def cipher(self, kid: str) -> Cipher: ...

    def sealing(self) -> tuple[str, Cipher]: ...

    def sealer(self) -> envelope.Sealer: ...


def _split_header(parts: Sequence[Buffer], object_id: str) -> tuple[codec.Header, list[Buffer]]:
    """The header at the start of parts, and the body that follows it, as parts."""
    head = bytes(memoryview(parts[0])[: codec.MAX_HEADER_LEN])
    for part in parts[1:]:  # a header given apart from its body: join only header bytes
        if len(head) >= codec.MAX_HEADER_LEN:
            break
        head += bytes(memoryview(part)[: codec.MAX_HEADER_LEN - len(head)])
    header = codec.parse_header(head, object_id)
    body: list[Buffer] = []
    skip = header.length
    for part in parts:
        if skip >= len(part):
            skip -= len(part)
            continue
        body.append(memoryview(part)[skip:] if skip else part)
        skip = 0
    return header, body


def _sealed_already(head: Buffer) -> bool:
    """Whether a stored form starting with head says encoding 4 (what a chunk sealed on the
    ingest pool says when the pack writer passes it here again): no need to parse it."""
    return len(head) > _ENCODING_AT and head[_ENCODING_AT] == envelope.ENCRYPTED and head[:4] == codec.MAGIC


def sealed_size(n: int) -> int:
    """The bytes `seal_body` asks room for to seal a body of n bytes."""
    return envelope.sealed_length(n)


def seal_parts(keys: Keys, object_id: str, parts: Sequence[Buffer]) -> tuple[Buffer, ...]:
    """The stored form (header + body, in parts) as it goes to disk: sealed if the registry
    is encrypted and it is not sealed yet, else unchanged."""
    if not keys.encrypted or _sealed_already(parts[0]):
        return tuple(parts)
    header, body = _split_header(parts, object_id)
    if header.encoding == envelope.ENCRYPTED:
        return tuple(parts)
    inner = body[0] if len(body) == 1 else b"".join(body)
    return seal_body(keys.sealer(), object_id, header.kind, header.size, header.encoding, inner)


def seal_body(
    sealer: envelope.Sealer,
    object_id: str,
    kind: str,
    size: int,
    encoding: int,
    body: Buffer,
    room: Room | None = None,
) -> tuple[bytes, Buffer]:
    """(header, envelope) of an object of kind and size whose body, in encoding, is body:
    its stored form in an encrypted registry (what seal_parts gives, for a writer that has
    the header's fields at hand and need not write and parse a header first)."""
    n = envelope.sealed_length(len(body))
    out = room(n) if room is not None else memoryview(bytearray(n))
    sealer.seal_into(bytes.fromhex(object_id), kind, size, encoding, body, out)
    return _sealed_header(kind, size), out


def open_stored(keys: Keys, object_id: str, header: codec.Header, raw: Stream) -> tuple[codec.Header, Stream]:
    """(header, body stream) of a stored form as its decoders see it: an envelope becomes the
    inner header and a decrypting stream (the key is asked for at the first body read)."""
    if header.encoding != envelope.ENCRYPTED:
        return header, raw
    try:
        reader = envelope.EnvelopeReader(raw, object_id, header.kind, header.size, keys.cipher)
    except BaseException:
        raw.close()
        raise
    return codec.Header(header.kind, header.size, reader.inner, header.length), reader


def open_bytes(keys: Keys, object_id: str, data: Buffer) -> tuple[codec.Header, bytes]:
    """The header and body of a stored form held in memory (one received from a remote), an
    envelope opened: its inner header and its decrypted, authenticated inner body. For small
    objects (chunk lists, the head of a delta); raises AuthenticationFailed, CorruptObject."""
    import io

    header = codec.parse_header(bytes(memoryview(data)[: codec.MAX_HEADER_LEN]), object_id)
    raw = io.BytesIO(memoryview(data)[header.length :])
    inner, stream = open_stored(keys, object_id, header, raw)
    with stream:
        return inner, stream.read()


_WHOLE_CHUNK_BODY = envelope.PREFIX + envelope.SEGMENT_HEAD + TAG_LEN  # plus the chunk's size


def open_chunk_into(keys: Keys, chunk_id: str, size: int, stored: memoryview, out: memoryview) -> bool:
    """Decrypt a chunk straight into out (size bytes) if its stored form is exactly a sealed
    identity blob of one segment (what writers make of every chunk): True if done. False
    for any other form, or a tag that does not verify: the regular path then reads that
    chunk, and reports the damage (naming it) if there is any."""
    header = _sealed_blob_header(size)
    body = stored[len(header) :]
    if stored[: len(header)] != header or len(body) != _WHOLE_CHUNK_BODY + size:
        return False
    raw_id = bytes.fromhex(chunk_id)
    if body[0] != envelope.VERSION or body[1] != codec.IDENTITY or body[10:42] != raw_id:
        return False
    word = int.from_bytes(body[42:46], "little")
    if word != size | envelope.LAST:
        return False
    kid = bytes(body[2:10])
    ad = envelope.ad_head(raw_id, "blob", size, codec.IDENTITY, kid) + envelope.ad_tail(0, word)
    start = envelope.PREFIX + 4
    nonce = bytes(body[start : start + NONCE_LEN])
    try:
        keys.cipher(kid.hex()).open_into(nonce, body[start + NONCE_LEN :], ad, out)
    except TagMismatch:
        return False
    return True


def _sealed_blob_header(size: int) -> bytes:
    """The object header of a sealed blob of size bytes."""
    return _sealed_header("blob", size)


@functools.lru_cache(maxsize=4096)
def _sealed_header(kind: str, size: int) -> bytes:
    """The object header of a sealed object of kind and size bytes (cached: chunk sizes
    repeat, and the header would otherwise be encoded again for each chunk)."""
    return codec.pack_header(kind, size, envelope.ENCRYPTED)
