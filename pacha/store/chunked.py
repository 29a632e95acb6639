"""Chunked blobs: a large file stored as content-defined chunks.

A blob larger than CHUNK_THRESHOLD is cut with FastCDC (pyfastcdc) into chunks
of AVG_CHUNK bytes on average; each chunk is a blob of its own, and the file is
stored under its whole-file BLAKE3 id as a chunk list (encoding 3: 40 bytes a
chunk, id and size). A second version that differs in a few places shares
every unchanged chunk, so it costs only what changed. Readers see one blob:
reading streams the chunks and verifies the whole (which proves every chunk).

Ingest overlaps the work on both cores: the caller's thread cuts (FastCDC
releases the GIL); a pool of two hashes each chunk, skips known ones, compresses
(or deltas) new ones and adds the group to the whole-file hash, in order; a
writer thread appends each group of new chunks to a pack in one write. At most
DEPTH groups of ~8 MiB are in flight, so memory stays bounded whatever the size.

A regular file is read through mmap (no copy; pages are released as groups
finish) and checked unchanged afterwards (pacha.store.ingest); a stream is read
into private buffers. When the earlier version has the same size, the new one
is cut where the old one was cut (a fine-tune or an in-place edit keeps the
layout): no cutting pass, every unchanged chunk found by its hash, and every
changed one deltas against the chunk it replaced.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

from pacha import codec
from pacha.blocks import BLOCK, DEPTH
from pacha.crypto.stage import open_chunk_into
from pacha.errors import CorruptObject
from pacha.ids import new_hasher
from pacha.store.copies import DAMAGED, SOUND

if TYPE_CHECKING:
    from pacha.blocks import MappedFile
    from pacha.codec import ObjectSource
    from pacha.store import ObjectStore
    from pacha.store.pack import PackWriter

# Chosen by `scripts/bench_storage.py --sweep` (see docs/format.md): FastCDC's
# average parameter 64 KiB gives chunks of ~80 KiB (it adds the minimum, 16 KiB).
AVG_CHUNK = 64 << 10
CHUNK_THRESHOLD = BLOCK  # blobs above this are chunked
# Changed chunks of retrained weights do not delta (every value moved): after this many
# misses in a row, a blob's remaining chunks are only compressed.
GIVE_UP_AFTER = 32
_ENTRY = struct.Struct("<32sQ")
# A reader reads runs of chunks stored whole back to back in a pack with one preadv
# (two buffers a chunk: header and body; IOV_MAX is 1024 on Linux).
RUN_MIN = 2
RUN_MAX = 500


class ChunkRef(NamedTuple):
    id: str
    size: int


def encode_chunk_list(chunks: list[ChunkRef]) -> bytes:
    return b"".join(_ENTRY.pack(bytes.fromhex(c.id), c.size) for c in chunks)


def decode_chunk_list(body: bytes) -> list[ChunkRef]:
    if len(body) % _ENTRY.size:
        raise CorruptObject(f"chunk list of {len(body)} bytes is not a whole number of entries")
    return [ChunkRef(raw.hex(), size) for raw, size in _ENTRY.iter_unpack(body)]


class ChunkedSource:
    """The bytes of a chunked blob, chunk after chunk.

    Chunks are decoded without hashing each one: the reader hashes the whole
    blob, which proves every byte (one pass over the data instead of two). When
    the whole does not match, diagnose() finds the damaged chunk to name it.
    """

    def __init__(self, body: bytes, objects: ObjectSource) -> None:
        self.chunks = decode_chunk_list(body)
        self._objects = objects
        self._next = 0
        self._current: Any = None  # the decoded stream of the chunk being read
        self._raw: Any = None  # its stored bytes, closed after it
        self._left = 0  # bytes of the current chunk not read yet

    def _open(self, chunk: ChunkRef) -> None:
        header, raw = self._objects.open_stored(chunk.id)
        if header.kind != "blob" or header.size != chunk.size:
            raw.close()
            raise CorruptObject(
                f"chunk {chunk.id} is a {header.kind} of {header.size} bytes, "
                f"the chunk list says a blob of {chunk.size}"
            )
        if header.encoding == codec.CHUNKS:  # not written by Pacha, but readable: verify it alone
            raw.close()
            self._current, self._raw = self._objects.open(chunk.id), None
        else:
            self._current = codec.ENCODINGS[header.encoding].source(raw, self._objects)
            self._raw = raw
        self._left = chunk.size

    def _close_current(self) -> None:
        if self._raw is not None and self._raw is not self._current:
            self._raw.close()
        if self._current is not None:
            self._current.close()
        self._current = self._raw = None

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill as much of buffer as the remaining chunks allow (large reads hash faster)."""
        view = memoryview(buffer)
        filled = 0
        while filled < len(view):
            if self._current is None:
                if self._next >= len(self.chunks):
                    break
                run = self._read_run(view[filled:]) or self._read_sealed_run(view[filled:])
                if run:
                    filled += run
                    continue
                self._open(self.chunks[self._next])
            n = self._current.readinto(view[filled : filled + self._left]) if self._left else 0
            if n:
                filled += n
                self._left -= n
            elif self._left:
                chunk = self.chunks[self._next]
                raise CorruptObject(f"chunk {chunk.id} ends {self._left} bytes short of its {chunk.size}")
            if not self._left:
                self._close_current()
                self._next += 1
        return filled

    def _read_run(self, view: memoryview) -> int:
        """Read the next chunks straight into view with one preadv, if at least RUN_MIN of
        them are stored whole (identity) back to back in one pack and fit; returns the
        bytes read (0: the regular path reads the next chunk). Each entry's header is read
        too and must be exactly what such a chunk's header is; where one is not, the run
        stops there and the regular path reads (and overwrites) from that chunk on."""
        packed_entry = getattr(self._objects, "packed_entry", None)
        if packed_entry is None:
            return 0
        buffers: list[bytearray | memoryview] = []
        headers: list[tuple[bytearray, bytes, int]] = []  # (read, expected, chunk size)
        filled = start = end = 0
        fd = -1
        for chunk in self.chunks[self._next : self._next + RUN_MAX]:
            if filled + chunk.size > len(view):
                break
            where = packed_entry(chunk.id)
            expected = codec.pack_header("blob", chunk.size, codec.IDENTITY)
            if where is None or where[2] != len(expected) + chunk.size:
                break
            if fd < 0:
                fd, start, end = where[0], where[1], where[1]
            elif where[0] != fd or where[1] != end:
                break
            end += where[2]
            read = bytearray(len(expected))
            buffers += (read, view[filled : filled + chunk.size])
            headers.append((read, expected, chunk.size))
            filled += chunk.size
        if len(headers) < RUN_MIN or os.preadv(fd, buffers, start) != end - start:
            return 0  # a short read: the regular path says what is wrong
        done = 0
        for read, expected, size in headers:
            if read != expected:
                break
            done += size
            self._next += 1
        return done

    def _read_sealed_run(self, view: memoryview) -> int:
        """As _read_run, for chunks sealed by an encrypted registry: the entries of a run
        lying back to back in one pack are read with one pread, then each is decrypted
        straight into view (pacha.crypto.stage.open_chunk_into); the run stops at the first
        that is not a whole sealed identity chunk, which the regular path reads."""
        packed_entry = getattr(self._objects, "packed_entry", None)
        keys = getattr(self._objects, "keys", None)
        if packed_entry is None or keys is None or not keys.encrypted:
            return 0
        entries: list[tuple[ChunkRef, int]] = []  # (chunk, entry length)
        filled = start = end = 0
        fd = -1
        for chunk in self.chunks[self._next : self._next + RUN_MAX]:
            if filled + chunk.size > len(view):
                break
            where = packed_entry(chunk.id)
            if where is None:
                break
            if fd < 0:
                fd, start, end = where[0], where[1], where[1]
            elif where[0] != fd or where[1] != end:
                break
            end += where[2]
            entries.append((chunk, where[2]))
            filled += chunk.size
        if len(entries) < RUN_MIN:
            return 0
        scratch = bytearray(end - start)
        if os.preadv(fd, [scratch], start) != len(scratch):
            return 0  # a short read: the regular path says what is wrong
        stored, done, at = memoryview(scratch), 0, 0
        for chunk, length in entries:
            if not open_chunk_into(
                keys, chunk.id, chunk.size, stored[at : at + length], view[done : done + chunk.size]
            ):
                break
            at += length
            done += chunk.size
            self._next += 1
        return done

    def diagnose(self) -> None:
        """Verify every chunk on its own: raises CorruptObject naming the first damaged one."""
        for chunk in self.chunks:
            with self._objects.open(chunk.id) as reader:
                reader.verify()

    def close(self) -> None:
        self._close_current()


