"""The pack format: many stored objects in one file, found through a sorted index.

A pack holds entries that are byte for byte what a loose object file holds
(header + encoded body), back to back; its index lists the ids sorted, with a
fan-out table over the first byte, and each entry's offset and length. The
index is read through mmap and an id found by binary search; entries are read
with pread. A registry with millions of objects keeps a handful of files.
Formats: docs/format.md.

    pack:  "PCHP" u8 version(1) 3×0 | entries … | pack id (32)
    index: "PCHI" u8 version(1) 3×0 | fan-out 256×u32 | ids N×32 | offsets N×u64
           | lengths N×u64 | pack id (32) | BLAKE3 of everything before (32)

pack id = BLAKE3 of the ids, offsets and lengths columns: it names the pack
(pack-<id>.pack) and ties pack and index together. Entry bodies are covered by
their own ids, checked on every read, so the pack's bytes are not hashed twice.
All integers little-endian. The index is renamed into place after the pack,
so a pack is visible exactly when its index is.

Here: the layout's constants and the building of an index (pacha.store.pack_writer
writes packs, pacha.store.pack reads one, pacha.store.packset finds them all).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from pacha.hashing import digest
from pacha.store.idtable import FANOUT, RAW_ID, build_fanout

PACK_MAGIC = b"PCHP"
INDEX_MAGIC = b"PCHI"
PACK_VERSION = 1
PACK_HEADER = PACK_MAGIC + bytes((PACK_VERSION, 0, 0, 0))
INDEX_HEADER = INDEX_MAGIC + bytes((PACK_VERSION, 0, 0, 0))
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
