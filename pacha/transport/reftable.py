"""The remote ref table and its reflog: read, and move by compare-and-swap (docs/remotes.md).

A push that moves refs:
1. uploads one reflog segment (its changes, who, time, message, seq = table seq + 1,
   prev = the table's log head) with If-None-Match: * under a key no other push can take;
2. replaces the table (refs, seq, log head = that segment) with If-Match: <the ETag read>
   (If-None-Match: * when there was no table). 412: someone else moved the refs first;
   the caller re-reads, re-checks and tries again or refuses. The segment of a lost race is
   never named by the table: a leftover no reader follows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from pacha.transport import cas
from pacha.transport.backend import Backend, KeyMissing, PreconditionFailed
from pacha.transport.errors import RemoteFormatError
from pacha.transport.layout import (
    REFS_KEY,
    LogSegment,
    RemoteLogEntry,
    RemoteRefTable,
    decode_segment,
    decode_table,
)

TICK_NS = 1000  # a push's time is at least the previous push's plus 1 µs (times never go backwards)


def read_table(backend: Backend) -> RemoteRefTable:
    """The current table (an empty one with etag None if none was ever written)."""
    try:
        data, etag = backend.get(REFS_KEY)
    except KeyMissing:
        return RemoteRefTable()
    return decode_table(data, etag)


def next_time(table: RemoteRefTable) -> int:
    """The new segment's time: this machine's clock, but after the previous push's (a hybrid
    logical clock across pushers, as the local reflog's; Kulkarni et al. 2014)."""
    return max(time.time_ns(), table.when_ns + TICK_NS)


def write(
    backend: Backend, table: RemoteRefTable, refs: dict[str, str], segment: LogSegment
) -> RemoteRefTable:
    """Upload segment, then CAS the table from `table` to refs (raises PreconditionFailed on a lost race)."""
    data = segment.encode()
    key = segment.key()
    # refused only if this very segment is there (its key is its digest): an earlier attempt's
    with contextlib.suppress(PreconditionFailed):
        cas.create(backend, key, data)
    new = RemoteRefTable(dict(sorted(refs.items())), segment.seq, key, segment.who, segment.when_ns)
    body = new.encode()
    if table.etag is None:
        new.etag = cas.create(backend, REFS_KEY, body)
    else:
        new.etag = cas.replace(backend, REFS_KEY, body, table.etag)
    return new


def read_segments(
    backend: Backend, head: str | None, stop: Callable[[LogSegment], bool] | None = None
) -> list[tuple[LogSegment, bytes]]:
    """Segments from head back along prev, until the first or one where stop(segment) holds
    (that one excluded); returned oldest first with their bytes."""
    out: list[tuple[LogSegment, bytes]] = []
    key = head
    seen: set[str] = set()
    while key is not None:
        if key in seen:
            raise RemoteFormatError(f"the remote's reflog loops at {key}")
        seen.add(key)
        try:
            data, _etag = backend.get(key)
        except KeyMissing:
            raise RemoteFormatError(f"the remote's reflog segment {key} is missing") from None
        segment = decode_segment(data, key)
        if stop is not None and stop(segment):
            break
        out.append((segment, data))
        key = segment.prev
    out.reverse()
    return out


def last_change(backend: Backend, table: RemoteRefTable, name: str) -> LogSegment | None:
    """The newest segment that changed ref name (who moved it, when), walking back from the head."""
    key = table.log_head
    seen: set[str] = set()
    while key is not None and key not in seen:
        seen.add(key)
        try:
            data, _etag = backend.get(key)
        except KeyMissing:
            return None
        segment = decode_segment(data, key)
        if any(change[0] == name for change in segment.changes):
            return segment
        key = segment.prev
    return None


def last_entry(backend: Backend, table: RemoteRefTable, name: str) -> RemoteLogEntry | None:
    """The newest change of ref name on the remote (who made it, when, why), None if none is recorded."""
    segment = last_change(backend, table, name)
    if segment is None:
        return None
    return [entry for entry in segment.entries() if entry.name == name][-1]
