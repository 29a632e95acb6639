"""Reused buffers for the sealed chunks of a large blob (pacha.store.chunk_writer).

Sealing a chunk writes its envelope into new memory. A fresh bytearray per chunk
(~80 KiB, 13,000 per GiB) costs more than the AES-GCM it holds: Python zeroes it,
the allocator hands freed arenas back to the kernel between groups, so the pages
fault in and are cleared again, and the pool threads that seal contend with the
cutter for both cores (measured: 0.45 s of CPU per GiB on the pool, more than AES
itself; docs/security.md, "What it costs"). So each group of chunks is sealed front to back
into one slab, a buffer taken from a small free list and given back once the group
is written: after the first few groups no new memory is touched.
"""

from __future__ import annotations

import threading

ROUND = 1 << 20  # slab sizes are whole MiB: groups differ by a few KiB, and a slab fits the next


class Slab:
    """One buffer that a group's envelopes are written into, one after the other."""

    def __init__(self, capacity: int) -> None:
        self.buffer = bytearray(capacity)
        self._view = memoryview(self.buffer)
        self.used = 0

    def take(self, n: int) -> memoryview:
        """The next n bytes of the slab (a new buffer if it is full: never for a group whose
        size was bounded right, and never wrong either way)."""
        end = self.used + n
        if end > len(self.buffer):
            return memoryview(bytearray(n))
        view = self._view[self.used : end]
        self.used = end
        return view


class SlabPool:
    """A free list of slabs, shared by the threads that seal and the one that writes.

    At most `keep` slabs wait in the list (the groups in flight bound how many are out),
    so memory stays what the groups in flight hold, as it was with a buffer per chunk.
    """

    def __init__(self, keep: int) -> None:
        self._free: list[Slab] = []
        self._keep = keep
        self._lock = threading.Lock()

    def get(self, capacity: int) -> Slab:
        """An empty slab of at least capacity bytes (a freed one if one is large enough)."""
        with self._lock:
            for i in range(len(self._free) - 1, -1, -1):  # the last given back: likely still in cache
                slab = self._free[i]
                if len(slab.buffer) >= capacity:
                    del self._free[i]
                    slab.used = 0
                    return slab
        return Slab(-(-capacity // ROUND) * ROUND)  # rounded up, so that the next group fits

    def put(self, slab: Slab) -> None:
        """Give a slab back once nothing refers to the bytes written into it any more."""
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(slab)
