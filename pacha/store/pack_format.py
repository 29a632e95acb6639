"""The pack format: many stored objects in one file, found through a sorted index.

A pack holds entries that are byte for byte what a loose object file holds,
back to back; its index lists the ids sorted, with a fan-out table over the
first byte, and each entry's offset and length, and the pack id (the BLAKE3 of
those columns) names and ties both files. The layouts, the reserved-bytes rule
and an annotated dump of a one-entry pack and index are docs/format.md ("Packs",
"Reserved bytes", "Annotated examples"). Entry bodies are covered by their own
ids, checked on every read, so the pack's bytes are not hashed twice. The index
is renamed into place after the pack, so a pack is visible exactly when its
index is.

Here: the layout's constants and the building of an index (pacha.store.pack_writer
writes packs, pacha.store.pack reads one, pacha.store.packset finds them all).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from pacha.errors import CorruptObject
from pacha.hashing import digest
from pacha.store.idtable import FANOUT, RAW_ID, build_fanout

PACK_MAGIC = b"PCHP"
INDEX_MAGIC = b"PCHI"
PACK_VERSION = 1
PACK_HEADER = PACK_MAGIC + bytes((PACK_VERSION, 0, 0, 0))
INDEX_HEADER = INDEX_MAGIC + bytes((PACK_VERSION, 0, 0, 0))
PROLOGUE = 8  # magic, version, 3 reserved bytes: how a pack, an index and a multi-pack index start
CHECKSUM = 32
# An index with no entries: header, fan-out, pack id and checksum.
INDEX_FIXED = len(INDEX_HEADER) + FANOUT.size + 2 * CHECKSUM
INDEX_ENTRY = RAW_ID + 16  # id, offset, length
_U64 = struct.Struct("<Q")


class Entry(NamedTuple):
    """Where one object's stored bytes lie in a pack."""

    offset: int
    length: int


def index_table(entries: dict[str, Entry]) -> tuple[bytes, bytes]:
    """The fan-out table and the ids, offsets and lengths columns of a pack's entries."""
    ids = sorted(entries)
    raw = [bytes.fromhex(i) for i in ids]
    columns = b"".join(
        (
            b"".join(raw),
            b"".join(_U64.pack(entries[i].offset) for i in ids),
            b"".join(_U64.pack(entries[i].length) for i in ids),
        )
    )
    return build_fanout(raw), columns


def build_index(table: tuple[bytes, bytes], pack_id: bytes) -> bytes:
    """The index file's bytes, given the table from index_table and the pack id."""
    body = INDEX_HEADER + table[0] + table[1] + pack_id
    return body + digest(body)


def check_prologue(head: bytes | memoryview, magic: bytes, version: int, what: str) -> None:
    """Refuse a file that does not start with magic, version and three zero bytes.

    The rule for all three files with this prologue (docs/format.md, "Versions" and
    "Reserved bytes"): an unknown version, or reserved bytes that are not zero (a newer
    format, or damage), is refused rather than read on. what names the file in the
    message ("pack /path/pack-….pack"); raises CorruptObject, so the file is set aside.
    """
    head = bytes(head[:PROLOGUE])
    if len(head) < PROLOGUE or head[:4] != magic:
        raise CorruptObject(f"{what} is corrupt: bad header or truncated")
    if head[4] != version:
        raise CorruptObject(
            f"{what} has format version {head[4]}; this pacha reads version {version} (upgrade pacha)"
        )
    if any(head[5:PROLOGUE]):
        raise CorruptObject(
            f"{what} is unreadable: reserved bytes 5-7 are {head[5:PROLOGUE].hex(' ')}, "
            "not zero (a newer format, or damage)"
        )
