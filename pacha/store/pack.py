"""Packfiles: many stored objects in one file, found through a sorted index.

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
"""

from __future__ import annotations

import bisect
import contextlib
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from pacha import codec
from pacha.crash import crash_point
from pacha.errors import CorruptObject
from pacha.store.reader import ViewReader
from pacha.store.tmpfile import TempFile, fsync_dir

if TYPE_CHECKING:
    from pacha.store.midx import MultiPackIndex

PACK_MAGIC = b"PCHP"
INDEX_MAGIC = b"PCHI"
PACK_VERSION = 1
PACK_HEADER = PACK_MAGIC + bytes((PACK_VERSION, 0, 0, 0))
INDEX_HEADER = INDEX_MAGIC + bytes((PACK_VERSION, 0, 0, 0))
CHECKSUM = 32
RAW_ID = 32
RACY_NS = 2_000_000_000
WHOLE_READ = 4 << 20  # entries up to this size are read in one pread
CHECKSUM_ON_OPEN = 8 << 20  # indexes up to this size (~170,000 ids) are checksummed when opened
MATERIALIZE_MAX = 4_000_000  # indexes up to this many ids are searched as a Python list
FLUSH_EVERY = 1 << 20  # a pack writer gathers small entries up to this many bytes per write
_FANOUT = struct.Struct("<256I")
_U64 = struct.Struct("<Q")


class Entry(NamedTuple):
    """Where one object's stored bytes lie in a pack."""

    offset: int
    length: int


Seal = Callable[[str, tuple[bytes | memoryview, ...]], tuple[bytes | memoryview, ...]]


