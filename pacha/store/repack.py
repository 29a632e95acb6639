"""Moving objects between loose files and packs, as they are stored (no re-encoding).

An entry is copied byte for byte (header and encoded body), so a delta stays a
delta and a chunk list stays a chunk list; every copy is verified first. New
packs are installed before anything they replace is removed, so a reader finds
every object at every moment (one that cached a removed pack re-lists on a miss).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pacha import codec, perms
from pacha.crash import crash_point
from pacha.errors import CorruptObject, InvalidInput, ObjectNotFound
from pacha.store.chunked import decode_chunk_list
from pacha.store.copies import good_copy, stored_form
from pacha.store.delta import base_of
from pacha.store.encodings import body_source
from pacha.store.midx import MIDX_AFTER, write_midx
from pacha.store.objectstore import ObjectStore
from pacha.store.pack import Pack, remove_pack
from pacha.store.pack_writer import PackWriter
from pacha.store.reader import ObjectReader, ViewReader
from pacha.store.tmpfile import TempFile


@dataclass
class RepackReport:
    packed: int = 0
    loose_removed: int = 0
    packs_removed: int = 0
    pack: Path | None = None


def stored_bytes(store: ObjectStore, object_id: str) -> bytes:
    """An object's stored form (header + encoded body), checked first: it decodes to its id,
    or, for a chunk list, every chunk it names is there (chunks are checked as objects).
    If the copy readers use is damaged, another copy that is good is taken."""
    try:
        return _checked_stored_bytes(store, object_id)
    except CorruptObject:
        copy = good_copy(store, object_id)
        if copy is None:
            raise
        return stored_form(store, object_id, copy)


def _checked_stored_bytes(store: ObjectStore, object_id: str) -> bytes:
    header, raw = store.open_stored(object_id)
    with raw:
        body = raw.read()
    if header.encoding == codec.CHUNKS:
        for linked in store.storage_links(object_id):
            if not store.has(linked):
                raise ObjectNotFound(f"object {object_id} needs chunk {linked}, which is missing")
    else:
        with store.open(object_id) as reader:
            reader.verify()
    return codec.pack_header(header.kind, header.size, header.encoding) + body


def pack_objects(
    store: ObjectStore, ids: Iterable[str], on_object: Callable[[str], None] | None = None
) -> Path | None:
    """Write the given objects into one new pack; returns its index path (None if no ids)."""
    writer = PackWriter(store.packs.dir, store.tmp_dir, store.seal_parts)
    try:
        for object_id in ids:
            if object_id in writer:
                continue
            writer.add(object_id, stored_bytes(store, object_id))
            if on_object is not None:
                on_object(object_id)
        index = writer.finish()
    except BaseException:
        writer.abort()
        raise
    store.packs.refresh(force=True)
    return index


# Automatic repacking (after a registration, as `git gc --auto`): past AUTO_PACK_LIMIT
# packs, the small ones are merged geometrically, at most MERGE_LIMIT bytes at a time
# (a registration never waits long); packs of BIG_PACK bytes or more stay as they are.
AUTO_PACK_LIMIT = 50
BIG_PACK = 64 << 20
MERGE_LIMIT = 512 << 20
FACTOR = 2


def geometric_merge(sizes: list[int], factor: int = FACTOR) -> int:
    """How many of the smallest packs (sizes in ascending order) to merge so that each pack
    left is at least factor times all the packs smaller than it together (as `git repack
    --geometric`): every byte is then rewritten only a logarithmic number of times."""
    below = [0]
    for size in sizes:
        below.append(below[-1] + size)
    for i in range(len(sizes) - 1, 0, -1):
        if sizes[i] < factor * below[i]:
            return i + 1
    return 0


def repack(
    store: ObjectStore, keep: Callable[[str], bool] | None = None, geometric: int | None = None
) -> RepackReport:
    """Pack every loose object and every pack into one pack, then remove what it replaces.

    keep (for gc) decides which objects survive; by default all of them. With
    geometric=FACTOR, only the smallest packs are merged (see geometric_merge; at
    most MERGE_LIMIT bytes of them), with the loose objects; packs of BIG_PACK bytes
    or more are left alone.
    """
    report = RepackReport()
    store.packs.refresh(force=True)
    old_packs = list(store.packs.packs)
    if geometric is not None:
        sized = sorted((p.disk_size(), p.name, p) for p in old_packs)
        small = [(size, pack) for size, _name, pack in sized if size < BIG_PACK]
        old_packs, total = [], 0
        for size, pack in small[: geometric_merge([size for size, _pack in small], geometric)]:
            total += size
            if total > MERGE_LIMIT:
                break
            old_packs.append(pack)
    loose = list(store.loose.iter_ids())
    if geometric is not None and len(old_packs) + len(loose) < 2:
        return report  # one pack or one object: nothing to gather
    wanted = [i for i in dict.fromkeys([*loose, *(i for p in old_packs for i in p.iter_ids())])]
    if keep is not None:
        wanted = [i for i in wanted if keep(i)]
    if len(old_packs) == 1 and not loose and len(wanted) == old_packs[0].count:
        return report  # already one pack with nothing to drop
    report.pack = pack_objects(store, wanted) if wanted else None
    report.packed = len(wanted)
    replaced = {p.name for p in old_packs}
    if report.pack is not None:
        replaced.discard(report.pack.stem)  # same content, same name: it is the new pack
    for pack in old_packs:
        if pack.name in replaced:
            remove_pack(pack)
            report.packs_removed += 1
    for object_id in loose:
        try:
            store.loose.remove(object_id)
            report.loose_removed += 1
        except FileNotFoundError:
            continue
    crash_point("repack-before-midx")  # leaves a stale multi-pack index (pacha.leftovers)
    store.forget_packs()
    rewrite_midx(store)
    return report


def rewrite_midx(store: ObjectStore, extend: bool = False) -> Path | None:
    """A multi-pack index over every pack installed now (removed if there are few packs).

    extend: made from the one in place if it is sound and names no pack that is gone,
    reading only the packs it does not cover (midx.extend_midx: what a registration or a
    pull adds costs what it adds plus a copy of the index), else built from every pack."""
    store.packs.refresh(force=True)
    current = store.packs.extendable_midx() if extend else None
    path = write_midx(store.packs.dir, store.tmp_dir, list(store.packs.packs), extend=current)
    store.packs.refresh(force=True)
    return path


def auto_repack(store: ObjectStore, limit: int | None = None) -> RepackReport | None:
    """Merge the small packs geometrically if there are more than limit packs, else rewrite
    the multi-pack index if MIDX_AFTER packs are outside it; None if neither was due.

    Lookups of an id that is not stored try every pack outside the multi-pack index,
    so their number must stay small. Another process already repacking makes this one skip.
    """
    store.packs.refresh()
    merge = len(store.packs.packs) > (AUTO_PACK_LIMIT if limit is None else limit)
    if not merge and store.packs.uncovered < MIDX_AFTER:
        return None
    fd = perms.create(store.packs.dir / "repack.lock", os.O_RDWR)  # the registry's mode
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if merge:
            return repack(store, geometric=FACTOR)  # which rewrites the index
        rewrite_midx(store, extend=True)
        return RepackReport()
    finally:
        os.close(fd)


def find_pack(store: ObjectStore, name: str) -> Pack:
    """A pack by path (.pack or .idx) or by name (pack-<id>, or a prefix of its id)."""
    path = Path(name)
    if path.suffix in (".pack", ".idx") and path.exists():
        return Pack(path.with_suffix(".idx"))
    store.packs.refresh(force=True)
    wanted = name.removeprefix("pack-").removesuffix(".pack").removesuffix(".idx")
    found = [p for p in store.packs.packs if p.name.removeprefix("pack-").startswith(wanted)]
    if len(found) != 1:
        what = "no pack" if not found else f"{len(found)} packs"
        raise InvalidInput(f"{what} named {name!r}: give a path to a .pack/.idx file or a pack id")
    return found[0]


def unpack(store: ObjectStore, pack: Pack, on_object: Callable[[str], None] | None = None) -> int:
    """Write every object of pack as a loose file, stored form kept; returns how many were new.

    Whole objects first, then deltas (whose bases may be in the same pack), then
    chunk lists (whose chunks must all be there); each is checked before it is written.
    """
    waiting: dict[int, list[tuple[str, bytes, codec.Header]]] = {codec.DELTA: [], codec.CHUNKS: []}
    written = 0

    def install(object_id: str, stored: bytes) -> None:
        nonlocal written
        tmp = TempFile(store.tmp_dir, "obj")
        try:
            tmp.write(stored)
            tmp.install(store.loose.path(object_id))
        finally:
            tmp.abort()
        written += 1
        if on_object is not None:
            on_object(object_id)

    for i in range(pack.count):
        object_id = pack.id_at(i)
        if store.loose.freshen(object_id):  # a damaged loose copy is replaced
            continue
        entry = pack.entry_at(i)
        stored = pack.read_at(entry.offset, entry.length)
        header = codec.parse_header(stored[: codec.MAX_HEADER_LEN], object_id)
        if header.encoding in waiting:
            waiting[header.encoding].append((object_id, stored, header))
            continue
        _verify_stored(store, object_id, stored, header)
        install(object_id, stored)
    deltas = waiting[codec.DELTA]
    while deltas:
        ready = [d for d in deltas if store.loose.has(_base(d[1], d[2])) or store.has(_base(d[1], d[2]))]
        if not ready:
            raise ObjectNotFound(f"object {deltas[0][0]} in {pack.name} is a delta against a missing base")
        for object_id, stored, header in ready:
            _verify_stored(store, object_id, stored, header)
            install(object_id, stored)
        deltas = [d for d in deltas if not store.loose.has(d[0])]
    for object_id, stored, header in waiting[codec.CHUNKS]:
        for chunk in decode_chunk_list(stored[header.length :]):
            if not store.has(chunk.id):
                raise ObjectNotFound(
                    f"object {object_id} in {pack.name} needs chunk {chunk.id}, which is missing"
                )
        install(object_id, stored)
    return written


def _base(stored: bytes, header: codec.Header) -> str:
    return base_of(stored[header.length : header.length + 32])


def _verify_stored(store: ObjectStore, object_id: str, stored: bytes, header: codec.Header) -> None:
    raw = ViewReader(memoryview(stored)[header.length :])
    source = body_source(header, raw, store)
    ObjectReader(object_id, header.kind, header.size, source, raw).verify()


def pack_stats(pack: Pack) -> tuple[int, int]:
    """(delta entries, chunk lists) in a pack, from the entries' headers."""
    deltas = chunked = 0
    for i in range(pack.count):
        entry = pack.entry_at(i)
        encoding = pack.read_at(entry.offset + 5, 1)[0]
        if encoding == codec.ENCRYPTED:  # the inner encoding, from the envelope (no key needed)
            kind_len = pack.read_at(entry.offset + 6, 1)[0]
            encoding = pack.read_at(entry.offset + 7 + kind_len + 8 + 1, 1)[0]
        deltas += encoding == codec.DELTA
        chunked += encoding == codec.CHUNKS
    return deltas, chunked