def _all_but_last(items: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    previous = None
    for item in items:
        if previous is not None:
            yield previous
        previous = item


def new_cutter() -> object:
    from pyfastcdc import FastCDC

    return FastCDC(AVG_CHUNK)


def cuts(cutter: object, buffer: memoryview | bytes) -> Iterator[tuple[int, int]]:
    """(offset, length) of each content-defined chunk of buffer."""
    for chunk in cutter.cut_buf(buffer):  # type: ignore[attr-defined]
        yield chunk.offset, chunk.length


class BaseChunks:
    """The chunks of an earlier version: which old chunk a changed chunk replaced.

    Content-defined boundaries resynchronise after an edit, so the chunk that
    follows an unchanged chunk in the new version replaced the chunk that
    followed it in the old one; failing that (first chunk of a group), the old
    chunk starting nearest the same offset.
    """

    def __init__(self, store: ObjectStore, base_id: str) -> None:
        self.chunks = store.chunk_list(base_id) or []
        self.starts = []
        self.position: dict[str, int] = {}
        total = 0
        for i, chunk in enumerate(self.chunks):
            self.starts.append(total)
            self.position.setdefault(chunk.id, i)
            total += chunk.size
        self.size = total

    def replaced(self, previous: str | None, offset: int, size: int) -> ChunkRef | None:
        """The old chunk a new one of size bytes at offset replaced (None if none is alike)."""
        if not self.chunks:
            return None
        if previous is not None and previous in self.position:
            i = self.position[previous] + 1
        else:
            i = bisect.bisect_left(self.starts, offset)
            if i == len(self.starts) or (i > 0 and offset - self.starts[i - 1] < self.starts[i] - offset):
                i -= 1
        if i >= len(self.chunks):
            return None
        chunk = self.chunks[i]
        return chunk if size // 4 <= chunk.size <= size * 4 else None


def _base_chunks(store: ObjectStore, base_id: str) -> BaseChunks | None:
    """The chunks of the earlier version base_id, or None if they cannot be read."""
    from pacha.store.optional import attempt

    return attempt(f"chunk list of {base_id}", lambda: BaseChunks(store, base_id))


Prepared = list[tuple[str, int, "tuple[bytes | memoryview, ...] | None"]]


class ChunkedIngest:
    """Cut, hash, compress and pack one large blob; finish() returns its id."""

    def __init__(
        self,
        store: ObjectStore,
        batch: PackWriter,
        encoding: int,
        base_id: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.batch = batch
        self.encoding = encoding
        self.level = store.loose.level
        self.hasher = new_hasher(0)  # one thread: the pool already keeps both cores busy
        self.size = 0
        self.chunks: list[ChunkRef] = []
        self.cutter = new_cutter()
        # The earlier version only guides deltas: one that cannot be read means no deltas.
        self.base = _base_chunks(store, base_id) if base_id else None
        self.progress = progress
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="pacha-chunk")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="pacha-pack")
        # per group in flight: its write, and where it ends
        self._pending: deque[tuple[Future[None], int]] = deque()
        self._hashed: threading.Event | None = None  # set once the last group is in self.hasher
        self._mapped: MappedFile | None = None
        self._released = 0  # bytes of the mapped file whose pages were given back
        self._carry = b""
        self._delta_misses = 0  # consecutive changed chunks that did not delta well

    def feed(self, block: bytes) -> None:
        """Chunk the next bytes of the blob. They are hashed and written from block itself,
        so it must be a private, immutable buffer (bytes just read), never a shared mapping."""
        view = memoryview(block)
        max_size = self.cutter.max_size  # type: ignore[attr-defined]
        if self._carry and len(view) >= max_size:
            # The carried chunk ends within max_size of its start: cut it from a small joint buffer.
            joint = self._carry + bytes(view[:max_size])
            first = next(cuts(self.cutter, joint))[1]
            self._submit(memoryview(joint), 0, first, [(0, first)])
            view = view[first - len(self._carry) :]
            self._carry = b""
        elif self._carry:
            self._carry += block
            if len(self._carry) < BLOCK:
                return
            view, self._carry = memoryview(self._carry), b""
        consumed = self._cut(view, final=False)
        self._carry = bytes(view[consumed:])

    def feed_mapped(self, mapped: MappedFile) -> None:
        """Chunk a whole mapped file (then call finish()).

        Its bytes are read in place, so the caller must check that the file did
        not change meanwhile. Pages are released as groups finish.
        """
        self._mapped = mapped
        view = mapped.view
        if self.base is not None and self.base.chunks and self.base.size == len(view):
            self._cut_as_base(view)
        else:
            self._cut(view, final=True)

    def _cut_as_base(self, view: memoryview) -> None:
        """Cut where the earlier version of the same size was cut."""
        assert self.base is not None
        self._submit_groups(view, zip(self.base.starts, (c.size for c in self.base.chunks), strict=True))

    def _cut(self, view: memoryview, final: bool) -> int:
        """Cut view with FastCDC and submit its chunks; returns the bytes consumed.

        Unless final, the last chunk is kept back: the next bytes may move its end.
        """
        found = cuts(self.cutter, view)
        return self._submit_groups(view, found if final else _all_but_last(found))

    def _submit_groups(self, view: memoryview, chunks: Iterable[tuple[int, int]]) -> int:
        """Submit consecutive chunks (offset, length) in groups of about BLOCK bytes;
        returns where the last one ends."""
        group: list[tuple[int, int]] = []
        group_start = end = 0
        for offset, length in chunks:
            group.append((offset, length))
            end = offset + length
            if end - group_start >= BLOCK:
                self._submit(view, group_start, end, group)
                group, group_start = [], end
        if group:
            self._submit(view, group_start, end, group)
        return end

    def _submit(self, view: memoryview, start: int, end: int, group: list[tuple[int, int]]) -> None:
        piece = view[start:end]
        origin = self.size
        self.size += end - start
        after, hashed = self._hashed, threading.Event()
        self._hashed = hashed
        prepared = self._pool.submit(
            self._prepare, piece, [(o - start, n) for o, n in group], origin, after, hashed
        )
        written = self._writer.submit(self._store, prepared, end - start)
        self._pending.append((written, self.size))
        while len(self._pending) > DEPTH:
            self._settle()

    def _settle(self) -> None:
        """Wait for the oldest group; a mapped file's pages before its end can go."""
        written, end = self._pending.popleft()
        written.result()
        if self._mapped is not None:
            self._mapped.release(self._released, end - self._released)
            self._released = end

    def _prepare(
        self,
        piece: memoryview,
        group: list[tuple[int, int]],
        origin: int,
        after: threading.Event | None,
        hashed: threading.Event,
    ) -> Prepared:
        """Runs on the pool: hash each chunk, encode the new ones, then add the group to the
        whole-file hash once the group before it is in (groups start in order, so the one
        waited for is running or done)."""
        import blake3

        try:
            out: Prepared = []
            previous = None
            for offset, length in group:
                data = piece[offset : offset + length]
                chunk_id = blake3.blake3(data).hexdigest()
                found = self.store.present(chunk_id, "blob", length)
                if found == SOUND:
                    out.append((chunk_id, length, None))
                elif found == DAMAGED:  # its stored copy is damaged: a good one, loose
                    self.store.repair(chunk_id, *self.store.loose.encode("blob", bytes(data)), self.batch)
                    out.append((chunk_id, length, None))
                else:
                    out.append((chunk_id, length, self._encode(data, origin + offset, previous)))
                previous = chunk_id
            if after is not None:
                after.wait()
            self.hasher.update(piece)
            return out
        finally:
            hashed.set()  # even on failure: the next group must not wait forever

    def _encode(self, data: memoryview, offset: int, previous: str | None) -> tuple[bytes | memoryview, ...]:
        """The stored form of a new chunk: zstd or raw, or a delta against the old chunk here."""
        encoding, body = codec.IDENTITY, data
        if self.encoding == codec.ZSTD:
            packed = codec.ENCODINGS[codec.ZSTD].encode(data, self.level)
            if len(packed) < len(data):
                encoding, body = codec.ZSTD, packed
        if self.base is not None and self._delta_misses < GIVE_UP_AFTER:
            old = self.base.replaced(previous, offset, len(data))
            if old is not None:
                delta = self._delta(data, old.id)
                if delta is not None and len(delta) < len(body) * (1 - _min_saving()):
                    encoding, body = codec.DELTA, delta
                    self._delta_misses = 0
                else:
                    self._delta_misses += 1
        return (codec.pack_header("blob", len(data), encoding), body)

    def _delta(self, data: memoryview, old_id: str) -> bytes | None:
        """The chunk as a delta against the old chunk old_id, or None if there is none to be
        had (too deep a chain, an old chunk that is tiny, missing or damaged, a zstd error):
        the chunk is then stored compressed or raw, never failing the write."""
        from pacha.store.delta import try_delta
        from pacha.store.optional import attempt

        if not attempt("delta chain depth", lambda: self.store.delta_depth(old_id) < _max_depth()):
            return None
        return try_delta(data, lambda: self.store.read(old_id), old_id, self.level)

    def _store(self, prepared: Future[Prepared], length: int) -> None:
        new = []
        for chunk_id, size, stored in prepared.result():
            self.chunks.append(ChunkRef(chunk_id, size))
            if stored is not None:
                new.append((chunk_id, stored))
        self.batch.add_many(new)  # one write for the whole group
        if self.progress is not None:
            self.progress(length)

    def finish(self) -> str:
        """Chunk what is left, wait for every chunk, then add the chunk list; returns the blob's id."""
        try:
            if self._carry:
                self._cut(memoryview(self._carry), final=True)
            while self._pending:
                self._settle()
        finally:
            self.close()
        blob_id = self.hasher.hexdigest()
        found = self.store.present(blob_id, "blob", self.size)
        if found != SOUND:
            header = codec.pack_header("blob", self.size, codec.CHUNKS)
            if found == DAMAGED:  # a damaged chunk list (or copy) is replaced, never reused
                self.store.repair(blob_id, header, encode_chunk_list(self.chunks), self.batch)
            else:
                self.batch.add(blob_id, header, encode_chunk_list(self.chunks))
        return blob_id

    def close(self) -> None:
        for written, _end in self._pending:
            written.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True, cancel_futures=True)
        if self._mapped is not None:
            self._mapped = None
            # the pack's write buffer may still hold views of the mapping; if writing
            # fails, the batch fails and its owner aborts it
            with contextlib.suppress(OSError):
                self.batch.flush()


def _min_saving() -> float:
    from pacha.store.delta import MIN_SAVING

    return MIN_SAVING


def _max_depth() -> int:
    from pacha.store.delta import MAX_DEPTH

    return MAX_DEPTH