class PackWriter:
    """Appends stored objects to a temp pack; finish() writes its index and installs both.

    Used by one thread at a time. Until finish(), nothing is visible to others;
    abort() (or a crash) leaves only a temp file that gc clears.
    """

    def __init__(self, pack_dir: Path, tmp_dir: Path, seal: Seal | None = None) -> None:
        self.pack_dir = pack_dir
        self.tmp_dir = tmp_dir
        self.seal = seal  # the encryption stage (ObjectStore.seal_parts), applied to every entry
        self._file = TempFile(tmp_dir, "pack")
        self.entries: dict[str, Entry] = {}
        self._file.write(PACK_HEADER)
        self._end = self._file.written  # where the next entry goes (buffered bytes included)
        self._buffered: list[bytes | memoryview] = []
        self._buffered_bytes = 0

    def __contains__(self, object_id: str) -> bool:
        return object_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, object_id: str, *parts: bytes | memoryview) -> None:
        """Append one stored object (its header and body, possibly in parts); repeats are skipped."""
        self._append(object_id, parts)
        self._flush_if_full()

    def add_many(self, items: list[tuple[str, tuple[bytes | memoryview, ...]]]) -> None:
        """Append several stored objects (repeats are skipped)."""
        for object_id, parts in items:
            self._append(object_id, parts)
        self._flush_if_full()

    def _append(self, object_id: str, parts: tuple[bytes | memoryview, ...]) -> None:
        """Record an entry and buffer its bytes: small entries are written together, so a
        folder of many small files costs few system calls."""
        if object_id in self.entries:
            return
        if self.seal is not None:
            parts = self.seal(object_id, parts)
        length = sum(len(p) for p in parts)
        self.entries[object_id] = Entry(self._end, length)
        self._end += length
        self._buffered.extend(parts)
        self._buffered_bytes += length

    def _flush_if_full(self) -> None:
        if self._buffered_bytes >= FLUSH_EVERY or len(self._buffered) >= 512:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (before the buffers' memory may change or go away)."""
        if self._buffered:
            self._file.writev(self._buffered)
            self._buffered, self._buffered_bytes = [], 0

    def read_entry(self, object_id: str) -> bytes:
        """The stored bytes of an object added but not yet installed."""
        self.flush()
        entry = self.entries[object_id]
        return self._file.pread(entry.length, entry.offset)

    def finish(self) -> Path | None:
        """Install the pack and its index; returns the index path (None if the pack is empty)."""
        if not self.entries:
            self.abort()
            return None
        self.flush()
        table = index_table(self.entries)
        pack_id = blake3_digest(table[1])
        self._file.write(pack_id)
        name = f"pack-{pack_id.hex()}"
        index = TempFile(self.tmp_dir, "idx")
        try:
            index.write(build_index(table, pack_id))
            self._file.install(self.pack_dir / f"{name}.pack")
            crash_point("pack-before-index")  # leaves a pack without its index (pacha.leftovers)
            index.install(self.pack_dir / f"{name}.idx")
        finally:
            index.abort()
            self._file.abort()
        return self.pack_dir / f"{name}.idx"

    def abort(self) -> None:
        self._file.abort()


def blake3_digest(data: bytes | memoryview) -> bytes:
    import blake3

    return blake3.blake3(data).digest()


def index_table(entries: dict[str, Entry]) -> tuple[bytes, bytes]:
    """The fan-out table and the ids, offsets and lengths columns of a pack's entries."""
    ids = sorted(entries)
    fanout = [0] * 256
    for object_id in ids:
        fanout[int(object_id[:2], 16)] += 1
    total = 0
    for i in range(256):
        total += fanout[i]
        fanout[i] = total
    columns = b"".join(
        (
            b"".join(bytes.fromhex(i) for i in ids),
            b"".join(_U64.pack(entries[i].offset) for i in ids),
            b"".join(_U64.pack(entries[i].length) for i in ids),
        )
    )
    return _FANOUT.pack(*fanout), columns


def build_index(table: tuple[bytes, bytes], pack_id: bytes) -> bytes:
    """The index file's bytes, given the table from index_table and the pack id."""
    body = INDEX_HEADER + table[0] + table[1] + pack_id
    return body + blake3_digest(body)


class IdColumn:
    """The sorted id column of an index (of a pack, or of many), as a sequence bisect can search."""

    def __init__(self, view: memoryview, count: int) -> None:
        self._view = view
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> bytes:
        return self._view[i * RAW_ID : (i + 1) * RAW_ID].tobytes()


class Pack:
    """One installed pack: its index mapped read-only, its entries read with pread."""

    def __init__(self, index_path: Path) -> None:
        import mmap

        self.index_path = index_path
        self.path = index_path.with_suffix(".pack")
        self.name = index_path.stem
        fixed = len(INDEX_HEADER) + _FANOUT.size + 2 * CHECKSUM
        with open(index_path, "rb") as f:
            if os.fstat(f.fileno()).st_size < fixed:  # mmap refuses an empty file
                raise CorruptObject(f"pack index {index_path} is corrupt: truncated")
            self._index = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        index = memoryview(self._index)
        try:
            self._check_index(index, fixed)
        except BaseException:
            index.release()
            self._index.close()
            raise
        start = len(INDEX_HEADER) + _FANOUT.size
        self._ids = IdColumn(index[start : start + self.count * RAW_ID], self.count)
        start += self.count * RAW_ID
        self._offsets = index[start : start + self.count * 8].cast("Q")
        start += self.count * 8
        self._lengths = index[start : start + self.count * 8].cast("Q")
        start += self.count * 8
        self.pack_id = bytes(index[start : start + CHECKSUM])
        self._id_list: list[bytes] | None = None
        self._columns = index[len(INDEX_HEADER) + _FANOUT.size : start]
        self._fd = -1

    def _check_index(self, index: memoryview, fixed: int) -> None:
        """What can be checked cheaply on opening: magic, version, a fan-out that never
        decreases, a size that matches the count, and the checksum of a small index.
        Raises CorruptObject naming the file (the reader then does without this pack)."""
        path = self.index_path
        if bytes(index[:4]) != INDEX_MAGIC:
            raise CorruptObject(f"pack index {path} is corrupt: bad magic")
        if index[4] != PACK_VERSION:
            raise CorruptObject(f"pack index {path} has version {index[4]}; upgrade pacha")
        self.fanout = _FANOUT.unpack_from(index, len(INDEX_HEADER))
        self.count = self.fanout[255]
        if any(a > b for a, b in zip(self.fanout, self.fanout[1:], strict=False)):
            raise CorruptObject(f"pack index {path} is corrupt: its fan-out table decreases")
        if len(index) != fixed + self.count * (RAW_ID + 16):
            raise CorruptObject(f"pack index {path} is corrupt: its size does not match its count")
        if len(index) <= CHECKSUM_ON_OPEN and blake3_digest(index[:-CHECKSUM]) != index[-CHECKSUM:]:
            raise CorruptObject(f"pack index {path} is corrupt: its checksum does not match")

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

    def position(self, raw_id: bytes) -> int:
        """Index of raw_id in the sorted ids, or -1."""
        first = raw_id[0]
        lo = self.fanout[first - 1] if first else 0
        hi = self.fanout[first]
        ids = self._id_list if self._id_list is not None else self._materialize()
        i = bisect.bisect_left(ids, raw_id, lo, hi)
        return i if i < hi and ids[i] == raw_id else -1

    def id_column(self) -> memoryview:
        """The raw sorted ids, RAW_ID bytes each, back to back."""
        return self._columns[: self.count * RAW_ID]

    def _materialize(self) -> list[bytes] | IdColumn:
        """The ids as a list of bytes, so that bisect runs in C (~70 bytes an id in memory).
        Very large indexes are searched in place instead."""
        if self.count > MATERIALIZE_MAX:
            return self._ids
        column = bytes(self._columns[: self.count * RAW_ID])
        self._id_list = [column[i : i + RAW_ID] for i in range(0, len(column), RAW_ID)]
        return self._id_list

    def id_at(self, i: int) -> str:
        return self._ids[i].hex()

    def entry_at(self, i: int) -> Entry:
        return Entry(self._offsets[i], self._lengths[i])

    def read_at(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise CorruptObject(f"pack {self.path} is truncated at offset {offset}")
        return data

    def open_entry(self, i: int, object_id: str) -> tuple[codec.Header, IO[bytes]]:
        """The header of the i-th object and a stream over its body."""
        offset, length = self._offsets[i], self._lengths[i]
        if length <= WHOLE_READ:
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
        first = int(prefix[:2], 16)
        lo = self.fanout[first - 1] if first else 0
        padded = bytes.fromhex(prefix + "0" * (len(prefix) % 2))
        i = bisect.bisect_left(self._ids, padded, lo, self.fanout[first])
        out = []
        while i < self.fanout[first]:
            object_id = self._ids[i].hex()
            if not object_id.startswith(prefix):
                if object_id[: len(prefix)] > prefix:
                    break
            else:
                out.append(object_id)
            i += 1
        return out

    def disk_size(self) -> int:
        return self.path.stat().st_size + self.index_path.stat().st_size

    def check_files(self) -> list[str]:
        """Problems with the files themselves: checksums, order of ids, entries in bounds."""
        problems = []
        size = os.fstat(self.fd).st_size
        if size < len(PACK_HEADER) + CHECKSUM or self.read_at(0, len(PACK_HEADER)) != PACK_HEADER:
            return [f"pack {self.path} is corrupt: bad header or truncated"]
        if blake3_digest(memoryview(self._index)[:-CHECKSUM]) != self._index[-CHECKSUM:]:  # type: ignore[arg-type]
            problems.append(f"pack index {self.index_path} is corrupt: its checksum does not match")
        trailer = self.read_at(size - CHECKSUM, CHECKSUM)
        if blake3_digest(self._columns) != self.pack_id or trailer != self.pack_id:
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
        self._ids = IdColumn(memoryview(b""), 0)
        self._id_list = None
        self.count = 0
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(BufferError):  # a reader still holds a view: closed when dropped
            self._index.close()


class PackSet:
    """Every pack of a store: found by listing objects/pack, refreshed when it changes."""

    def __init__(self, pack_dir: Path) -> None:
        self.dir = pack_dir
        self._packs: list[Pack] = []
        self._stamp: int | None = None
        self._listed_at = 0
        self._last: Pack | None = None
        # The multi-pack index (pacha.store.midx), the packs it covers by number, and the others.
        self._midx: MultiPackIndex | None = None
        self._midx_packs: list[Pack] = []
        self._uncovered: list[Pack] = []
        self.damaged: dict[str, str] = {}  # index file name -> why it was set aside

    def _listing_stamp(self) -> int:
        try:
            return os.stat(self.dir).st_mtime_ns
        except FileNotFoundError:
            return 0

    def refresh(self, force: bool = False) -> bool:
        """Re-read the directory if it may have changed; True if it was re-read.

        A directory's mtime has a coarse clock, so a listing taken within RACY_NS
        of its last change might miss a pack added in the same tick: such a
        listing is never trusted (as Git treats "racily clean" files).
        """
        stamp = self._listing_stamp()
        if not force and stamp == self._stamp and self._listed_at - stamp > RACY_NS:
            return False
        self._listed_at = time.time_ns()
        known = {p.index_path.name: p for p in self._packs}
        packs = []
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".idx"))
        except FileNotFoundError:
            names = []
        damaged: dict[str, str] = {}
        for name in names:
            pack = known.pop(name, None)
            if pack is None:
                try:
                    pack = Pack(self.dir / name)
                    pack.check_pack_file()
                except FileNotFoundError:
                    if pack is not None:
                        pack.close()
                    continue  # removed while listing (repack)
                except (CorruptObject, OSError, ValueError) as exc:
                    # One damaged pack costs only its own objects: the others, and loose
                    # objects, are still served (fsck reports it; index-pack rebuilds an index).
                    if pack is not None:
                        pack.close()
                    damaged[name] = str(exc)
                    warn_damaged(self.dir / name, str(exc))
                    continue
            packs.append(pack)
        self.damaged = damaged
        self._packs = packs
        if self._last is not None and self._last not in packs:
            self._last = None
        self._stamp = stamp
        self._load_midx()
        return True

    def _load_midx(self) -> None:
        """Use the multi-pack index if it is sound and every pack it names is listed."""
        from pacha.store.midx import MIDX_NAME, MultiPackIndex

        midx = self._midx
        try:
            info = os.stat(self.dir / MIDX_NAME)
            if midx is None or midx.stamp != (info.st_mtime_ns, info.st_ino):
                midx = MultiPackIndex(self.dir / MIDX_NAME)
        except FileNotFoundError:
            midx = None  # none: every pack is searched
        except (CorruptObject, OSError, ValueError) as exc:
            midx = None  # damaged (fsck says so): every pack is searched
            warn_damaged(self.dir / MIDX_NAME, str(exc))
        if midx is not self._midx and self._midx is not None:
            self._midx.close()
        by_name = {p.name: p for p in self._packs}
        if midx is not None and all(name in by_name for name in midx.pack_names):
            self._midx = midx
            self._midx_packs = [by_name[name] for name in midx.pack_names]
            covered = set(midx.pack_names)
            self._uncovered = [p for p in self._packs if p.name not in covered]
        else:  # a pack it names was removed (by a repack or gc that rewrites it next)
            self._midx, self._midx_packs, self._uncovered = midx, [], self._packs

    @property
    def uncovered(self) -> int:
        """How many packs the multi-pack index does not cover (all of them if there is none)."""
        if self._stamp is None:
            self.refresh()
        return len(self._uncovered)

    @property
    def packs(self) -> list[Pack]:
        if self._stamp is None:
            self.refresh()
        return self._packs

    def find(self, object_id: str, relist: bool = True) -> tuple[Pack, int] | None:
        """The pack holding object_id and its position there.

        On a miss the directory is re-listed (another process may have added a
        pack), unless relist is False: writers checking whether to store an
        object again can afford a stale answer, readers cannot.
        """
        raw = bytes.fromhex(object_id)
        last = self._last
        if last is not None:  # objects are looked up in runs: the chunks of one file, a folder
            i = last.position(raw)
            if i >= 0:
                return last, i
        for attempt in range(2):
            found = self._lookup(raw)
            if found is not None:
                return found
            if attempt == 0 and not (relist and self.refresh()):
                return None
        return None

    def _lookup(self, raw: bytes) -> tuple[Pack, int] | None:
        """Through the multi-pack index, then the packs it does not cover."""
        if self._stamp is None:
            self.refresh()
        if self._midx_packs:
            assert self._midx is not None
            number = self._midx.pack_of(raw)
            if 0 <= number < len(self._midx_packs):
                found = self._search(raw, [self._midx_packs[number]])
                if found is not None:
                    return found
        return self._search(raw, self._uncovered)

    def _search(self, raw: bytes, packs: list[Pack]) -> tuple[Pack, int] | None:
        for pack in packs:
            i = pack.position(raw)
            if i >= 0:
                self._last = pack
                return pack, i
        return None

    def iter_ids(self) -> Iterator[str]:
        self.refresh()
        seen: set[str] = set()
        for pack in self.packs:
            for object_id in pack.iter_ids():
                if object_id not in seen:
                    seen.add(object_id)
                    yield object_id

    def ids_with_prefix(self, prefix: str) -> list[str]:
        self.refresh()
        out: set[str] = set()
        for pack in self.packs:
            out.update(pack.ids_with_prefix(prefix))
        return sorted(out)

    def forget(self) -> None:
        """Close every mapping (after repack or gc replaced the packs)."""
        for pack in self._packs:
            pack.close()
        if self._midx is not None:
            self._midx.close()
        self._packs, self._midx, self._midx_packs, self._uncovered = [], None, [], []
        self._stamp = None
        self._last = None


_WARNED: set[str] = set()


def warn_damaged(path: Path, why: str) -> None:
    """One line on stderr, once per process and file, naming a damaged pack file set aside."""
    import sys

    if str(path) in _WARNED:
        return
    _WARNED.add(str(path))
    if path.name == "multi-pack-index":
        fix = "run `pacha multi-pack-index write`"
    else:
        fix = f"run `pacha fsck`; `pacha index-pack {path.with_suffix('.pack')}` rebuilds an index"
    sys.stderr.write(f"pacha: warning: {why}; ignoring it ({fix})\n")


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
