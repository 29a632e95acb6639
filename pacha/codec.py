"""The stored form of one object: a small fixed header, then the encoded body.

Layout (all integers little-endian; documented in docs/format.md):

    offset  size  field
    0       4     magic b"PCHO"
    4       1     format version (1)
    5       1     body encoding (0 = identity, 1 = zstd)
    6       1     kind length n (1..16)
    7       n     kind, ASCII (blob, tree, record, ...)
    7+n     8     size of the decoded body in bytes
    15+n    ...   body, encoded as the encoding byte says

Body encodings are a pipeline stage chosen per object; new stages (encryption)
are added to ENCODINGS without touching the callers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, Any, Protocol

from pacha.errors import CorruptObject, InvalidInput

MAGIC = b"PCHO"
FORMAT_VERSION = 1
MAX_KIND_LEN = 16
MAX_HEADER_LEN = 7 + MAX_KIND_LEN + 8
_SIZE = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class Header:
    """What the header of a stored object says."""

    kind: str
    size: int
    encoding: int
    length: int  # bytes the header occupies; the body starts here

    @property
    def size_offset(self) -> int:
        return self.length - _SIZE.size


def check_kind(kind: str) -> str:
    """Validate an object kind name: 1..16 lowercase ASCII letters, digits or '-'."""
    ok = 0 < len(kind) <= MAX_KIND_LEN and all(
        c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in kind
    )
    if not ok:
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


class BodySink(Protocol):
    """Where body bytes go on their way to disk."""

    def write(self, data: bytes | memoryview) -> int: ...

    def finish(self) -> None:
        """Flush everything buffered to the underlying file (which stays open)."""


class BodySource(Protocol):
    def readinto(self, buffer: bytearray | memoryview) -> int: ...


class Encoding(Protocol):
    code: int
    name: str

    def sink(self, out: IO[bytes], level: int, size_hint: int) -> BodySink: ...

    def source(self, raw: IO[bytes]) -> BodySource: ...

    def encode(self, data: bytes, level: int) -> bytes: ...

    def decode(self, data: bytes, size: int) -> bytes: ...


class _PlainSink:
    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def write(self, data: bytes | memoryview) -> int:
        return self._out.write(data)

    def finish(self) -> None:
        self._out.flush()


class Identity:
    """Body stored as is."""

    code = 0
    name = "identity"

    def sink(self, out: IO[bytes], level: int, size_hint: int) -> BodySink:
        return _PlainSink(out)

    def source(self, raw: IO[bytes]) -> BodySource:
        return raw  # type: ignore[return-value]

    def encode(self, data: bytes, level: int) -> bytes:
        return data

    def decode(self, data: bytes, size: int) -> bytes:
        return data


class _ZstdSink:
    def __init__(self, out: IO[bytes], level: int, size_hint: int) -> None:
        import zstandard

        # Worker threads only pay off on large bodies; small ones stay single-threaded.
        threads = -1 if size_hint < 0 or size_hint > (4 << 20) else 0
        params = zstandard.ZstdCompressionParameters.from_level(
            level, threads=threads, write_checksum=False, write_content_size=False
        )
        self._writer = zstandard.ZstdCompressor(compression_params=params).stream_writer(
            out, closefd=False, write_size=1 << 20
        )

    def write(self, data: bytes | memoryview) -> int:
        return self._writer.write(data)

    def finish(self) -> None:
        self._writer.flush(1)  # FLUSH_FRAME: end the frame
        self._writer.close()


class Zstd:
    """Body compressed as one zstd frame."""

    code = 1
    name = "zstd"

    def sink(self, out: IO[bytes], level: int, size_hint: int) -> BodySink:
        return _ZstdSink(out, level, size_hint)

    def source(self, raw: IO[bytes]) -> BodySource:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20, closefd=False)

    def encode(self, data: bytes, level: int) -> bytes:
        import zstandard

        return zstandard.ZstdCompressor(level=level, write_checksum=False).compress(data)

    def decode(self, data: bytes, size: int) -> bytes:
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data, max_output_size=max(size, 1))


ENCODINGS: dict[int, Any] = {Identity.code: Identity(), Zstd.code: Zstd()}
ZSTD = Zstd.code
IDENTITY = Identity.code
