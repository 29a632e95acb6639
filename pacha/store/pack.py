"""One installed pack: its index mapped read-only, its entries read with pread.

Format: pacha.store.pack_format (docs/format.md). The set of all packs of a store,
and the multi-pack index over them: pacha.store.packset.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

from pacha import codec
from pacha.errors import CorruptObject
from pacha.hashing import digest
from pacha.store.idtable import FANOUT, RAW_ID, IdTable, fanout_decreases
from pacha.store.pack_format import (
    CHECKSUM,
    INDEX_ENTRY,
    INDEX_FIXED,
    INDEX_HEADER,
    INDEX_MAGIC,
    PACK_HEADER,
    PACK_VERSION,
    Entry,
)
from pacha.store.reader import Stream, ViewReader
from pacha.store.tmpfile import fsync_dir

WHOLE_ENTRY_READ = 4 << 20  # entries up to this size are read in one pread
CHECKSUM_ON_OPEN = 8 << 20  # indexes up to this size (~170,000 ids) are checksummed when opened
MATERIALIZE_MAX = 4_000_000  # indexes up to this many ids are searched as a Python list

__all__ = ["Entry", "Pack", "RangeReader", "remove_pack"]


class Pack:
    """One installed pack: its index mapped read-only, its entries read with pread."""

    def __init__(self, index_path: Path) -> None:
        self.index_path = index_path
        self.path = index_path.with_suffix(".pack")
        self.name = index_path.stem
        with open(index_path, "rb") as f:
            if os.fstat(f.fileno()).st_size < INDEX_FIXED:  # mmap refuses an empty file
                raise CorruptObject(f"pack index {index_path} is corrupt: truncated")
            self._index = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        index = memoryview(self._index)
        try:
            self.fanout = self._check_index(index)
        except BaseException:
            index.release()
            self._index.close()
            raise
        self.count = self.fanout[255]
        start = len(INDEX_HEADER) + FANOUT.size
        self._ids = IdTable(self.fanout, index[start : start + self.count * RAW_ID], 1, MATERIALIZE_MAX)
        start += self.count * RAW_ID
        self._offsets = index[start : start + self.count * 8].cast("Q")
        start += self.count * 8
        self._lengths = index[start : start + self.count * 8].cast("Q")
        start += self.count * 8
        self.pack_id = bytes(index[start : start + CHECKSUM])
        self._columns = index[len(INDEX_HEADER) + FANOUT.size : start]
        self._fd = -1
        self._size: int | None = None

    def _check_index(self, index: memoryview) -> tuple[int, ...]:
        """What can be checked cheaply on opening: magic, version, a fan-out that never
        decreases, a size that matches the count, and the checksum of a small index.
        Returns the fan-out table. Raises CorruptObject naming the file (the reader then
        does without this pack)."""
        path = self.index_path
        if bytes(index[:4]) != INDEX_MAGIC:
            raise CorruptObject(f"pack index {path} is corrupt: bad magic")
        if index[4] != PACK_VERSION:
            raise CorruptObject(f"pack index {path} has version {index[4]}; upgrade pacha")
        fanout = FANOUT.unpack_from(index, len(INDEX_HEADER))
        if fanout_decreases(fanout):
            raise CorruptObject(f"pack index {path} is corrupt: its fan-out table decreases")
        if len(index) != INDEX_FIXED + fanout[255] * INDEX_ENTRY:
            raise CorruptObject(f"pack index {path} is corrupt: its size does not match its count")
        if len(index) <= CHECKSUM_ON_OPEN and digest(index[:-CHECKSUM]) != index[-CHECKSUM:]:
            raise CorruptObject(f"pack index {path} is corrupt: its checksum does not match")
        return fanout

    def check_pack_file(self) -> None:
        """Check the pack file against its index cheaply: it exists, starts with the pack
        header and ends with the pack id the index names (a truncated or swapped pack
        fails). Raises CorruptObject naming the file."""
        try:
            size = os.fstat(self.fd).st_size
        except FileNotFoundError:
            if not self.index_path.exists():
                raise  # both removed meanwhile (a repack replaced it): not damage
            raise CorruptObject(
                f"pack {self.path} is missing (its index {self.index_path.name} is there)"
            ) from None
        if size < len(PACK_HEADER) + CHECKSUM or os.pread(self.fd, len(PACK_HEADER), 0) != PACK_HEADER:
            raise CorruptObject(f"pack {self.path} is corrupt: bad header or truncated")
        if os.pread(self.fd, CHECKSUM, size - CHECKSUM) != self.pack_id:
            raise CorruptObject(
                f"pack {self.path} is corrupt or truncated: its trailer does not match its index"
            )

    @property
    def fd(self) -> int:
        """The pack file, opened on first use and read with pread (thread-safe, and the
        bytes read do not stay mapped into the process as a mapping's would)."""
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def file_size(self) -> int:
        """The pack file's size (packs never change once installed: asked once)."""
        if self._size is None:
            self._size = os.fstat(self.fd).st_size
        return self._size

    def position(self, raw_id: bytes) -> int:
        """Index of raw_id in the sorted ids, or -1."""
        return self._ids.position(raw_id)

    def id_column(self) -> memoryview:
        """The raw sorted ids, RAW_ID bytes each, back to back."""
        return self._columns[: self.count * RAW_ID]

    def id_at(self, i: int) -> str:
        return self._ids[i].hex()

    def entry_at(self, i: int) -> Entry:
        return Entry(self._offsets[i], self._lengths[i])

    def read_at(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise CorruptObject(f"pack {self.path} is truncated at offset {offset}")
        return data

    def open_entry(self, i: int, object_id: str) -> tuple[codec.Header, Stream]:
        """The header of the i-th object and a stream over its body."""
        offset, length = self._offsets[i], self._lengths[i]
        if length <= WHOLE_ENTRY_READ:
            stored = self.read_at(offset, length)
            header = codec.parse_header(stored[: codec.MAX_HEADER_LEN], object_id)
            return header, ViewReader(memoryview(stored)[header.length :])
        header = codec.parse_header(self.read_at(offset, codec.MAX_HEADER_LEN), object_id)
        return header, RangeReader(self.fd, offset + header.length, length - header.length)

    def iter_ids(self) -> Iterator[str]:
        for i in range(self.count):
            yield self._ids[i].hex()

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Ids in this pack that start with prefix (lowercase hex, at least 2 characters)."""
        return self._ids.ids_with_prefix(prefix)

    def disk_size(self) -> int:
        return self.path.stat().st_size + self.index_path.stat().st_size

    def check_files(self) -> list[str]:
        """Problems with the files themselves: checksums, order of ids, entries in bounds."""
        problems = []
        size = os.fstat(self.fd).st_size
        if size < len(PACK_HEADER) + CHECKSUM or self.read_at(0, len(PACK_HEADER)) != PACK_HEADER:
            return [f"pack {self.path} is corrupt: bad header or truncated"]
        if digest(memoryview(self._index)[:-CHECKSUM]) != self._index[-CHECKSUM:]:
            problems.append(f"pack index {self.index_path} is corrupt: its checksum does not match")
        trailer = self.read_at(size - CHECKSUM, CHECKSUM)
        if digest(self._columns) != self.pack_id or trailer != self.pack_id:
            problems.append(f"pack {self.path} does not match its index (pack ids differ)")
        if self.name != f"pack-{self.pack_id.hex()}":
            problems.append(f"pack {self.path} is misnamed: its id is {self.pack_id.hex()}")
        previous = b""
        for i in range(self.count):
            raw = self._ids[i]
            if raw <= previous:
                problems.append(f"pack index {self.index_path} is corrupt: ids out of order at {raw.hex()}")
                break
            previous = raw
            offset, length = self._offsets[i], self._lengths[i]
            if offset < len(PACK_HEADER) or offset + length > size - CHECKSUM:
                problems.append(f"pack index {self.index_path}: entry {raw.hex()} lies outside its pack")
        return problems

    def close(self) -> None:
        for view in (self._offsets, self._lengths, self._columns):
            view.release()
        self._ids.close()
        self.count = 0
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(BufferError):  # a reader still holds a view: closed when dropped
            self._index.close()


def remove_pack(pack: Pack) -> int:
    """Delete a pack: its index first, so no reader finds a pack without its data."""
    try:
        freed = pack.disk_size()
    except FileNotFoundError:
        return 0  # another repack removed it first
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pack.index_path)
        os.unlink(pack.path)
    fsync_dir(pack.index_path.parent)
    return freed


class RangeReader:
    """A file-like view of bytes [offset, offset + length) of a file, read with pread."""

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self._fd = fd
        self._pos = offset
        self._end = offset + length

    def read(self, n: int = -1) -> bytes:
        left = self._end - self._pos
        n = left if n is None or n < 0 else min(n, left)
        data = os.pread(self._fd, n, self._pos) if n else b""
        if len(data) != n:
            raise CorruptObject(f"pack file is truncated at offset {self._pos + len(data)}")
        self._pos += n
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Read straight into buffer (no intermediate bytes object)."""
        view = memoryview(buffer)[: max(0, self._end - self._pos)]
        n = os.preadv(self._fd, [view], self._pos) if len(view) else 0
        if n != len(view):
            raise CorruptObject(f"pack file is truncated at offset {self._pos + n}")
        self._pos += n
        return n

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._pos = self._end

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
