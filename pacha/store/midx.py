"""The multi-pack index: which pack holds an id, for many packs at once.

Looking up an id that is not stored (every new chunk of a large file) tries
every pack: with a hundred packs of models, that is a hundred binary searches
per chunk, ~1.6 s a gigabyte. The multi-pack index lists the ids of many packs
in one sorted table, so such a lookup is one binary search plus one per pack
added since it was written. It is derived data, rewritten by repack and gc, and
automatically once MIDX_AFTER packs are not in it; a reader that finds it
damaged, or naming a pack that is gone, does without it. As Git does, a reader
takes its word for an id that the packs it names do not hold (fsck checks it
lists every id of those packs). The layout is docs/format.md, "Multi-pack index"
(pack ids, fan-out, sorted ids, a pack number for each, a checksum); an id held
by several packs is listed once.
"""

from __future__ import annotations

import bisect
import contextlib
import mmap
import os
import struct
from itertools import repeat
from pathlib import Path

from pacha.crash import crash_point
from pacha.errors import CorruptObject
from pacha.hashing import digest
from pacha.store.idtable import FANOUT, RAW_ID, IdColumn, IdTable, build_fanout, fanout_decreases
from pacha.store.pack import Pack
from pacha.store.pack_format import check_prologue
from pacha.store.tmpfile import TempFile

MIDX_NAME = "multi-pack-index"
MIDX_MAGIC = b"PCHM"
MIDX_VERSION = 1
MIDX_HEADER = MIDX_MAGIC + bytes((MIDX_VERSION, 0, 0, 0))
MIDX_AFTER = 8  # packs outside the index before it is rewritten (and packs needed to have one)
# After this many lookups the ids are copied into a list, so that bisect runs in C (a
# command that looks up one object does not pay for the copy), unless there are more
# than EAGER_MAX of them (~70 bytes an id in memory): those are searched in place.
EAGER_AFTER = 64
EAGER_MAX = 1_000_000
CHECKSUM = 32
_U32 = struct.Struct("<I")


