"""Body encodings: how the body of a stored object is written and read back.

A body is encoded by one stage of a pipeline chosen per object (the header's
encoding byte, pacha.codec): identity, zstd, a zstd delta against a base object,
or a chunk list. A new stage (encryption) adds a coder to ENCODINGS without
touching the callers. Two encodings name other objects: a delta (pacha.store.delta)
and a chunk list (pacha.store.chunked); their sources read those through an
ObjectSource (the store).
"""

from __future__ import annotations

import threading
from typing import IO, Any, Protocol, cast

from pacha import codec
from pacha.errors import CorruptObject
from pacha.store.chunked import ChunkedSource
from pacha.store.delta import delta_source
from pacha.store.optional import attempt, raw_zstd_frame
from pacha.store.reader import BodySource, ObjectSource, Stream


class Encoding(Protocol):
    """One stage of the body pipeline: source() decodes a whole body as a stream."""

    code: int
    name: str

    def source(self, raw: Stream, objects: ObjectSource) -> BodySource: ...


class Identity:
    """Body stored as is."""

    code = codec.IDENTITY
    name = codec.ENCODING_NAMES[code]

    def encode(self, block: bytes | bytearray | memoryview, level: int) -> bytes | bytearray | memoryview:
        return block

    def source(self, raw: Stream, objects: ObjectSource | None = None) -> BodySource:
        return raw


class Zstd:
    """Body as one or more concatenated zstd frames (one per block, so blocks compress in
    parallel); encode() turns one block into one self-delimiting frame."""

    code = codec.ZSTD
    name = codec.ENCODING_NAMES[code]

    def __init__(self) -> None:
        self._local = threading.local()

    def encode(self, block: bytes | bytearray | memoryview, level: int) -> bytes:
        """One zstd frame holding block; never fails: if compressing does (a library error,
        no memory), the frame holds block uncompressed (compression is only an optimisation)."""
        frame: bytes | None = attempt("zstd compression", lambda: self._compressor(level).compress(block))
        return raw_zstd_frame(block) if frame is None else frame

    def _compressor(self, level: int) -> Any:
        # A compressor per thread and level: contexts are costly to build and not thread-safe.
        cache = self._local.__dict__.setdefault("compressors", {})
        compressor = cache.get(level)
        if compressor is None:
            import zstandard

            compressor = zstandard.ZstdCompressor(level=level, write_checksum=False)
            cache[level] = compressor
        return compressor

    def source(self, raw: Stream, objects: ObjectSource | None = None) -> BodySource:
        import zstandard

        # zstandard reads raw with read() only, which every Stream has
        reader: BodySource = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], raw), read_size=1 << 20, closefd=False, read_across_frames=True
        )
        return reader


class Delta:
    """Body = the base object's id (32 bytes) + one zstd frame made with the base as prefix.

    Read back by decompressing against the (verified) base; the result is then
    hashed like any other body. Written only into packs (pacha/store/delta.py).
    """

    code = codec.DELTA
    name = codec.ENCODING_NAMES[code]

    def source(self, raw: Stream, objects: ObjectSource) -> BodySource:
        return delta_source(raw, objects)


class Chunks:
    """Body = a list of (chunk id, chunk size); the object is their concatenation."""

    code = codec.CHUNKS
    name = codec.ENCODING_NAMES[code]

    def source(self, raw: Stream, objects: ObjectSource) -> BodySource:
        return ChunkedSource(raw.read(), objects, body_source)


class Encrypted:
    """Body = an AES-256-GCM envelope around another encoding's body (pacha.crypto.envelope).

    The store opens envelopes before decoding (pacha.crypto.stage.open_stored, in
    ObjectStore.open_stored), so this source is reached only by a reader that bypassed it."""

    code = codec.ENCRYPTED
    name = codec.ENCODING_NAMES[code]

    def source(self, raw: Stream, objects: ObjectSource) -> BodySource:
        raise CorruptObject("an encrypted body must be opened through the store, with its key")


ZSTD_CODER = Zstd()
ENCODINGS: dict[int, Encoding] = {e.code: e for e in (Identity(), ZSTD_CODER, Delta(), Chunks(), Encrypted())}


def body_source(header: codec.Header, raw: Stream, objects: ObjectSource) -> BodySource:
    """The decoded bytes of a stored body whose header is header (raw: its encoded bytes)."""
    return ENCODINGS[header.encoding].source(raw, objects)


def decode_whole(header: codec.Header, body: bytes) -> bytes | None:
    """An identity or single-frame zstd body decoded in one call (None if it is not that)."""
    if header.encoding == codec.IDENTITY:
        return body
    import zstandard

    try:
        # A frame states its content size, and decompress() allocates what it states: a
        # damaged header could ask for terabytes (MemoryError), so it must agree first.
        if zstandard.frame_content_size(body) not in (header.size, -1):
            return None  # several frames, or damage: the streaming reader says which
        data: bytes = zstandard.ZstdDecompressor().decompress(body, max_output_size=header.size + 1)
    except (zstandard.ZstdError, MemoryError):
        return None  # several frames, or damage: the streaming reader says which
    return data if len(data) == header.size else None
