"""Streaming ingest: read, hash, compress and write overlap on every core.

Blobs larger than CHUNK_THRESHOLD are chunked into a pack (pacha.store.chunked);
small objects are stored in one shot. Other large objects (big trees) flow
through four stages that run at the same time:

    read-ahead thread ──► caller: BLAKE3 ──► zstd pool (2) ──► writer thread
                                                           (writeback as it goes)

BLAKE3, zstd and file I/O all release the GIL, so threads are enough. At most
DEPTH blocks are in flight, so memory stays bounded whatever the object's size.
Compression is chosen per object from a sample: bytes that zstd cannot shrink by
COMPRESS_MIN_SAVING (random data, model weights: float32 saves ~7 %) are stored as they
are, since compressing them would halve ingest and download speed for little.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from typing import IO, TYPE_CHECKING

from pacha import codec
from pacha.blocks import BLOCK, DEPTH, MappedFile, read_blocks
from pacha.hashing import hash_bytes, new_hasher
from pacha.store.chunk_writer import CHUNK_THRESHOLD, ChunkedIngest
from pacha.store.delta import MAX_DEPTH, delta_pays, try_delta
from pacha.store.encodings import ZSTD_CODER
from pacha.store.loose import LooseStore
from pacha.store.optional import attempt
from pacha.store.protocols import PreparedObject, Store
from pacha.store.snapshot import FileChanged, Identity, check_listed, check_unchanged, confirm_hash, identity
from pacha.store.snapshot import settled as _settled
from pacha.store.tmpfile import TempFile

if TYPE_CHECKING:
    from concurrent.futures import Future

Buffer = bytes | bytearray | memoryview
Progress = Callable[[int], None]  # called with the number of bytes just stored

COMPRESS_MIN_SAVING = 0.10  # compress only if the sample shrinks by at least 10 %
SAMPLE = 1 << 20  # bytes compressed to decide (8 MiB took 15 ms, before any other work starts)


def compression_pays(compressed: int, size: int) -> bool:
    """Whether size bytes that zstd made compressed bytes are worth storing compressed:
    they must shrink by at least COMPRESS_MIN_SAVING (reading them costs decompressing)."""
    return compressed <= size * (1 - COMPRESS_MIN_SAVING)


def choose_encoding(sample: Buffer, level: int) -> int:
    """zstd if it saves at least COMPRESS_MIN_SAVING on (the first SAMPLE bytes of) sample, else identity."""
    if not sample:
        return codec.IDENTITY
    sample = sample[:SAMPLE]
    compressed = ZSTD_CODER.encode(sample, level)
    return codec.ZSTD if compression_pays(len(compressed), len(sample)) else codec.IDENTITY


class CompressionProbe:
    """Whether to try compressing the next small object of a series (the files of a folder).

    After MISSES objects in a row that compression shrank by less than COMPRESS_MIN_SAVING
    (a folder of JPEGs or random data), only every PROBE-th is tried, until one
    compresses again: zstd then costs little on data it cannot shrink.
    """

    MISSES = 32
    PROBE = 64

    def __init__(self) -> None:
        self.misses = 0
        self.skipped = 0

    def worth_trying(self) -> bool:
        if self.misses < self.MISSES:
            return True
        self.skipped += 1
        if self.skipped < self.PROBE:
            return False
        self.skipped = 0
        return True

    def saw(self, size: int, stored: int) -> None:
        """Report what a tried object came to."""
        self.misses = 0 if compression_pays(stored, size) else self.misses + 1


def prepare_probed(store: Store, data: bytes, probe: CompressionProbe) -> PreparedObject:
    """store.prepare(data), compressed only when probe says it is worth trying."""
    compress = probe.worth_trying()
    prepared = store.prepare(data, compress=compress)
    if compress and prepared.body is not None:
        probe.saw(len(data), len(prepared.body))
    return prepared


class Ingest:
    """Writes one loose object to a temp file through the pipeline; finish() installs it.

    Used for large objects that are not chunked (trees and records of many
    megabytes); blobs that large go through pacha.store.chunked instead.
    """

    def __init__(self, store: LooseStore, kind: str, encoding: int) -> None:
        self.store = store
        self.kind = codec.check_kind(kind)
        self.encoding = encoding
        self.hasher = new_hasher()
        self.size = 0
        self._file = TempFile(store.tmp_dir, "obj")
        header = codec.pack_header(kind, 0, encoding)
        self._size_offset = len(header) - 8
        self._file.write(header)
        from concurrent.futures import ThreadPoolExecutor  # (stdlib) not at start-up: few commands write

        self._writer = ThreadPoolExecutor(1, thread_name_prefix="pacha-write")
        self._compress = ThreadPoolExecutor(2, thread_name_prefix="pacha-zstd") if encoding else None
        self._pending: deque[Future[None]] = deque()
        self._level = store.level

    def _encode(self, block: Buffer) -> bytes:
        return ZSTD_CODER.encode(block, self._level)

    def _store(self, item: Buffer | Future[bytes]) -> None:
        self._file.write(item if isinstance(item, bytes | bytearray | memoryview) else item.result())

    def feed(self, block: Buffer) -> None:
        """Add the next block of the object's bytes; it must not change until written."""
        self.hasher.update(block)
        self.size += len(block)
        item: Buffer | Future[bytes] = self._compress.submit(self._encode, block) if self._compress else block
        self._pending.append(self._writer.submit(self._store, item))
        while len(self._pending) > DEPTH:
            self._pending.popleft().result()

    def finish(self) -> str:
        """Flush everything, fsync, and install the object; returns its id."""
        try:
            while self._pending:
                self._pending.popleft().result()
            os.pwrite(self._file.fd, self.size.to_bytes(8, "little"), self._size_offset)
            object_id = str(self.hasher.hexdigest())
            if not self.store.freshen(object_id, self.kind, self.size):  # missing, or damaged: replaced
                self._file.install(self.store.path(object_id))
            return object_id
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop the pipeline and remove the temp file (no-op after a successful finish)."""
        for future in self._pending:
            future.cancel()
        self._writer.shutdown(wait=True, cancel_futures=True)
        if self._compress:
            self._compress.shutdown(wait=True, cancel_futures=True)
        self._file.abort()


class ObjectWriter:
    """Write an object piece by piece; commit() returns its id.

    Small objects (up to CHUNK_THRESHOLD) are stored in one shot; larger blobs
    are chunked into a pack; larger objects of other kinds go through the loose
    pipeline, their encoding chosen from the first block.
    """

    def __init__(self, store: Store, kind: str, progress: Progress | None = None) -> None:
        self.store = store
        self.kind = codec.check_kind(kind)
        self.progress = progress
        self._buffer = bytearray()
        self._ingest: Ingest | None = None
        self._chunked: ChunkedIngest | None = None
        self._batch: ExitStack | None = None
        self.id: str | None = None
        # A large tree or record in an encrypted registry is sealed whole (its id, bound into
        # the envelope, is known only at the end; the loose pipeline would put plaintext in tmp/).
        self._whole = self.kind != "blob" and store.keys.encrypted

    def _start(self, sample: Buffer) -> None:
        encoding = choose_encoding(sample, self.store.loose.level)
        if self.kind == "blob":
            self._batch = ExitStack()
            batch = self._batch.enter_context(self.store.batch())
            self._chunked = ChunkedIngest(self.store, batch, encoding, progress=self.progress)
        else:
            self._ingest = Ingest(self.store.loose, self.kind, encoding)

    def _feed(self, block: bytes) -> None:
        if self._chunked is not None:
            self._chunked.feed(block)
        else:
            assert self._ingest is not None
            self._ingest.feed(block)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._buffer and isinstance(data, bytes) and len(data) == BLOCK and self._started:
            self._feed(data)  # the common case from read_blocks: no copy
            return
        self._buffer += data
        if len(self._buffer) <= CHUNK_THRESHOLD or self._whole:
            return  # may still be a small object, stored in one shot
        if not self._started:
            self._start(self._buffer[:BLOCK])
        while len(self._buffer) >= BLOCK:
            self._feed(bytes(self._buffer[:BLOCK]))
            del self._buffer[:BLOCK]

    @property
    def _started(self) -> bool:
        return self._ingest is not None or self._chunked is not None

    def commit(self) -> str:
        try:
            if not self._started:
                self.id = self.store.put_bytes(bytes(self._buffer), self.kind)
                self._buffer.clear()
                return self.id
            if self._buffer:
                self._feed(bytes(self._buffer))
            if self._chunked is not None:
                self.id = self._chunked.finish()
                assert self._batch is not None
                self._batch.close()  # installs the pack
            else:
                assert self._ingest is not None
                self.id = self._ingest.finish()
        except BaseException:
            self.abort()
            raise
        self._buffer.clear()
        return self.id

    def abort(self) -> None:
        """Drop the partial object; nothing becomes visible."""
        if self._ingest is not None:
            self._ingest.abort()
        if self._chunked is not None:
            self._chunked.close()
        if self._batch is not None:
            self._batch.__exit__(RuntimeError, RuntimeError("aborted"), None)
            self._batch = None
        self._buffer.clear()

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None or self.id is None:
            self.abort()


def ingest_stream(
    store: Store, stream: IO[bytes], kind: str = "blob", progress: Progress | None = None
) -> str:
    """Store everything read from stream; memory stays bounded by the pipeline."""
    with ObjectWriter(store, kind, progress) as writer:
        for block in read_blocks(stream):
            writer.write(block)
        return writer.commit()


def ingest_file(
    store: Store,
    fileobj: IO[bytes],
    kind: str = "blob",
    base: str | None = None,
    progress: Progress | None = None,
) -> str:
    """Store a regular file; large blobs are chunked into a pack, as they are read."""
    return ingest_file_sized(store, fileobj, kind, base, progress)[0]


def ingest_file_sized(
    store: Store,
    fileobj: IO[bytes],
    kind: str = "blob",
    base: str | None = None,
    progress: Progress | None = None,
    listed: Identity | None = None,
) -> tuple[str, int]:
    """Store a regular file; returns its id and the number of bytes stored.

    Whatever its size, the file must stay the same file from listed (its identity
    when listed, see pacha.store.snapshot; default: when opened) until its last
    byte is read, else FileChanged is raised and nothing it names is referenced.
    """
    fd = fileobj.fileno()
    path = getattr(fileobj, "name", "the file")
    before = check_listed(path, listed, identity(os.fstat(fd)))
    size = before[2]
    if size <= CHUNK_THRESHOLD:
        data = fileobj.read(size + 1)  # one byte more: a file that grew shows it
        _check_read(path, fd, before, len(data), lambda: hash_bytes(data))
        if kind != "blob" or base is None:
            object_id = store.put_bytes(data, kind)
        else:
            object_id = store.put_prepared(store.prepare(data), base)
        if progress is not None:
            progress(len(data))
        return object_id, len(data)
    if kind != "blob" and store.keys.encrypted:  # sealed whole (see ObjectWriter._whole)
        data = fileobj.read(size + 1)
        _check_read(path, fd, before, len(data), lambda: hash_bytes(data))
        return store.put_bytes(data, kind), len(data)
    if kind != "blob":
        object_id, stored = _ingest_loose(store, fileobj, kind)
        check_unchanged(path, fd, before, stored)
        return object_id, stored
    half = SAMPLE // 2  # from the start and the middle
    sample = os.pread(fd, half, 0) + os.pread(fd, half, size // 2)
    encoding = choose_encoding(sample, store.loose.level)
    with store.batch() as batch:
        chunked = ChunkedIngest(store, batch, encoding, base, progress)
        try:
            # Reading in place is an optimisation: where mmap is refused (an address-space
            # limit, a filesystem without it), the file is read into private buffers.
            mapped = _map(fileobj) if _settled(os.fstat(fd)) else None
            if mapped is not None:
                with mapped:
                    chunked.feed_mapped(mapped)
                    object_id = chunked.finish()
            else:
                for block in read_blocks(fileobj):  # being written right now: read private copies
                    chunked.feed(block)
                object_id = chunked.finish()
            # before the batch installs anything: a changed file leaves no trace
            _check_read(path, fd, before, chunked.size, lambda: object_id)
            return object_id, chunked.size
        finally:
            chunked.close()


def _check_read(path: str, fd: int, before: Identity, read: int, blob_id: Callable[[], str]) -> None:
    """check_unchanged after read bytes; a file whose times alone moved is let through if its
    bytes read again have blob_id() (pacha.store.snapshot.confirm_hash)."""
    try:
        check_unchanged(path, fd, before, read)
    except FileChanged as moved:
        confirm_hash(moved, path, blob_id())


def _map(fileobj: IO[bytes]) -> MappedFile | None:
    """The file mapped for reading in place, or None where mmap is refused."""
    return attempt("reading the file in place (mmap)", lambda: MappedFile(fileobj))


def _ingest_loose(store: Store, fileobj: IO[bytes], kind: str) -> tuple[str, int]:
    mapped = _map(fileobj)
    if mapped is None:  # read into private buffers instead
        size = 0
        with ObjectWriter(store, kind) as writer:
            for block in read_blocks(fileobj):
                writer.write(block)
                size += len(block)
            return writer.commit(), size
    with mapped:
        ingest = Ingest(store.loose, kind, choose_encoding(mapped.sample(SAMPLE // 2), store.loose.level))
        try:
            for _offset, view in mapped.blocks():
                ingest.feed(view)
                del view  # the mapping can only close once no view of it is left
            return ingest.finish(), ingest.size
        except BaseException:
            ingest.abort()
            raise


def put_small_delta(store: Store, prepared: PreparedObject, whole: tuple[bytes, bytes], base: str) -> str:
    """Store a small object, as a delta against base when that pays (delta_pays), else in
    its stored form whole (header, body), into a pack."""

    def base_usable() -> bool:
        info = store.stat(base)
        stored_whole = info.kind == prepared.kind and info.encoding != codec.CHUNKS
        return stored_whole and store.delta_depth(base) < MAX_DEPTH

    usable = attempt(f"delta base {base}", base_usable)  # None: no base after all, store it whole
    stored = whole
    # The delta is only an optimisation: whatever stops it (a tiny or unreadable base,
    # a zstd error), the object is stored whole.
    delta = try_delta(prepared.data, lambda: store.read(base), base, store.loose.level) if usable else None
    if delta is not None and delta_pays(len(delta), len(whole[1])):
        stored = (codec.pack_header(prepared.kind, len(prepared.data), codec.DELTA), delta)
    with store.batch() as batch:
        batch.add(prepared.id, *stored)
    return prepared.id