class MultiPackIndex:
    """A multi-pack index read through mmap: pack_of(raw id) by binary search."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            self.stamp = info.st_mtime_ns, info.st_ino
            if info.st_size < len(MIDX_HEADER) + 4 + FANOUT.size + CHECKSUM:  # mmap refuses an empty file
                raise CorruptObject(f"multi-pack index {path} is corrupt: truncated")
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(self._map)
        try:
            check_prologue(view, MIDX_MAGIC, MIDX_VERSION, f"multi-pack index {path}")
            packs = _U32.unpack_from(view, len(MIDX_HEADER))[0]
            start = len(MIDX_HEADER) + 4
            if start + packs * RAW_ID + FANOUT.size + CHECKSUM > len(view):
                raise CorruptObject(f"multi-pack index {path} is corrupt: its pack count exceeds its size")
            names = bytes(view[start : start + packs * RAW_ID])
            self.pack_names = [f"pack-{names[k * RAW_ID : (k + 1) * RAW_ID].hex()}" for k in range(packs)]
            start += packs * RAW_ID
            self.fanout = FANOUT.unpack_from(view, start)
            start += FANOUT.size
            self.count = self.fanout[255]
            if fanout_decreases(self.fanout):
                raise CorruptObject(f"multi-pack index {path} is corrupt: its fan-out table decreases")
            if len(view) != start + self.count * (RAW_ID + 4) + CHECKSUM:
                raise CorruptObject(f"multi-pack index {path} is corrupt: its size does not match its count")
            if digest(view[:-CHECKSUM]) != view[-CHECKSUM:]:
                raise CorruptObject(f"multi-pack index {path} is corrupt: its checksum does not match")
            self._ids_at = start
            column = view[start : start + self.count * RAW_ID]
            self._table = IdTable(self.fanout, column, EAGER_AFTER, EAGER_MAX)
            self._packs = view[start + self.count * RAW_ID : -CHECKSUM].cast("I")
        except BaseException:
            view.release()
            self._map.close()
            raise
        self._view = view

    @property
    def _ids(self) -> list[bytes] | IdColumn:
        """The ids as lookups search them now (a list once EAGER_AFTER lookups were made)."""
        return self._table.searched

    def pack_of(self, raw_id: bytes) -> int:
        """The number of the pack holding raw_id (an index into pack_names, unless the file
        is wrong in a way only verify_midx sees), or -1."""
        i = self._table.position(raw_id)
        return self._packs[i] if i >= 0 else -1

    def columns(self) -> tuple[memoryview, memoryview]:
        """(the sorted raw ids, RAW_ID bytes each; the pack numbers, u32 LE each), as mapped."""
        return self._view[self._ids_at : self._ids_at + self.count * RAW_ID], self._packs.cast("B")

    def entries(self) -> list[tuple[bytes, int]]:
        """Every (raw id, pack number), in id order (for verification)."""
        return [(self._table[k], self._packs[k]) for k in range(self.count)]

    def close(self) -> None:
        self._table.close()
        self._packs.release()
        self._view.release()
        with contextlib.suppress(BufferError):
            self._map.close()


def build_midx(packs: list[Pack]) -> bytes:
    """The bytes of a multi-pack index over packs; an id held by several packs is given
    the first of them (so that extend_midx, which keeps every number it finds, writes the
    same bytes as a build over the same packs)."""
    holder: dict[bytes, int] = {}  # id -> number of the first pack holding it
    for number in range(len(packs) - 1, -1, -1):  # later packs first: earlier ones overwrite
        ids = bytes(packs[number].id_column())
        holder.update(zip([ids[k : k + RAW_ID] for k in range(0, len(ids), RAW_ID)], repeat(number)))
    ordered = sorted(holder)  # runs of sorted ids, pack after pack: a merge
    body = b"".join(
        (
            MIDX_HEADER,
            _U32.pack(len(packs)),
            b"".join(pack.pack_id for pack in packs),
            build_fanout(ordered),
            b"".join(ordered),
            struct.pack(f"<{len(ordered)}I", *map(holder.__getitem__, ordered)),
        )
    )
    return body + digest(body)


def extend_midx(midx: MultiPackIndex, packs: list[Pack]) -> bytes:
    """The bytes of a multi-pack index over midx's packs then packs (none of them in midx):
    what build_midx(midx's packs + packs) gives, when midx was built that way too.

    Work: a lookup in midx for each id of the new packs (k of them, k log N), then the old
    columns copied in slices around the new ids (N entries, memcpy), the fan-out added to
    and one checksum: no pack midx covers is read, nothing is sorted but the new ids.
    (Git's answer, layers of incremental indexes, would change the format; this keeps it.)"""
    first = len(midx.pack_names)
    holder: dict[bytes, int] = {}
    for number in range(len(packs) - 1, -1, -1):
        ids = bytes(packs[number].id_column())
        holder.update(zip([ids[k : k + RAW_ID] for k in range(0, len(ids), RAW_ID)], repeat(first + number)))
    old_ids, old_packs = midx.columns()
    column = IdColumn(old_ids, midx.count)  # searched in place: nothing copied
    added, places = [], []
    for raw in sorted(holder):
        lo = midx.fanout[raw[0] - 1] if raw[0] else 0
        at = bisect.bisect_left(column, raw, lo, midx.fanout[raw[0]])
        if at == midx.count or column[at] != raw:
            added.append(raw)
            places.append(at)
    id_parts: list[bytes | memoryview] = []
    pack_parts: list[bytes | memoryview] = []
    start = 0
    for raw, at in zip(added, places, strict=True):
        id_parts += (old_ids[start * RAW_ID : at * RAW_ID], raw)
        pack_parts += (old_packs[start * 4 : at * 4], _U32.pack(holder[raw]))
        start = at
    id_parts.append(old_ids[start * RAW_ID :])
    pack_parts.append(old_packs[start * 4 :])
    counts = [0] * 256
    for raw in added:
        counts[raw[0]] += 1
    fanout, running = list(midx.fanout), 0
    for byte in range(256):
        running += counts[byte]
        fanout[byte] += running
    names = b"".join(bytes.fromhex(name.removeprefix("pack-")) for name in midx.pack_names)
    body = b"".join(
        (
            MIDX_HEADER,
            _U32.pack(first + len(packs)),
            names,
            b"".join(pack.pack_id for pack in packs),
            FANOUT.pack(*fanout),
            *id_parts,
            *pack_parts,
        )
    )
    return body + digest(body)


def write_midx(
    pack_dir: Path, tmp_dir: Path, packs: list[Pack], extend: MultiPackIndex | None = None
) -> Path | None:
    """Replace the multi-pack index with one over packs (removed if fewer than MIDX_AFTER).

    extend: the index in place now, if every pack it names is among packs (first, in its
    order): only the others are read (extend_midx) instead of every pack (build_midx)."""
    path = pack_dir / MIDX_NAME
    if len(packs) < MIDX_AFTER:
        remove_midx(pack_dir)
        return None
    if extend is not None:
        covered = set(extend.pack_names)
        data = extend_midx(extend, [p for p in packs if p.name not in covered])
    else:
        data = build_midx(packs)
    tmp = TempFile(tmp_dir, "midx")
    try:
        tmp.write(data)
        crash_point("midx-written")  # a temp file left in tmp/ (removed as leftovers are)
        tmp.install(path)  # the rename replaces the old index in one step
    finally:
        tmp.abort()
    return path


def remove_midx(pack_dir: Path) -> None:
    """Remove the multi-pack index of pack_dir, if there is one."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pack_dir / MIDX_NAME)


def verify_midx(midx: MultiPackIndex, packs: dict[str, Pack]) -> list[str]:
    """Problems with a multi-pack index against the packs it names (found by name)."""
    problems = []
    missing = [name for name in midx.pack_names if name not in packs]
    if missing:
        return [
            f"multi-pack index {midx.path} names missing pack {missing[0]}; run pacha multi-pack-index write"
        ]
    previous = b""
    for raw, number in midx.entries():
        if raw <= previous:
            return [f"multi-pack index {midx.path} is corrupt: ids out of order at {raw.hex()}"]
        previous = raw
        if number >= len(midx.pack_names) or packs[midx.pack_names[number]].position(raw) < 0:
            problems.append(f"multi-pack index {midx.path}: {raw.hex()} is not in the pack it names")
            break
    for name in midx.pack_names:  # and every id of every pack it covers is in it
        pack = packs[name]
        column = IdColumn(pack.id_column(), pack.count)
        for k in range(pack.count):
            if midx.pack_of(column[k]) < 0:
                problems.append(f"multi-pack index {midx.path} lacks {column[k].hex()} of {name}")
                return problems
    return problems


def check_midx(pack_dir: Path, packs: list[Pack]) -> tuple[MultiPackIndex | None, list[str]]:
    """Load and verify the multi-pack index of pack_dir (None, [] if there is none)."""
    path = pack_dir / MIDX_NAME
    try:
        midx = MultiPackIndex(path)
    except FileNotFoundError:
        return None, []
    except CorruptObject as exc:
        return None, [f"{exc}; run pacha multi-pack-index write"]
    try:
        return midx, verify_midx(midx, {p.name: p for p in packs})
    finally:
        midx.close()
