"""Reading local objects to send them: what a push's walk follows, each object's stored form
checked before it leaves, and the packs it goes in (pacha.transport.transfer, .upload); the
sending half of the adapter pacha.transport.local."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple, cast

from pacha import codec
from pacha import objects as kinds
from pacha.errors import CorruptObject
from pacha.hashing import digest as blake3_digest
from pacha.store.encodings import decode_whole
from pacha.store.pack_format import PACK_HEADER, Entry, build_index, index_table
from pacha.store.reader import verified
from pacha.transport import local

if TYPE_CHECKING:
    from pacha.store import ObjectStore

_U64 = struct.Struct("<Q")


def walk_links(store: ObjectStore, object_id: str, about: local.Described) -> list[str]:
    """links(), given what describe() said: a blob stored whole links nothing (no read)."""
    if about.kind in kinds.STRUCTURED_KINDS or about.encoding in local.STORAGE_LINKING:
        return local.links(store, object_id)
    return []


def sendable(store: ObjectStore, object_id: str) -> bytes:
    """The stored form a push sends (stored_bytes), checked so that a damaged local copy never
    reaches the remote: an identity or single-frame zstd body (every chunk and small file) is
    decoded and hashed from these very bytes (no second read); a chunk list is checked whole
    (entries of 40 bytes whose sizes add up to the file's size; that each chunk exists here or
    there, the walk checked); a delta or a sealed body is verified by the store's reader.
    Raises CorruptObject."""
    data = local.stored_bytes(store, object_id)
    header = codec.parse_header(data[: codec.MAX_HEADER_LEN], object_id)
    body = memoryview(data)[header.length :]
    if header.encoding in (codec.IDENTITY, codec.ZSTD):
        content = decode_whole(header, cast(bytes, body))
        if content is not None:
            verified(object_id, header.size, content)
            return data
    if header.encoding == codec.CHUNKS:
        _check_chunk_list(object_id, header.size, body)
    elif header.encoding == codec.ENCRYPTED and store.stat(object_id).encoding == codec.CHUNKS:
        listed = store.chunk_list(object_id) or []
        _check_sizes(object_id, header.size, [c.size for c in listed])
    else:
        local.verify(store, object_id)
    return data


RUN_BYTES = 4 << 20  # bytes read at once by sendable_many from one local pack


def sendable_many(
    store: ObjectStore, entries: Sequence[tuple[str, int]]
) -> Iterator[tuple[str, bytes | memoryview]]:
    """(id, sendable form) for each (id, planned length), in order. Entries lying back to back
    in one local pack, as a file's chunks do, are read by one pread per run of up to RUN_BYTES
    and each checked from that buffer (decoded and hashed, a view: no read and copy of its own,
    which a 1 GiB file would pay 13,000 times); what that cannot check (a delta, a chunk list,
    a damaged copy, any object of an encrypted registry) goes the careful way (sendable)."""
    k = 0
    while k < len(entries):
        fd, start, lengths = (-1, 0, []) if store.keys.encrypted else _packed_run(store, entries, k)
        data = os.pread(fd, sum(lengths), start) if len(lengths) > 1 else b""
        if len(lengths) < 2 or len(data) != sum(lengths):
            object_id = entries[k][0]
            yield object_id, sendable(store, object_id)
            k += 1
            continue
        offset = 0
        for (object_id, _), length in zip(entries[k : k + len(lengths)], lengths, strict=True):
            view = memoryview(data)[offset : offset + length]
            offset += length
            yield object_id, view if _whole_and_sound(object_id, view) else sendable(store, object_id)
        k += len(lengths)


def _packed_run(store: ObjectStore, entries: Sequence[tuple[str, int]], k: int) -> tuple[int, int, list[int]]:
    """(fd, start, lengths) of the entries from k on that lie back to back in one local pack
    with their planned lengths, up to RUN_BYTES; ([] if entry k is not packed so)."""
    fd, start, end = -1, 0, 0
    lengths: list[int] = []
    for object_id, length in entries[k:]:
        where = store.packed_entry(object_id)
        if where is None or where[2] != length or (lengths and (where[0] != fd or where[1] != end)):
            break
        if not lengths:
            fd, start, end = where[0], where[1], where[1]
        if end + length - start > RUN_BYTES and lengths:
            break
        end += length
        lengths.append(length)
    return fd, start, lengths


def _whole_and_sound(object_id: str, view: memoryview) -> bool:
    """Is view an identity or single-frame zstd stored form that decodes and hashes to its id?
    (False: another form, or damage; the careful way then reads it, or names the damage.)"""
    try:
        header = codec.parse_header(bytes(view[: codec.MAX_HEADER_LEN]), object_id)
        if header.encoding not in (codec.IDENTITY, codec.ZSTD):
            return False
        content = decode_whole(header, cast(bytes, view[header.length :]))
        if content is None:
            return False
        verified(object_id, header.size, content)
        return True
    except CorruptObject:
        return False


def _check_chunk_list(object_id: str, size: int, body: memoryview) -> None:
    if len(body) % local.CHUNK_ENTRY:
        raise CorruptObject(f"object {object_id} is corrupt: its chunk list is not whole entries")
    sizes = [_U64.unpack_from(body, i + 32)[0] for i in range(0, len(body), local.CHUNK_ENTRY)]
    _check_sizes(object_id, size, sizes)


def _check_sizes(object_id: str, size: int, sizes: list[int]) -> None:
    if not sizes or min(sizes) <= 0 or sum(sizes) != size:
        raise CorruptObject(f"object {object_id} is corrupt: its chunks do not add up to its size")


class PackPlan(NamedTuple):
    """A pack to send, worked out from its entries' ids and lengths before a byte is read."""

    pack_id: str
    entries: list[tuple[str, int]]  # (id, stored length), in pack order
    index_data: bytes
    size: int  # bytes of the pack file

    @property
    def objects_size(self) -> int:
        return self.size - len(PACK_HEADER) - 32


def plan_pack(items: Iterable[tuple[str, int]]) -> PackPlan:
    """The pack of these (id, stored length)s, in this order (a repeated id once): its id (the
    digest of its index table, as for every pack), its index and its size. The pack file is
    PACK_HEADER, the stored forms back to back, then the raw pack id (docs/format.md, Packs).
    Same entries in the same order give the same pack id, so a push run again after an
    interruption recognises a pack that arrived and resumes one that did not."""
    entries: dict[str, Entry] = {}
    offset = len(PACK_HEADER)
    for object_id, length in items:
        if object_id not in entries:
            entries[object_id] = Entry(offset, length)
            offset += length
    table = index_table(entries)
    pack_id = blake3_digest(table[1])
    listed = [(object_id, entry.length) for object_id, entry in entries.items()]
    return PackPlan(pack_id.hex(), listed, build_index(table, pack_id), offset + len(pack_id))
