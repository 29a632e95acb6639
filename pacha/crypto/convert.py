"""Bringing every stored body under the current master key, in place: `pacha encrypt` (plain
bodies sealed) and `pacha key rotate --data` (bodies sealed with a retiring key re-sealed).

Resumable and crash-safe by construction: each step replaces whole files atomically, so
at every moment each object is readable from some copy, plain or sealed, and a rerun
finds what is left by looking at the bodies themselves (no progress file to trust).

- a loose object: its new form is written to tmp/, fsynced and renamed over it;
- a pack holding any body to convert: rewritten whole into a new pack (bodies already
  right copied byte for byte), installed before the old one is removed, as repack does;
- then the multi-pack index is rewritten.

The caller holds gc.lock exclusively (Registry.collecting), so no writer adds a plain
object behind the scan. Bodies are carried over as they are stored (a damaged one stays
damaged, and is still reported by fsck as it was): sealing authenticates the stored
form, it does not repair it. Freed disk blocks may still hold the plaintext until
overwritten (docs/security.md).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pacha import codec, perms
from pacha.crash import crash_point
from pacha.crypto import envelope, stage
from pacha.store.pack import remove_pack
from pacha.store.pack_writer import PackWriter
from pacha.store.reader import ViewReader
from pacha.store.repack import rewrite_midx
from pacha.store.tmpfile import TempFile

if TYPE_CHECKING:
    from pacha.store import ObjectStore
    from pacha.store.pack import Pack

Progress = Callable[[str], None]
Buffer = bytes | bytearray | memoryview


@dataclass
class ConvertReport:
    loose: int = 0  # loose objects rewritten
    packs: int = 0  # packs rewritten
    entries: int = 0  # pack entries re-sealed
    already: int = 0  # bodies found under the current key


def _head(pack: Pack, i: int) -> bytes:
    """The first bytes of a pack entry: enough for its header and its envelope's key id."""
    offset, length = pack.entry_at(i)
    return pack.read_at(offset, min(length, 64))


def _stale(stored: bytes | memoryview, object_id: str, current: str) -> bool:
    """Whether a stored form is plain, or sealed with another key than current."""
    header = codec.parse_header(bytes(stored[: codec.MAX_HEADER_LEN]), object_id)
    if header.encoding != codec.ENCRYPTED:
        return True
    return envelope.key_of(memoryview(stored)[header.length :]) != current


def _resealed(store: ObjectStore, object_id: str, stored: bytes) -> tuple[Buffer, ...]:
    """The stored form sealed with the current key (an envelope opened first, authenticating it)."""
    header = codec.parse_header(stored[: codec.MAX_HEADER_LEN], object_id)
    if header.encoding == codec.ENCRYPTED:
        body = memoryview(stored)[header.length :]
        inner, reader = stage.open_stored(store.keys, object_id, header, ViewReader(body))
        with reader:
            plain = reader.read()
        parts: tuple[Buffer, ...] = (
            codec.pack_header(inner.kind, inner.size, inner.encoding),
            plain,
        )
    else:
        parts = (stored,)
    return store.seal_parts(object_id, parts)


def _convert_loose(
    store: ObjectStore, current: str, report: ConvertReport, progress: Progress | None
) -> None:
    for object_id in list(store.loose.iter_ids()):
        path = store.loose.path(object_id)
        try:
            stored = path.read_bytes()
        except FileNotFoundError:
            continue
        if not _stale(stored, object_id, current):
            report.already += 1
            continue
        temp = TempFile(store.tmp_dir, "obj")
        try:
            temp.writev(list(_resealed(store, object_id, stored)))
            temp.install(path)  # replaces the old file atomically
        finally:
            temp.abort()
        report.loose += 1
        crash_point("encrypt-loose-replaced")
        if progress is not None:
            progress(f"sealed loose object {object_id}")


def _convert_pack(store: ObjectStore, pack: Pack, current: str, report: ConvertReport) -> bool:
    """Rewrite pack if any of its bodies is stale; True if it was."""
    stale = [i for i in range(pack.count) if _stale(_head(pack, i), pack.id_at(i), current)]
    report.already += pack.count - len(stale)
    if not stale:
        return False
    writer = PackWriter(store.packs.dir, store.tmp_dir, store.seal_parts)
    stale_set = set(stale)
    try:
        for i in range(pack.count):
            object_id = pack.id_at(i)
            offset, length = pack.entry_at(i)
            stored = pack.read_at(offset, length)
            writer.add(object_id, *(_resealed(store, object_id, stored) if i in stale_set else (stored,)))
        index = writer.finish()
    except BaseException:
        writer.abort()
        raise
    crash_point("encrypt-pack-installed")  # both packs hold every object: readers find them
    if index is None or index.stem != pack.name:
        remove_pack(pack)
    report.packs += 1
    report.entries += len(stale)
    return True


def convert(store: ObjectStore, progress: Progress | None = None) -> ConvertReport:
    """Seal every body of the store with its current master key (see the module docstring)."""
    current = store.keys.unlocked().current
    report = ConvertReport()
    _convert_loose(store, current, report, progress)
    perms.mkdirs(store.packs.dir)  # a registry that never packed has none
    fd = perms.create(store.packs.dir / "repack.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # no repack rewrites packs meanwhile
        store.packs.refresh(force=True)
        for pack in list(store.packs.packs):
            if _convert_pack(store, pack, current, report) and progress is not None:
                progress(f"sealed {pack.name}")
        crash_point("encrypt-before-midx")
        store.forget_packs()
        rewrite_midx(store)
    finally:
        os.close(fd)
    return report


def remaining(store: ObjectStore, current: str) -> int:
    """How many stored bodies are plain or sealed with another key than current (for fsck)."""
    count = 0
    for object_id in store.loose.iter_ids():
        try:
            with open(store.loose.path(object_id), "rb") as f:
                count += _stale(f.read(256), object_id, current)
        except FileNotFoundError:
            continue
    store.packs.refresh(force=True)
    for pack in store.packs.packs:
        count += sum(_stale(_head(pack, i), pack.id_at(i), current) for i in range(pack.count))
    return count
