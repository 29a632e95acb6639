"""Garbage collection: remove objects that nothing can reach any more.

Reachable = every object named by a ref or by any reflog entry (old or new; the
reflog is the audit trail, so what it names is kept, unless the ref was deleted
with RefTransaction.delete(expire=True)), and everything those link to (tree
entries, record links, the chunks of a chunked blob, the base of a delta),
transitively. Packed objects are removed by rewriting their pack without them.
An unreachable object is removed only when it is older than the grace period
(default two weeks, as Git): a registration in progress writes its objects
before it moves the ref that makes them reachable, and a write that reuses an
existing object refreshes its time (ObjectStore.freshen; a pack's time for its
objects), so neither is lost. Temp files of interrupted writes older than the
grace period go too.

Attachments: a ref `attached/<subject id>/<name>` (a version's signatures) names objects
that belong to its subject. It keeps nothing alive by itself (neither it nor its reflog is a
root): its objects are kept exactly as long as the subject is kept, and when gc removes the
subject (or finds it already gone) it deletes the attachment ref, with expiry, in one
transaction before removing any object, so no ref is left naming a removed object.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from pacha import codec
from pacha import objects as kinds
from pacha.crash import crash_point
from pacha.errors import CheckFailed, ObjectNotFound, PachaError
from pacha.ids import ZERO_ID
from pacha.leftovers import DEFAULT_GRACE_S as DEFAULT_GRACE_S
from pacha.leftovers import clean, scan
from pacha.refs.integrity import doomed_ids, guard_collection, write_snapshot
from pacha.registry import Registry
from pacha.store import ObjectStore
from pacha.store.loose import LooseStore
from pacha.store.pack import Pack, remove_pack
from pacha.store.repack import pack_objects, rewrite_midx

STORAGE_LINKING = frozenset({codec.CHUNKS, codec.DELTA})


@dataclass
class GcReport:
    objects: int = 0
    reachable: int = 0
    removed: list[str] = field(default_factory=list)
    kept_young: int = 0
    freed_bytes: int = 0
    temp_removed: int = 0
    detached: list[str] = field(default_factory=list)  # attachment refs deleted with their subject


def roots(registry: Registry, assume_expired: Collection[str] = ()) -> set[str]:
    """Every ref, and every reflog entry except those expired (a deletion with expire=True).

    assume_expired: refs to treat as deleted with expiry now (what a dry run of
    `gc --keep-last` would free).
    """
    refs = registry.refs.snapshot()  # refs and reflog as one transaction saw them
    out = {i for name, i in refs.refs if name not in assume_expired and attached_to(name) is None}
    expired = refs.expired
    for entry in refs.reflog:
        if entry.name in assume_expired or entry.seq <= expired.get(entry.name, -1):
            continue
        if attached_to(entry.name) is None:  # an attachment's history keeps nothing alive
            out.update(i for i in (entry.old, entry.new) if i != ZERO_ID)
    return out


ATTACHED = "attached/"  # attached/<subject id>/<name>: kept exactly as long as <subject id> is
_ID_HEX = 64


def attached_to(name: str) -> str | None:
    """The subject id of an attachment ref (`attached/<64 hex>/<name>`), else None."""
    if not name.startswith(ATTACHED):
        return None
    subject, slash, rest = name[len(ATTACHED) :].partition("/")
    return subject if slash and rest and len(subject) == _ID_HEX else None


def attachments(registry: Registry) -> list[tuple[str, str, str]]:
    """(ref name, object id, subject id) of every attachment ref."""
    out = []
    for name, object_id in registry.refs.iter(ATTACHED):
        subject = attached_to(name)
        if subject is not None:
            out.append((name, object_id, subject))
    return out


def with_attachments(registry: Registry, live: set[str], attached: list[tuple[str, str, str]]) -> set[str]:
    """live plus the closures of the attachments whose subject is in it, until nothing more is
    added (an attachment may itself be the subject of another)."""
    while True:
        extra = {object_id for _, object_id, subject in attached if subject in live} - live
        if not extra:
            return live
        live = reachable(registry, extra, seen=set(live))


def reachable(registry: Registry, start: set[str], seen: set[str] | None = None) -> set[str]:
    """start and everything it links to; missing objects are skipped (fsck reports them).

    seen: objects already known with their whole closure (not followed again; the
    result holds them too)."""
    store = registry.objects
    seen = set() if seen is None else seen
    frontier = list(start)
    while frontier:
        object_id = frontier.pop()
        if object_id in seen:
            continue
        seen.add(object_id)
        try:
            info = store.stat(object_id)
            if info.kind in kinds.STRUCTURED_KINDS:
                frontier.extend(i for i in kinds.links(info.kind, store.read(object_id)) if i not in seen)
            if info.encoding in STORAGE_LINKING:  # chunks of a large blob, base of a delta
                frontier.extend(i for i in store.storage_links(object_id) if i not in seen)
        except ObjectNotFound:
            continue  # nothing to follow (fsck reports the broken link)
        except PachaError as exc:
            # never guess: what an unreadable object links to could be deleted by mistake
            raise CheckFailed(
                f"gc stopped before removing anything: object {object_id} cannot be read ({exc}); "
                "run `pacha fsck` and repair it first"
            ) from None
    return seen


def collect(
    registry: Registry,
    prune_before: float | None = None,
    dry_run: bool = False,
    on_remove: Callable[[str], None] | None = None,
    assume_expired: Collection[str] = (),
) -> GcReport:
    """Remove unreachable objects last written before prune_before (a Unix time)."""
    if registry.objects.keys.encrypted:
        registry.objects.keys.unlocked()  # a wrong passphrase: one error, before anything else
    with registry.collecting():  # no commit is between writing objects and naming them
        return _collect(registry, prune_before, dry_run, on_remove, assume_expired)


@dataclass
class _Plan:
    """What gc decided, before it removes anything."""

    candidates: list[str]  # loose objects, listed before the roots were read
    packs: list[Pack]
    keep: set[str]  # reachable, and unreachable but young with everything they link to
    cutoff: float
    detach: list[tuple[str, str]]  # attachment refs (name, id) whose subject is not kept


def _collect(
    registry: Registry,
    prune_before: float | None,
    dry_run: bool,
    on_remove: Callable[[str], None] | None,
    assume_expired: Collection[str],
) -> GcReport:
    cutoff = time.time() - DEFAULT_GRACE_S if prune_before is None else prune_before
    store = registry.objects
    report = GcReport()
    # What interrupted operations left: packs without an index are indexed (so their
    # objects are judged like any other), dead writers' temp files go, never a live one's.
    report.temp_removed = clean(store, prune_before, dry_run).temp_removed
    _refuse_if_packs_hidden(store)
    plan = _plan(registry, cutoff, assume_expired, report)
    # Roots that fail their check (or version records about to go whose refs were never
    # deleted) mean lost refs, not garbage: remove nothing (pacha.refs.integrity).
    doomed = doomed_ids(store, plan.candidates, plan.packs, plan.keep, plan.cutoff)
    guard_collection(registry, doomed, assume_expired)
    report.detached = [name for name, _ in plan.detach]
    if not dry_run:
        _detach(registry, plan.detach)  # before any object goes: never a ref naming a removed one
        write_snapshot(registry)  # what `pacha fsck --recover-refs` restores from

    def removed(object_id: str) -> None:
        report.removed.append(object_id)
        if on_remove:
            on_remove(object_id)

    for object_id in plan.candidates:
        if object_id in plan.keep:
            continue
        try:
            if not dry_run:
                report.freed_bytes += store.loose.remove(object_id)
        except FileNotFoundError:
            continue
        removed(object_id)
    for pack in plan.packs:
        _prune_pack(store, pack, plan.keep, plan.cutoff, dry_run, report, removed)
    crash_point("gc-before-midx")  # leaves a stale multi-pack index (pacha.leftovers)
    store.forget_packs()
    if not dry_run:
        rewrite_midx(store)  # over the packs rewritten without their dead objects
    return report


def _plan(registry: Registry, cutoff: float, assume_expired: Collection[str], report: GcReport) -> _Plan:
    """List the objects, then read the roots (see the module docstring), and decide what stays."""
    store = registry.objects
    loose = store.loose
    candidates = list(loose.iter_ids())
    store.packs.refresh(force=True)
    packs = list(store.packs.packs)
    everything = set(candidates).union(*(set(p.iter_ids()) for p in packs))
    report.objects = len(everything)
    attached = attachments(registry)
    live = with_attachments(registry, reachable(registry, roots(registry, assume_expired)), attached)
    report.reachable = len(live)
    # Whatever is kept is kept whole: an unreachable object young enough to stay keeps
    # everything it links to, else it would be left linking to objects removed now.
    young = {i for i in candidates if i not in live and _loose_young(loose, i, cutoff)}
    for pack in packs:
        if _pack_young(pack, cutoff):
            young.update(i for i in pack.iter_ids() if i not in live)
    keep = live | reachable(registry, young, seen=set(live)) if young else live
    keep = with_attachments(registry, keep, attached)  # a young subject keeps its attachments
    report.kept_young = len(everything & keep) - len(everything & live)
    detach = [(name, object_id) for name, object_id, subject in attached if subject not in keep]
    return _Plan(candidates, packs, keep, cutoff, detach)


def _detach(registry: Registry, refs: list[tuple[str, str]]) -> None:
    """Delete attachment refs whose subject goes, in one transaction (expired: their reflog
    keeps nothing alive either)."""
    if not refs:
        return
    tx = registry.transaction("gc: what it was attached to is gone", registry.identity())
    for name, object_id in refs:
        tx.delete(name, object_id, expire=True)
    tx.commit()


def _prune_pack(
    store: ObjectStore,
    pack: Pack,
    keep: set[str],
    cutoff: float,
    dry_run: bool,
    report: GcReport,
    removed: Callable[[str], None],
) -> None:
    """Rewrite a pack without its unreachable objects (all of its objects share its time)."""
    ids = list(pack.iter_ids())
    dead = [i for i in ids if i not in keep]
    if not dead:
        return
    try:
        young = pack.path.stat().st_mtime >= cutoff
    except FileNotFoundError:
        return  # replaced meanwhile by a repack
    if young:  # every object of a young pack is in keep (with its closure): nothing is dead
        return
    if not dry_run:
        size = pack.disk_size()
        dead_set = set(dead)
        new = pack_objects(store, [i for i in ids if i not in dead_set])
        report.freed_bytes += size - (_pack_size(new) if new else 0)
        if new is None or new.stem != pack.name:
            remove_pack(pack)
    for object_id in dead:
        removed(object_id)


def _pack_size(index: Path) -> int:
    return index.stat().st_size + index.with_suffix(".pack").stat().st_size


def _refuse_if_packs_hidden(store: ObjectStore) -> None:
    """Stop before removing anything while a pack is set aside as damaged (or left
    without an index): a tree or record in it could link to objects that would
    otherwise look unreachable and go for ever, though its index can be rebuilt."""
    store.packs.refresh(force=True)
    hidden = [store.packs.dir / name for name in sorted(store.packs.damaged)]
    hidden += [item.path for item in scan(store) if item.kind == "orphan-pack"]
    if hidden:
        raise CheckFailed(
            f"gc stopped before removing anything: {hidden[0]} is damaged, so what its objects link "
            f"to cannot be known; run `pacha fsck` and repair it first (`pacha index-pack` rebuilds an index)"
        )


def _loose_young(loose: LooseStore, object_id: str, cutoff: float) -> bool:
    try:
        return loose.mtime(object_id) >= cutoff
    except FileNotFoundError:
        return False


def _pack_young(pack: Pack, cutoff: float) -> bool:
    """A pack's objects share its time (a reuse of one refreshes the whole pack)."""
    try:
        return pack.path.stat().st_mtime >= cutoff
    except FileNotFoundError:
        return False
