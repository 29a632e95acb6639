"""Verifying a chunked file while its chunks arrive, instead of reading it all back at the end.

A chunk list's id is the BLAKE3 of the whole file (docs/format.md, chunk lists), so checking
it means hashing every chunk's bytes in order. A fetch receives the chunk list first (it names
the chunks) and the chunks after it, in list order (runs are requested in walk order and taken
in that order): each chunk, already verified against its own id where it arrived, is fed to
the file's hasher as it is added; a chunk that was here already (shared with another version)
or arrived out of order is read back from the store. When the last chunk is in, the digest
must be the list's id and the bytes its size, else the list is corrupt. A list whose hashing
could not follow (its size is not what the chunks add up to) is verified the usual way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pacha.hashing import new_hasher


class ListHash:
    """The running hash of one chunked file (object_id, size bytes) over its chunks in order.

    The hashing itself runs on one thread of its own (BLAKE3 releases the GIL), in order, at
    most BACKLOG chunks behind, so the thread that receives goes on meanwhile."""

    BACKLOG = 8  # batches handed to the hashing thread and not hashed yet
    BATCH = 4 << 20  # bytes of chunks handed over at once (one task, not one per 64 KiB chunk)

    def __init__(self, object_id: str, size: int, chunks: list[tuple[str, int]]) -> None:
        self.object_id = object_id
        self.size = size
        self.chunks = chunks  # (chunk id, bytes), in file order
        self.pos = 0  # chunks fed so far
        self.seen = 0  # bytes fed so far
        self.broken = False  # a chunk's bytes differ from the size the list gives
        self._hasher: Any = new_hasher(size)
        self._pool: ThreadPoolExecutor | None = None
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._behind: deque[Future[None]] = deque()

    @property
    def next_id(self) -> str | None:
        return self.chunks[self.pos][0] if self.pos < len(self.chunks) and not self.broken else None

    def feed(self, content: bytes | memoryview) -> None:
        """The bytes of the next chunk (already verified against its id); kept until hashed."""
        if len(content) != self.chunks[self.pos][1]:
            self.broken = True
            return
        self._batch.append(content)
        self._batch_bytes += len(content)
        self.seen += len(content)
        self.pos += 1
        if self._batch_bytes >= self.BATCH or self.pos == len(self.chunks):
            self._hand_over()

    def _hand_over(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="pacha-listhash")
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        self._behind.append(self._pool.submit(_update_all, self._hasher, batch))
        if len(self._behind) > self.BACKLOG:
            self._behind.popleft().result()

    def advance(self, have: Callable[[str], bool], read: Callable[[str], bytes]) -> None:
        """Feed the chunks that are here already (read back from the store), in order."""
        while (chunk := self.next_id) is not None and have(chunk):
            self.feed(read(chunk))

    def verified(self) -> bool:
        """Every chunk hashed, and the whole is the file the list names."""
        self.close()
        return (
            not self.broken
            and self.pos == len(self.chunks)
            and self.seen == self.size
            and self._hasher.hexdigest() == self.object_id
        )

    def close(self) -> None:
        """Wait for the hashing thread and stop it (a fetch that fails calls it too)."""
        if self._batch:
            self._hand_over()
        while self._behind:
            self._behind.popleft().result()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _update_all(hasher: Any, pieces: list[bytes | memoryview]) -> None:
    for piece in pieces:
        hasher.update(piece)
