"""The stored form of one object: a small fixed header, then the encoded body.

Layout (all integers little-endian; documented in docs/format.md):

    offset  size  field
    0       4     magic b"PCHO"
    4       1     format version (1)
    5       1     body encoding (0 identity, 1 zstd, 2 zstd delta, 3 chunk list, 4 encrypted)
    6       1     kind length n (1..16)
    7       n     kind, ASCII (blob, tree, record, ...)
    7+n     8     size of the decoded body in bytes
    15+n    ...   body, encoded as the encoding byte says

Body encodings are a pipeline stage chosen per object; new stages (encryption)
are added to ENCODINGS without touching the callers. Two encodings name other
objects: a delta (zstd against a base object) and a chunk list (a large blob as
the concatenation of chunk blobs); their sources read those through the store.
"""

from __future__ import annotations

import re
import struct
import threading
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from pacha.errors import CorruptObject, InvalidInput

MAGIC = b"PCHO"
FORMAT_VERSION = 1
MAX_KIND_LEN = 16
MAX_HEADER_LEN = 7 + MAX_KIND_LEN + 8
_SIZE = struct.Struct("<Q")


class Header(NamedTuple):
    """What the header of a stored object says."""

    kind: str
    size: int
    encoding: int
    length: int  # bytes the header occupies; the body starts here


_KIND = re.compile(r"[a-z0-9-]{1,16}")


def check_kind(kind: str) -> str:
    """Validate an object kind name: 1..16 lowercase ASCII letters, digits or '-'."""
    if _KIND.fullmatch(kind) is None:
        raise InvalidInput(
            f"object kind {kind!r} is invalid: use 1-{MAX_KIND_LEN} lowercase letters, digits or '-'"
        )
    return kind


def pack_header(kind: str, size: int, encoding: int) -> bytes:
    raw = check_kind(kind).encode("ascii")
    return MAGIC + bytes((FORMAT_VERSION, encoding, len(raw))) + raw + _SIZE.pack(size)


def parse_header(data: bytes, object_id: str) -> Header:
    """Parse the header at the start of data (at least the first MAX_HEADER_LEN bytes)."""
    if len(data) < 8 or data[:4] != MAGIC:
        raise CorruptObject(f"object {object_id} is corrupt: bad magic in header")
    version, encoding, kind_len = data[4], data[5], data[6]
    if version != FORMAT_VERSION:
        raise CorruptObject(
            f"object {object_id} has format version {version}; this pacha reads version "
            f"{FORMAT_VERSION} (upgrade pacha)"
        )
    if encoding not in ENCODINGS:
        raise CorruptObject(f"object {object_id} uses unknown body encoding {encoding}")
    end = 7 + kind_len
    if not 0 < kind_len <= MAX_KIND_LEN or len(data) < end + _SIZE.size:
        raise CorruptObject(f"object {object_id} is corrupt: truncated header")
    try:
        kind = check_kind(data[7:end].decode("ascii"))
    except (UnicodeDecodeError, InvalidInput):
        raise CorruptObject(f"object {object_id} is corrupt: bad kind in header") from None
    (size,) = _SIZE.unpack_from(data, end)
    return Header(kind, size, encoding, end + _SIZE.size)


if TYPE_CHECKING:
    from typing import Protocol

    class BodySource(Protocol):
        def readinto(self, buffer: bytearray | memoryview) -> int: ...

    class ObjectSource(Protocol):
        """What a body that names other objects reads them from (the ObjectStore)."""

        def read(self, object_id: str) -> bytes: ...

        def open(self, object_id: str) -> Any: ...

        def open_stored(self, object_id: str) -> tuple[Header, IO[bytes]]: ...

    class Encoding(Protocol):
        """One stage of the body pipeline.

        A body is the concatenation of encoded blocks; encode() turns one block into
        a self-delimiting piece, source() decodes a whole body as a stream.
        """

        code: int
        name: str

        def encode(self, block: bytes, level: int) -> bytes: ...

        def source(self, raw: IO[bytes], objects: ObjectSource) -> BodySource: ...


class Identity:
    """Body stored as is."""

    code = 0
    name = "identity"

    def encode(self, block: bytes, level: int) -> bytes:
        return block

    def source(self, raw: IO[bytes], objects: ObjectSource | None = None) -> BodySource:
        return raw  # type: ignore[return-value]


class Zstd:
    """Body as one or more concatenated zstd frames (one per block, so blocks compress in parallel)."""

    code = 1
    name = "zstd"

    def __init__(self) -> None:
        self._local = threading.local()

    def encode(self, block: bytes, level: int) -> bytes:
        """One zstd frame holding block; never fails: if compressing does (a library error,
        no memory), the frame holds block uncompressed (compression is only an optimisation)."""
        from pacha.store.optional import attempt, raw_zstd_frame

        frame = attempt("zstd compression", lambda: self._compressor(level).compress(block))
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

    def source(self, raw: IO[bytes], objects: ObjectSource | None = None) -> BodySource:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(
            raw, read_size=1 << 20, closefd=False, read_across_frames=True
        )


class Delta:
    """Body = the base object's id (32 bytes) + one zstd frame made with the base as prefix.

    Read back by decompressing against the (verified) base; the result is then
    hashed like any other body. Written only into packs (pacha/store/delta.py).
    """

    code = 2
    name = "zstd-delta"

    def source(self, raw: IO[bytes], objects: ObjectSource) -> BodySource:
        from pacha.store.delta import delta_source

        return delta_source(raw, objects)


class Chunks:
    """Body = a list of (chunk id, chunk size); the object is their concatenation."""

    code = 3
    name = "chunks"

    def source(self, raw: IO[bytes], objects: ObjectSource) -> BodySource:
        from pacha.store.chunked import ChunkedSource

        return ChunkedSource(raw.read(), objects)


class Encrypted:
    """Body = an AES-256-GCM envelope around another encoding's body (pacha.crypto.envelope).

    The store opens envelopes before decoding (pacha.crypto.stage.open_stored), so this
    source is reached only by a reader that bypassed it."""

    code = 4
    name = "aes-256-gcm"

    def source(self, raw: IO[bytes], objects: ObjectSource) -> BodySource:
        raise CorruptObject("an encrypted body must be opened through the store, with its key")


ENCODINGS: dict[int, Any] = {e.code: e for e in (Identity(), Zstd(), Delta(), Chunks(), Encrypted())}
IDENTITY = Identity.code
ZSTD = Zstd.code
DELTA = Delta.code
CHUNKS = Chunks.code
ENCRYPTED = Encrypted.code
