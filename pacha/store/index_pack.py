"""Rebuilding a pack's index from the pack alone (as `git index-pack`).

A pack is its entries back to back, each a stored object (header + encoded
body), then the pack id (docs/format.md). The header gives the decoded size,
and every encoding's body has a length that follows from it: an identity body
is `size` bytes, a zstd body is frames whose content sizes add up to `size`
(each frame's compressed length is read from its block headers), a delta is a
32-byte base id and one frame, a chunk list entries whose sizes add up to
`size`. Each entry is then decoded and hashed for its id (a delta's base and a
chunk list's chunks are found in the same pack or in the store), and the index
is accepted only if its columns hash to the pack id in the trailer: the
rebuilt index is then byte for byte the one the writer made.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from pacha import codec
from pacha.crypto import envelope, stage
from pacha.errors import CorruptObject, InvalidInput, ObjectNotFound, PachaError
from pacha.hashing import HASH_BLOCK, digest, new_hasher
from pacha.store.chunked import CHUNK_ENTRY
from pacha.store.encodings import body_source
from pacha.store.objectstore import ObjectStore
from pacha.store.pack_format import (
    CHECKSUM,
    PACK_HEADER,
    PACK_MAGIC,
    PACK_VERSION,
    Entry,
    build_index,
    check_prologue,
    index_table,
)
from pacha.store.reader import ObjectReader, Stream, ViewReader
from pacha.store.tmpfile import TempFile


def _zstd_frames_length(body: memoryview, start: int, size: int, one_frame: bool) -> int:
    """Where the zstd frames starting at body[start:] end, given their decoded size."""
    import pyzstd

    pos, decoded = start, 0
    while decoded < size or pos == start:
        try:
            info = pyzstd.get_frame_info(body[pos : pos + 18])
            length = pyzstd.get_frame_size(body[pos:])
        except (pyzstd.ZstdError, ValueError) as exc:
            raise CorruptObject(f"zstd frame at body offset {pos} is damaged ({exc})") from None
        pos += length
        if one_frame:
            return pos
        if info.decompressed_size is None:
            raise CorruptObject(f"zstd frame at body offset {pos} does not state its size")
        decoded += info.decompressed_size
        if size == 0:
            break
    if decoded != size:
        raise CorruptObject(f"zstd frames decode to {decoded} bytes, the header says {size}")
    return pos


def entry_length(data: memoryview, offset: int, end: int) -> tuple[codec.Header, int]:
    """The header and stored length of the entry at data[offset:] (entries end at end)."""
    header = codec.parse_header(bytes(data[offset : offset + codec.MAX_HEADER_LEN]), f"at offset {offset}")
    start = offset + header.length
    body = data[start:end]
    if header.encoding == codec.IDENTITY:
        length = header.size
    elif header.encoding == codec.ZSTD:
        length = 0 if header.size == 0 and not len(body) else _zstd_frames_length(body, 0, header.size, False)
    elif header.encoding == codec.DELTA:
        length = _zstd_frames_length(body, 32, header.size, True)
    elif header.encoding == codec.ENCRYPTED:
        try:
            length = envelope.length(body)[0]
        except ValueError as exc:
            raise CorruptObject(f"encrypted entry at offset {offset}: {exc}") from None
    else:  # a chunk list
        length, total = 0, 0
        while total < header.size:
            if length + CHUNK_ENTRY > len(body):
                raise CorruptObject(f"chunk list at offset {offset} runs past the end of the pack")
            total += int.from_bytes(body[length + 32 : length + 40], "little")
            length += CHUNK_ENTRY
        if total != header.size:
            raise CorruptObject(f"chunk list at offset {offset} adds up to {total} bytes, not {header.size}")
    if start + length > end:
        raise CorruptObject(f"entry at offset {offset} runs past the end of the pack")
    return header, header.length + length


class _PackSource:
    """The store, plus the entries of the pack being indexed (for bases and chunks)."""

    def __init__(self, store: ObjectStore, data: memoryview) -> None:
        self.store = store
        self.data = data
        self.known: dict[str, Entry] = {}

    def open_stored(self, object_id: str) -> tuple[codec.Header, Stream]:
        entry = self.known.get(object_id)
        if entry is None:
            return self.store.open_stored(object_id)
        stored = self.data[entry.offset : entry.offset + entry.length]
        header = codec.parse_header(bytes(stored[: codec.MAX_HEADER_LEN]), object_id)
        return stage.open_stored(self.store.keys, object_id, header, ViewReader(stored[header.length :]))

    def open(self, object_id: str) -> ObjectReader:
        header, raw = self.open_stored(object_id)
        source = body_source(header, raw, self)
        return ObjectReader(object_id, header.kind, header.size, source, raw)

    def read(self, object_id: str) -> bytes:
        with self.open(object_id) as reader:
            return reader.read()

    def object_id(self, header: codec.Header, stored: memoryview) -> str:
        """The id of the object whose stored bytes these are (decoded and hashed)."""
        raw: Stream = ViewReader(stored[header.length :])
        if header.encoding == codec.ENCRYPTED:  # opened under the id its envelope states
            claimed = envelope.stored_id(stored[header.length :])
            header, raw = stage.open_stored(self.store.keys, claimed, header, raw)
        source = body_source(header, raw, self)
        hasher = new_hasher(header.size)
        buffer = memoryview(bytearray(min(max(header.size, 1), HASH_BLOCK)))
        seen = 0
        while n := source.readinto(buffer):
            hasher.update(buffer[:n])
            seen += n
            if seen > header.size:
                break
        if seen != header.size:
            raise CorruptObject(f"body decodes to {seen} bytes, its header says {header.size}")
        return str(hasher.hexdigest())


def index_pack(store: ObjectStore, pack_path: str | os.PathLike[str]) -> Path:
    """Write the index of the pack at pack_path (replacing a damaged or missing one).

    Returns the index path. Raises InvalidInput if the file is not a pack, and
    CorruptObject if the pack itself is damaged (its entries do not parse, a body
    does not decode, or the rebuilt index does not hash to the pack's id).
    """
    path = Path(pack_path)
    if path.suffix == ".idx":
        path = path.with_suffix(".pack")
    mapped = _map_pack(path)
    data = memoryview(mapped)
    try:
        index_bytes = _rebuild_index(store, path, data)
    except PachaError:
        raise
    except (ValueError, OverflowError) as exc:
        raise CorruptObject(f"pack {path} is damaged ({exc})") from None
    finally:
        data.release()
        mapped.close()
    index = path.with_suffix(".idx")
    tmp = TempFile(store.tmp_dir, "idx")
    try:
        tmp.write(index_bytes)
        tmp.install(index)
    finally:
        tmp.abort()
    store.forget_packs()
    return index


def _map_pack(path: Path) -> mmap.mmap:
    """The pack file at path, mapped read-only (InvalidInput if there is no such file)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < len(PACK_HEADER) + CHECKSUM:
                raise CorruptObject(f"pack {path} is truncated: {size} bytes")
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise InvalidInput(f"no pack file {path}: give the path of a .pack file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory: give the path of a .pack file") from None


def _rebuild_index(store: ObjectStore, path: Path, data: memoryview) -> bytes:
    """The index file's bytes for the pack whose bytes are data (CorruptObject if damaged)."""
    if bytes(data[: len(PACK_MAGIC)]) != PACK_MAGIC:
        raise CorruptObject(f"{path} is not a pacha pack (bad header)")
    check_prologue(data, PACK_MAGIC, PACK_VERSION, f"pack {path}")
    trailer = bytes(data[len(data) - CHECKSUM :])
    source = _PackSource(store, data)
    pending: list[tuple[int, codec.Header, int]] = []
    offset, end = len(PACK_HEADER), len(data) - CHECKSUM
    while offset < end:
        header, length = entry_length(data, offset, end)
        pending.append((offset, header, length))
        offset += length
    # Whole objects first, then deltas and chunk lists (their bases and chunks may be
    # entries of this pack), repeated while any is resolved.
    while pending:
        left = []
        for offset, header, length in pending:
            try:
                object_id = source.object_id(header, data[offset : offset + length])
            except ObjectNotFound:
                left.append((offset, header, length))
                continue
            source.known.setdefault(object_id, Entry(offset, length))
        if len(left) == len(pending):
            raise CorruptObject(
                f"pack {path}: the entry at offset {left[0][0]} needs an object that is neither "
                "in the pack nor in the store"
            )
        pending = left
    table = index_table(source.known)
    if digest(table[1]) != trailer:
        raise CorruptObject(f"pack {path} is damaged: its entries do not add up to its id")
    return build_index(table, trailer)
