"""Chunked blobs, the write side: cutting a large blob into chunks and packing them.

A blob larger than CHUNK_THRESHOLD is cut with FastCDC (pyfastcdc) into chunks
of AVG_CHUNK bytes on average; each chunk is a blob of its own, and the file is
stored under its whole-file BLAKE3 id as a chunk list (pacha.store.chunked, the
read side).

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
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pacha import codec
from pacha.blocks import BLOCK, DEPTH, MappedFile
from pacha.crypto import stage
from pacha.hashing import hash_bytes, new_hasher
from pacha.store.checks import DAMAGED, SOUND
from pacha.store.chunked import ChunkRef, encode_chunk_list
from pacha.store.delta import MAX_DEPTH, delta_pays, try_delta
from pacha.store.encodings import ZSTD_CODER
from pacha.store.optional import attempt
from pacha.store.pack_writer import PackWriter
from pacha.store.protocols import Store
from pacha.store.slabs import Slab, SlabPool

if TYPE_CHECKING:
    from concurrent.futures import Future

# Chosen by `scripts/bench_storage.py --sweep` (see docs/format.md): FastCDC's
# average parameter 64 KiB gives chunks of ~80 KiB (it adds the minimum, 16 KiB).
AVG_CHUNK = 64 << 10
CHUNK_THRESHOLD = BLOCK  # blobs above this are chunked
# Changed chunks of retrained weights do not delta (every value moved): after this many
# misses in a row, a blob's remaining chunks are only compressed.
GIVE_UP_AFTER = 32

def _all_but_last(items: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    previous = None
    for item in items:
        if previous is not None:
            yield previous
        previous = item


def new_cutter() -> Any:
    """A FastCDC cutter (pyfastcdc, imported on first use) for chunks of AVG_CHUNK bytes."""
    from pyfastcdc import FastCDC

    return FastCDC(AVG_CHUNK)


def cuts(cutter: Any, buffer: memoryview | bytes) -> Iterator[tuple[int, int]]:
    """(offset, length) of each content-defined chunk of buffer."""
    for chunk in cutter.cut_buf(buffer):
        yield chunk.offset, chunk.length


class BaseChunks:
    """The chunks of an earlier version: which old chunk a changed chunk replaced.

    Content-defined boundaries resynchronise after an edit, so the chunk that
    follows an unchanged chunk in the new version replaced the chunk that
    followed it in the old one; failing that (first chunk of a group), the old
    chunk starting nearest the same offset.
    """

    def __init__(self, store: Store, base_id: str) -> None:
        self.chunks = store.chunk_list(base_id) or []
        self.starts: list[int] = []
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


def _base_chunks(store: Store, base_id: str) -> BaseChunks | None:
    """The chunks of the earlier version base_id, or None if they cannot be read."""
    return attempt(f"chunk list of {base_id}", lambda: BaseChunks(store, base_id))


# A group of chunks hashed and encoded: (chunk id, size, stored form, None if stored already),
# and the slab its envelopes were sealed into (an encrypted registry), to be given back once written.
Encoded = list[tuple[str, int, "tuple[bytes | bytearray | memoryview, ...] | None"]]
EncodedGroup = tuple[Encoded, Slab | None]


class ChunkedIngest:
    """Cut, hash, compress and pack one large blob; finish() returns its id."""

    def __init__(
        self,
        store: Store,
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
        from concurrent.futures import ThreadPoolExecutor  # (stdlib) not at start-up: few commands write

        self._pool = ThreadPoolExecutor(2, thread_name_prefix="pacha-chunk")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="pacha-pack")
        # per group in flight: its write, and where it ends
        self._pending: deque[tuple[Future[None], int]] = deque()
        self._hashed: threading.Event | None = None  # set once the last group is in self.hasher
        self._mapped: MappedFile | None = None
        self._released = 0  # bytes of the mapped file whose pages were given back
        self._carry = b""
        self._delta_misses = 0  # consecutive changed chunks that did not delta well
        # an encrypted registry seals each group's new chunks into one reused buffer
        self._slabs = SlabPool(DEPTH + 3) if store.keys.encrypted else None

    def feed(self, block: bytes) -> None:
        """Chunk the next bytes of the blob. They are hashed and written from block itself,
        so it must be a private, immutable buffer (bytes just read), never a shared mapping."""
        view = memoryview(block)
        max_size = self.cutter.max_size
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
    ) -> EncodedGroup:
        """Runs on the pool: hash each chunk, encode the new ones, then add the group to the
        whole-file hash once the group before it is in (groups start in order, so the one
        waited for is running or done)."""
        try:
            out: Encoded = []
            slab = None
            if self._slabs is not None:
                slab = self._slabs.get(sum(stage.sealed_size(length) for _, length in group))
            previous = None
            for offset, length in group:
                data = piece[offset : offset + length]
                chunk_id = hash_bytes(data)
                found = self.store.present(chunk_id, "blob", length)
                if found == SOUND:
                    out.append((chunk_id, length, None))
                elif found == DAMAGED:  # its stored copy is damaged: a good one, loose
                    self.store.repair(chunk_id, *self.store.loose.encode("blob", bytes(data)), self.batch)
                    out.append((chunk_id, length, None))
                else:
                    stored = self._encode(chunk_id, data, origin + offset, previous, slab)
                    out.append((chunk_id, length, stored))
                previous = chunk_id
            if after is not None:
                after.wait()
            self.hasher.update(piece)
            return out, slab
        finally:
            hashed.set()  # even on failure: the next group must not wait forever

    def _encode(
        self, chunk_id: str, data: memoryview, offset: int, previous: str | None, slab: Slab | None
    ) -> tuple[bytes | bytearray | memoryview, ...]:
        """The stored form of a new chunk: zstd or raw, or a delta against the old chunk here;
        sealed here, on the pool, into the group's slab in an encrypted registry (the writer
        thread, which every group goes through, then only writes)."""
        encoding = codec.IDENTITY
        body: bytes | memoryview = data
        if self.encoding == codec.ZSTD:
            packed = ZSTD_CODER.encode(data, self.level)
            if len(packed) < len(data):
                encoding, body = codec.ZSTD, packed
        if self.base is not None and self._delta_misses < GIVE_UP_AFTER:
            old = self.base.replaced(previous, offset, len(data))
            if old is not None:
                delta = self._delta(data, old.id)
                if delta is not None and delta_pays(len(delta), len(body)):
                    encoding, body = codec.DELTA, delta
                    self._delta_misses = 0
                else:
                    self._delta_misses += 1
        if slab is None:  # a plain registry (seal_parts leaves it as it is)
            return self.store.seal_parts(chunk_id, (codec.pack_header("blob", len(data), encoding), body))
        sealer = self.store.keys.sealer()
        return stage.seal_body(sealer, chunk_id, "blob", len(data), encoding, body, slab.take)

    def _delta(self, data: memoryview, old_id: str) -> bytes | None:
        """The chunk as a delta against the old chunk old_id, or None if there is none to be
        had (too deep a chain, an old chunk that is tiny, missing or damaged, a zstd error):
        the chunk is then stored compressed or raw, never failing the write."""
        if not attempt("delta chain depth", lambda: self.store.delta_depth(old_id) < MAX_DEPTH):
            return None
        return try_delta(data, lambda: self.store.read(old_id), old_id, self.level)

    def _store(self, prepared: Future[EncodedGroup], length: int) -> None:
        new = []
        encoded, slab = prepared.result()
        for chunk_id, size, stored in encoded:
            self.chunks.append(ChunkRef(chunk_id, size))
            if stored is not None:
                new.append((chunk_id, stored))
        self.batch.add_many(new)  # one write for the whole group
        if slab is not None and self._slabs is not None:
            self.batch.flush()  # the pack writer may hold views of the slab until then
            self._slabs.put(slab)
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
        blob_id = str(self.hasher.hexdigest())
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

