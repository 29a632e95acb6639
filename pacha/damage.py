"""Damaged objects: which copies are bad, what restores them, and repairing from good copies.

`fsck` finds damaged objects by reading them as readers do. This module looks
further: it checks every copy of an object stored more than once (a damaged
copy shadowed by a good one is still damage, and a good copy is what repairs
it), and names, for each damaged object, what would restore it: a good copy
(`pacha fsck --repair`), or the file or folder it holds (named by the refs,
records and trees that lead to it), stored again with `pacha hash-object -w`,
`pacha write-tree` or a new registration, which replace a damaged copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from pacha import codec, perms
from pacha import objects as kinds
from pacha.errors import PachaError
from pacha.registry import Registry
from pacha.store import ObjectStore
from pacha.store.chunked import decode_chunk_list
from pacha.store.copies import Copy, copies, stored_form, verify_copy
from pacha.store.delta import base_of
from pacha.store.pack import Pack, remove_pack
from pacha.store.pack_writer import PackWriter
from pacha.store.reader import Stream
from pacha.store.repack import rewrite_midx

MAX_NAMES = 3  # places named per damaged object


@dataclass
class Damage:
    """One object with at least one damaged copy."""

    id: str
    bad: list[tuple[Copy, str]] = field(default_factory=list)  # (copy, why)
    good: list[Copy] = field(default_factory=list)


def multi_copy_ids(store: ObjectStore) -> set[str]:
    """Ids stored more than once (loose and packed, or in several packs)."""
    loose = set(store.loose.iter_ids())
    seen: set[str] = set()
    out: set[str] = set()
    for pack in store.packs.packs:
        for object_id in pack.iter_ids():
            if object_id in loose or object_id in seen:
                out.add(object_id)
            seen.add(object_id)
    return out


def survey(store: ObjectStore, ids: Iterable[str]) -> dict[str, Damage]:
    """Verify every copy of each id; the ids with a damaged copy, with their good copies."""
    out: dict[str, Damage] = {}
    for object_id in ids:
        damage = Damage(object_id)
        for copy in copies(store, object_id):
            why = verify_copy(store, object_id, copy)
            if why is None:
                damage.good.append(copy)
            else:
                damage.bad.append((copy, why))
        if damage.bad or not damage.good:
            out[object_id] = damage
    return out


class Referrers:
    """Who names each object: refs, records and trees (with the entry's name), chunk lists
    and deltas. Built only when something is damaged (it reads every tree and record)."""

    def __init__(self, registry: Registry, ids: Iterable[str]) -> None:
        store = registry.objects
        self.refs: dict[str, list[str]] = {}
        self.parents: dict[str, list[tuple[str, str | None, str]]] = {}  # child -> (parent, name, how)
        self.kind_hint: dict[str, str] = {}
        for name, object_id in registry.refs.iter():
            self.refs.setdefault(object_id, []).append(name)
        for object_id in ids:
            with contextlib.suppress(PachaError, OSError, ValueError):
                self._scan(store, object_id)

    def _add(self, child: str, parent: str, name: str | None, how: str) -> None:
        self.parents.setdefault(child, []).append((parent, name, how))

    def _scan(self, store: ObjectStore, object_id: str) -> None:
        header, raw = store.open_stored(object_id)
        with raw:
            if header.encoding == codec.CHUNKS:
                for chunk in decode_chunk_list(raw.read()):
                    self._add(chunk.id, object_id, None, "chunk")
                    self.kind_hint[chunk.id] = kinds.BLOB
            elif header.encoding == codec.DELTA:
                self._add(base_of(raw.read(32)), object_id, None, "delta base")
        if header.kind == kinds.TREE:
            for entry in kinds.decode_tree(store.read(object_id)).entries:
                self._add(entry.id, object_id, entry.name, "entry")
                self.kind_hint[entry.id] = entry.kind
        elif header.kind == kinds.RECORD:
            doc = kinds.decode_record(store.read(object_id))
            artifact = doc.get("artifact")
            for linked in doc.get("links", []):
                name = (
                    doc.get("filename")
                    if linked == artifact and isinstance(doc.get("filename"), str)
                    else None
                )
                self._add(linked, object_id, name, "record")
                if linked == artifact and doc.get("artifact_kind") in (kinds.BLOB, kinds.TREE):
                    self.kind_hint[linked] = doc["artifact_kind"]

    def places(self, object_id: str) -> list[str]:
        """Up to MAX_NAMES places that lead to object_id: `REF:path/in/artifact`, or the
        object that names it when no ref leads there."""
        out: list[str] = []
        queue: deque[tuple[str, list[str], str | None]] = deque([(object_id, [], None)])
        seen = {object_id}
        while queue and len(out) < MAX_NAMES:
            node, path, via = queue.popleft()
            for ref in self.refs.get(node, []):
                out.append(f"{ref}:{'/'.join(path)}" if path else ref)
            for parent, name, how in self.parents.get(node, []):
                if parent in seen:
                    continue
                seen.add(parent)
                step = [name] if name else []
                queue.append((parent, step + path, via or (f"{how} of {parent}" if how != "entry" else None)))
        if not out:
            for parent, name, how in self.parents.get(object_id, [])[:MAX_NAMES]:
                out.append(f"{how} {name!r} of {parent}" if name else f"{how} of {parent}")
        return out[:MAX_NAMES]


def restore_hint(
    damage: Damage, kind: str | None, places: list[str], chunk_of: list[str] | None = None
) -> str:
    """What would restore a damaged object, in one line (chunk_of: the chunked blobs it is
    a chunk of, whose files restore it)."""
    object_id = damage.id
    if damage.good:
        good = damage.good[0].label
        return f"restore {object_id}: its {good} is good; `pacha fsck --repair` rewrites the damaged one"
    named = f" ({', '.join(places)})" if places else ""
    if kind == kinds.TREE:
        return (
            f"restore {object_id}: `pacha write-tree DIR` with a copy of the folder{named}, "
            "or register that folder again"
        )
    if kind == kinds.RECORD:
        return (
            f"restore {object_id}: no file restores a record{named}; copy it from a backup of "
            "the registry (`pacha unpack-objects PACK` of a pack holding it)"
        )
    if chunk_of:
        return (
            f"restore {object_id}: it is a chunk of blob {chunk_of[0]}: `pacha hash-object -w FILE` "
            f"with a copy of that file{named} stores it again, or register that file again"
        )
    if kind == kinds.BLOB:
        return (
            f"restore {object_id}: `pacha hash-object -w FILE` with a copy of the file{named} "
            f"(any file whose BLAKE3, as `b3sum` prints, is {object_id}), or register that file again"
        )
    if not places:
        return f"restore {object_id}: nothing names it (unreachable): `pacha gc` removes it"
    return (
        f"restore {object_id}: store again what it held{named} (`pacha hash-object -w` or `pacha write-tree`)"
    )


def kind_of(store: ObjectStore, damage: Damage, referrers: Referrers) -> str | None:
    """The object's kind, from a good copy, a header that still parses, or who names it."""
    for copy in [*damage.good, *(c for c, _why in damage.bad)]:
        with contextlib.suppress(PachaError, OSError, ValueError):
            header, raw = _header(store, damage.id, copy)
            raw.close()
            return header.kind
    return referrers.kind_hint.get(damage.id)


def _header(store: ObjectStore, object_id: str, copy: Copy) -> tuple[codec.Header, Stream]:
    if copy.pack is None:
        return store.loose.open_raw(object_id)
    return copy.pack.open_entry(copy.index, object_id)


@dataclass
class RepairReport:
    repaired: list[str] = field(default_factory=list)
    not_repaired: list[str] = field(default_factory=list)
    fixed: set[str] = field(default_factory=set)  # ids whose damaged copies were rewritten


def repair(store: ObjectStore, damaged: dict[str, Damage]) -> RepairReport:
    """Rewrite each damaged copy from a good copy of the same object: a damaged loose file
    is replaced atomically; a pack holding damaged entries is rewritten without them, once
    a good loose copy of each exists (readers prefer loose copies). Objects with no good
    copy are listed as not repaired."""
    report = RepairReport()
    drop: dict[str, tuple[Pack, set[str]]] = {}
    for object_id, damage in sorted(damaged.items()):
        if not damage.bad:
            continue
        if not damage.good:
            report.not_repaired.append(f"cannot repair {object_id}: no good copy of it is stored")
            continue
        stored = stored_form(store, object_id, damage.good[0])
        header = codec.parse_header(stored[: codec.MAX_HEADER_LEN], object_id)
        if any(copy.pack is None for copy, _why in damage.bad):  # replaced atomically
            store.loose.write_stored(object_id, stored[: header.length], stored[header.length :])
        for copy, _why in damage.bad:
            if copy.pack is not None:
                drop.setdefault(copy.pack.name, (copy.pack, set()))[1].add(object_id)
        done = [
            f"rewrote its {copy.label} from its good {damage.good[0].label}"
            if copy.pack is None
            else f"dropped its damaged {copy.label} (the pack was rewritten without it)"
            for copy, _why in damage.bad
        ]
        report.repaired.append(f"repaired {object_id}: {'; '.join(done)}")
        report.fixed.add(object_id)
    if drop:
        _rewrite_packs(store, list(drop.values()))
    return report


def _rewrite_packs(store: ObjectStore, packs: list[tuple[Pack, set[str]]]) -> None:
    """Each pack rewritten without the given entries (copied byte for byte otherwise),
    the new pack installed before the old one goes; then the multi-pack index."""
    fd = perms.create(store.packs.dir / "repack.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # no repack or gc rewrites packs meanwhile
        for pack, dropped in packs:
            writer = PackWriter(store.packs.dir, store.tmp_dir, store.seal_parts)
            try:
                for i in range(pack.count):
                    object_id = pack.id_at(i)
                    if object_id in dropped:
                        continue
                    offset, length = pack.entry_at(i)
                    writer.add(object_id, pack.read_at(offset, length))
                index = writer.finish()
            except BaseException:
                writer.abort()
                raise
            if index is None or index.stem != pack.name:
                remove_pack(pack)
        store.forget_packs()
        rewrite_midx(store)
    finally:
        os.close(fd)


@dataclass
class DamageReport:
    """What fsck learnt about damaged copies."""

    damaged: dict[str, Damage] = field(default_factory=dict)
    shadowed: list[str] = field(default_factory=list)  # problems readers do not see
    hints: list[str] = field(default_factory=list)


def inspect(registry: Registry, ids: list[str], unreadable: set[str]) -> DamageReport:
    """Check every copy of the unreadable objects and of every object stored more than
    once; name what restores each damaged one."""
    store = registry.objects
    report = DamageReport()
    report.damaged = survey(store, unreadable | multi_copy_ids(store))
    for object_id, damage in sorted(report.damaged.items()):
        if object_id not in unreadable:
            for copy, why in damage.bad:
                report.shadowed.append(f"object {object_id}: its {copy.label} is damaged ({why})")
    if report.damaged:
        referrers = Referrers(registry, ids)
        for object_id, damage in sorted(report.damaged.items()):
            kind = kind_of(store, damage, referrers)
            chunk_of = [p for p, _name, how in referrers.parents.get(object_id, []) if how == "chunk"]
            report.hints.append(restore_hint(damage, kind, referrers.places(object_id), chunk_of))
    return report
