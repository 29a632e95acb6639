"""The sorted id table of an index: a fan-out over the first byte, then binary search.

A pack's index and the multi-pack index both list raw 32-byte ids in sorted order
after a fan-out table of 256 cumulative counts (entry b: how many ids have a first
byte <= b; docs/format.md). An id is found by bisecting the ids that share its
first byte. The ids are searched in place through the index's mapping, or copied
into a list of bytes (~70 bytes an id) so that bisect runs in C once enough
lookups make the copy pay.
"""

from __future__ import annotations

import bisect
import itertools
import struct

RAW_ID = 32
FANOUT = struct.Struct("<256I")


class IdColumn:
    """The sorted id column of an index (of a pack, or of many), as a sequence bisect can search."""

    def __init__(self, view: memoryview, count: int) -> None:
        self._view = view
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> bytes:
        return self._view[i * RAW_ID : (i + 1) * RAW_ID].tobytes()


def build_fanout(ordered: list[bytes]) -> bytes:
    """The fan-out table (FANOUT.size bytes) of raw ids in sorted order."""
    counts = [bisect.bisect_left(ordered, bytes([b + 1])) for b in range(255)] + [len(ordered)]
    return FANOUT.pack(*counts)


def fanout_decreases(fanout: tuple[int, ...]) -> bool:
    """True if a fan-out table read from a file is damaged (its counts must never decrease)."""
    return any(a > b for a, b in itertools.pairwise(fanout))


class IdTable:
    """The ids of one index: position(raw id) by fan-out and binary search.

    column: the raw ids back to back, in the index's mapping. The ids are copied into
    a list once list_after lookups were made, unless there are more than list_max.
    """

    def __init__(self, fanout: tuple[int, ...], column: memoryview, list_after: int, list_max: int) -> None:
        self.fanout = fanout
        self.count = fanout[255]
        self._column = column
        self._ids = IdColumn(column, self.count)
        self._list: list[bytes] | None = None
        self._list_after = list_after
        self._list_max = list_max
        self._lookups = 0

    def __getitem__(self, i: int) -> bytes:
        return self._ids[i]

    @property
    def searched(self) -> list[bytes] | IdColumn:
        """The ids as lookups search them now: in place, or copied into a list."""
        return self._ids if self._list is None else self._list

    def _searchable(self) -> list[bytes] | IdColumn:
        if self._list is not None:
            return self._list
        self._lookups += 1
        if self._lookups >= self._list_after and self.count <= self._list_max:
            column = bytes(self._column)
            self._list = [column[k : k + RAW_ID] for k in range(0, len(column), RAW_ID)]
            return self._list
        return self._ids

    def position(self, raw_id: bytes) -> int:
        """Index of raw_id in the sorted ids, or -1."""
        first = raw_id[0]
        lo = self.fanout[first - 1] if first else 0
        hi = self.fanout[first]
        ids = self._searchable()
        i = bisect.bisect_left(ids, raw_id, lo, hi)
        return i if i < hi and ids[i] == raw_id else -1

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Ids that start with prefix (lowercase hex, at least 2 characters)."""
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

    def close(self) -> None:
        """Let go of the index's mapping (the table is empty afterwards)."""
        self._ids = IdColumn(memoryview(b""), 0)
        self._list = None
        self._column.release()
        self.count = 0
