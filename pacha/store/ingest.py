"""Streaming ingest: read, hash, compress and write overlap on every core.

One object flows through four stages that run at the same time:

    read-ahead thread ──► caller: BLAKE3 ──► zstd pool (2) ──► writer thread
                                                           (fdatasync as it goes)

BLAKE3, zstd and file I/O all release the GIL, so threads are enough. At most
DEPTH blocks are in flight, so memory stays bounded whatever the object's size.
Compression is chosen per object from a sample: bytes that zstd cannot shrink by
MIN_SAVING (random data, most model weights) are stored as they are.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING

from pacha import codec
from pacha.blocks import BLOCK, DEPTH, MappedFile, read_blocks
from pacha.ids import new_hasher

if TYPE_CHECKING:
    from pacha.store.loose import LooseStore

Buffer = bytes | memoryview

MIN_SAVING = 0.03  # compress only if the sample shrinks by at least 3 %
WRITEBACK_EVERY = 64 << 20  # start writeback early so the final fsync is short


def choose_encoding(sample: Buffer, level: int) -> int:
    """zstd if it saves at least MIN_SAVING on sample, else identity."""
    if not sample:
        return codec.IDENTITY
    sample = sample[:BLOCK]
    compressed = codec.ENCODINGS[codec.ZSTD].encode(sample, level)
    return codec.ZSTD if len(compressed) <= len(sample) * (1 - MIN_SAVING) else codec.IDENTITY


class Ingest:
    """Writes one object to a temp file through the pipeline; install() makes it visible."""

    def __init__(self, store: LooseStore, kind: str, encoding: int) -> None:
        self.store = store
        self.kind = codec.check_kind(kind)
        self.encoding = encoding
        self.hasher = new_hasher()
        self.size = 0
        store.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_path = store.tmp_dir / f"obj-{os.getpid()}-{os.urandom(8).hex()}"
        self._fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        header = codec.pack_header(kind, 0, encoding)
        self._size_offset = len(header) - 8
        self._write_all(header)
        self._unsynced = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="pacha-write")
        self._compress = ThreadPoolExecutor(2, thread_name_prefix="pacha-zstd") if encoding else None
        self._pending: deque[Future[None]] = deque()
        self._codec = codec.ENCODINGS[encoding]
        self._level = store.level

    def _write_all(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _encode(self, block: Buffer) -> bytes:
        return self._codec.encode(block, self._level)

    def _store(self, item: Buffer | Future[bytes], done: Callable[[], None] | None) -> None:
        data = item.result() if isinstance(item, Future) else item
        self._write_all(data)
        if done is not None:
            done()
        self._unsynced += len(data)
        if self._unsynced >= WRITEBACK_EVERY:
            # Start writeback of what is written so far (and drop it from the page
            # cache): the final fsync then has little left to wait for.
            end = os.lseek(self._fd, 0, os.SEEK_CUR)
            os.posix_fadvise(self._fd, end - self._unsynced, self._unsynced, os.POSIX_FADV_DONTNEED)
            self._unsynced = 0

    def feed(self, block: Buffer, done: Callable[[], None] | None = None) -> None:
        """Add the next block of the object's bytes; done() runs once the block is written.

        The block must not change until then.
        """
        self.hasher.update(block)
        self.size += len(block)
        item: Buffer | Future[bytes] = self._compress.submit(self._encode, block) if self._compress else block
        self._pending.append(self._writer.submit(self._store, item, done))
        while len(self._pending) > DEPTH:
            self._pending.popleft().result()

    def finish(self) -> str:
        """Flush everything, fsync, and install the object; returns its id."""
        try:
            while self._pending:
                self._pending.popleft().result()
            os.pwrite(self._fd, self.size.to_bytes(8, "little"), self._size_offset)
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            object_id = self.hasher.hexdigest()
            self.store.install(self.tmp_path, object_id)
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
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.tmp_path.unlink(missing_ok=True)


class ObjectWriter:
    """Write an object piece by piece; commit() returns its id.

    Small objects (under one block) are compressed in one shot; larger ones go
    through the pipeline, their encoding chosen from the first block.
    """

    def __init__(self, store: LooseStore, kind: str) -> None:
        self.store = store
        self.kind = codec.check_kind(kind)
        self._buffer = bytearray()
        self._ingest: Ingest | None = None
        self.id: str | None = None

    def _feed(self, block: bytes) -> None:
        if self._ingest is None:
            self._ingest = Ingest(self.store, self.kind, choose_encoding(block, self.store.level))
        self._ingest.feed(block)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._buffer and isinstance(data, bytes) and len(data) == BLOCK:
            self._feed(data)  # the common case from read_blocks: no copy
            return
        self._buffer += data
        while len(self._buffer) >= BLOCK:
            self._feed(bytes(self._buffer[:BLOCK]))
            del self._buffer[:BLOCK]

    def commit(self) -> str:
        try:
            if self._ingest is None:
                self.id = self.store.put_bytes(self.kind, bytes(self._buffer))
            else:
                if self._buffer:
                    self._ingest.feed(bytes(self._buffer))
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
        self._buffer.clear()

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None or self.id is None:
            self.abort()


def ingest_stream(store: LooseStore, stream: IO[bytes], kind: str = "blob") -> str:
    """Store everything read from stream; memory stays bounded by the pipeline."""
    with ObjectWriter(store, kind) as writer:
        for block in read_blocks(stream):
            writer.write(block)
        return writer.commit()


def ingest_file(store: LooseStore, fileobj: IO[bytes], kind: str = "blob") -> str:
    """Store a regular file: mapped, not copied, through the pipeline."""
    size = os.fstat(fileobj.fileno()).st_size
    if size <= BLOCK:
        return store.put_bytes(kind, fileobj.read())
    with MappedFile(fileobj) as mapped:
        ingest = Ingest(store, kind, choose_encoding(mapped.sample(), store.level))
        try:
            for offset, view in mapped.blocks():
                ingest.feed(view, lambda o=offset, n=len(view): mapped.release(o, n))
                del view  # the mapping can only close once no view of it is left
            return ingest.finish()
        except BaseException:
            ingest.abort()
            raise
