"""The stored form of one object: a small fixed header, then the encoded body.

The layout (magic, version, encoding, kind, size) is docs/format.md, "Object files",
with an annotated dump under "Annotated examples"; this module writes and parses it.

This module is the header and nothing else: what each encoding byte means is
listed here (ENCODING_NAMES), how a body of each encoding is written and read is
the store's business (pacha.store.encodings). A new stage (encryption) adds its
code here and its coder there.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

from pacha.errors import CorruptObject, InvalidInput

MAGIC = b"PCHO"
FORMAT_VERSION = 1
MAX_KIND_LEN = 16
MAX_HEADER_LEN = 7 + MAX_KIND_LEN + 8
_SIZE = struct.Struct("<Q")

# Body encodings: the byte at offset 5, and the name tools print for it.
IDENTITY = 0  # the body as is
ZSTD = 1  # one or more zstd frames
DELTA = 2  # a base object's raw id, then one zstd frame made with the base as prefix
CHUNKS = 3  # a chunk list: (raw chunk id, size) entries; the object is their concatenation
ENCRYPTED = 4  # an AES-256-GCM envelope around another encoding's body (pacha.crypto.envelope)
ENCODING_NAMES: dict[int, str] = {
    IDENTITY: "identity",
    ZSTD: "zstd",
    DELTA: "zstd-delta",
    CHUNKS: "chunks",
    ENCRYPTED: "aes-256-gcm",
}


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
    """The header of a kind object of size decoded bytes, its body in encoding."""
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
    if encoding not in ENCODING_NAMES:
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
