"""Writing a pack: stored objects appended to a temp file, then the pack and its index
installed together (format: pacha.store.pack_format, docs/format.md)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from pacha.crash import crash_point
from pacha.hashing import digest
from pacha.store.pack_format import PACK_HEADER, Entry, build_index, index_table
from pacha.store.tmpfile import TempFile

FLUSH_EVERY = 1 << 20  # a pack writer gathers small entries up to this many bytes per write
BEHIND = 4  # writes handed to the background thread and not done yet, at most (~4 MiB)

# The encryption stage (ObjectStore.seal_parts): a stored form, in parts, as it goes to disk
Seal = Callable[[str, tuple[bytes | bytearray | memoryview, ...]], tuple[bytes | bytearray | memoryview, ...]]


class PackWriter:
    """Appends stored objects to a temp pack; finish() writes its index and installs both.

    Used by one thread at a time. Until finish(), nothing is visible to others;
    abort() (or a crash) leaves only a temp file that gc clears.
    """

    def __init__(self, pack_dir: Path, tmp_dir: Path, seal: Seal | None = None) -> None:
        self.pack_dir = pack_dir
        self.tmp_dir = tmp_dir
        self.seal = seal  # applied to every entry: an encrypted registry writes no plain body
        self._file = TempFile(tmp_dir, "pack")
        self.entries: dict[str, Entry] = {}
        self._file.write(PACK_HEADER)
        self._end = self._file.written  # where the next entry goes (buffered bytes included)
        self._buffered: list[bytes | bytearray | memoryview] = []
        self._buffered_bytes = 0
        # A fetch writes on a thread of its own (set by pacha.transport.receive): copying a GiB
        # into the page cache costs ~2 s of system time on a small VM, which the thread that
        # hands out the arriving objects should not wait for. One thread: writes stay in order.
        self.background: ThreadPoolExecutor | None = None
        self._behind: list[Future[None]] = []

    def __contains__(self, object_id: str) -> bool:
        return object_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, object_id: str, *parts: bytes | bytearray | memoryview) -> None:
        """Append one stored object (its header and body, possibly in parts); repeats are skipped."""
        self._append(object_id, parts)
        self._flush_if_full()

    def add_many(self, items: list[tuple[str, tuple[bytes | bytearray | memoryview, ...]]]) -> None:
        """Append several stored objects (repeats are skipped)."""
        for object_id, parts in items:
            self._append(object_id, parts)
        self._flush_if_full()

    def _append(self, object_id: str, parts: tuple[bytes | bytearray | memoryview, ...]) -> None:
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
        """Write what is buffered (before the buffers' memory may change or go away); with a
        background thread, hand it over (the buffers must then stay as they are)."""
        if not self._buffered:
            return
        buffers, self._buffered, self._buffered_bytes = self._buffered, [], 0
        if self.background is None:
            self._file.writev(buffers)
            return
        self._behind.append(self.background.submit(self._file.writev, buffers))
        while len(self._behind) > BEHIND:  # memory stays bounded
            self._behind.pop(0).result()

    def settle(self) -> None:
        """Write what is buffered and wait until every write handed over is done (raises the
        first one's error): afterwards the file holds every entry added."""
        self.flush()
        self._written()

    def _written(self) -> None:
        """Wait until everything handed to the background thread is written (raises its error)."""
        behind, self._behind = self._behind, []
        for future in behind:
            future.result()

    def read_entry(self, object_id: str) -> bytes:
        """The stored bytes of an object added but not yet installed."""
        self.settle()
        entry = self.entries[object_id]
        return self._file.pread(entry.length, entry.offset)

    def finish(self) -> Path | None:
        """Install the pack and its index; returns the index path (None if the pack is empty)."""
        if not self.entries:
            self.abort()
            return None
        self.settle()
        table = index_table(self.entries)
        pack_id = digest(table[1])
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
        for future in self._behind:  # let the writes end before the file goes
            future.exception()
        self._behind = []
        self._file.abort()
