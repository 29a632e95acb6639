"""Checking a whole registry: every object's bytes, every link, every ref."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pacha import damage
from pacha.crypto.convert import remaining
from pacha.ids import ZERO_ID
from pacha.leftovers import scan
from pacha.refs.integrity import check_refs, lost_versions
from pacha.refs.store import RefSnapshot
from pacha.registry import Registry
from pacha.store import ObjectStore
from pacha.store.midx import MultiPackIndex, check_midx
from pacha.store.pack import Pack
from pacha.transport.local import TRACKING_PREFIX
from pacha.transport.promisor import lazy_remote
from pacha.verify import ObjectCheck, check_all, check_object


@dataclass
class FsckReport:
    objects: int = 0
    refs: int = 0
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # what restores each damaged object
    repaired: list[str] = field(default_factory=list)  # with repair=True: what was rewritten
    unrepaired: int = 0  # with repair=True: problems left (ok becomes "none left")
    # Not damage (exit 0): leftovers of interrupted operations, with what clears them,
    # and dangling links among unreachable objects (gc removes those objects in time).
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems if not self.repaired else not self.unrepaired


class _Say:
    """Where findings go: into the report, and to the caller's callbacks as they are found."""

    def __init__(
        self,
        report: FsckReport,
        on_problem: Callable[[str], None] | None,
        on_warning: Callable[[str], None] | None,
    ) -> None:
        self.report = report
        self.on_problem = on_problem
        self.on_warning = on_warning
        self.promisor: str | None = None  # a lazy registry's remote: it holds what is not here

    def missing(self, linked: str, kind: str | None, object_id: str, tracked_only: bool = False) -> None:
        """A reachable object links to one that is not here: damage, unless a lazy registry's
        remote promised it (Git's partial clone: promisor objects are not missing), or only
        remote-tracking refs reach it (a fetch brings records, not artifact bytes)."""
        if tracked_only and self.promisor is None:
            self.warning(
                f"not fetched: {linked} (linked from {kind} {object_id}, which only remote-tracking "
                "refs reach: a fetch brings records, not artifact bytes); `pacha pull REMOTE REF` "
                "fetches a version whole",
                notes=True,
            )
            return
        if self.promisor is None:
            self.problem(f"missing object {linked} (linked from {kind} {object_id})")
            return
        self.warning(
            f"not fetched: {linked} (linked from {kind} {object_id}); a lazy registry: remote "
            f"{self.promisor} holds it, and `pacha verify NAME:VER` fetches and checks a version",
            notes=True,
        )

    def problem(self, text: str) -> None:
        self.report.problems.append(text)
        if self.on_problem:
            self.on_problem(text)

    def warning(self, text: str, notes: bool = False) -> None:
        (self.report.notes if notes else self.report.warnings).append(text)
        if self.on_warning:
            self.on_warning(f"{'note' if notes else 'warning'}: {text}")


def fsck(
    registry: Registry,
    jobs: int = 2,
    on_problem: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    repair: bool = False,
) -> FsckReport:
    """Check everything; problems are reported as they are found and collected.

    Damage to anything reachable from a ref or the reflog is a problem; leftovers of
    interrupted operations are warnings, and dangling links among unreachable objects
    notes (both given to on_warning as "warning: …" / "note: …"). Every copy of an
    object stored more than once is checked too, and each damaged object gets a hint
    naming what restores it (pacha.damage). repair=True rewrites damaged copies from
    good ones; `ok` then means no problem is left.
    """
    report = FsckReport()
    say = _Say(report, on_problem, on_warning)
    say.promisor = lazy_remote(registry)
    store = registry.objects
    if store.keys.encrypted:
        _check_encryption(store, say.warning)
    # Refs and reflogs first, in one read transaction, then the objects: a commit stores its
    # objects before the transaction that names them, so nothing named here is missing from
    # the listing below unless it is really gone. What still looks missing or unreadable is
    # checked once more before it is reported (a repack or gc may have moved it meanwhile).
    refs = registry.refs.snapshot()
    late: dict[str, None] = {}
    _check_files(store, say)
    ids = list(store.iter_ids())
    present = set(ids)
    report.objects = len(ids)
    roots = (_roots(refs), _roots(refs, tracking=False))
    unreadable = _check_objects(store, ids, present, roots, jobs, late, say)
    _damage(registry, report, ids, unreadable, say.problem, repair)
    _check_refs(registry, refs, present, late, say)
    # Objects stored after the listing (and named by a newer object): verified as well.
    while late:
        batch = [i for i in late if i not in present]
        present.update(batch)
        late.clear()
        report.objects += len(batch)
        for check in check_all(store, batch, jobs):
            if check.problem and _still_bad(store, check):
                say.problem(check.problem)
            for linked in check.links:
                if linked not in present and not _appeared(store, linked, late):
                    say.missing(linked, check.kind, check.id)
    return report


def _check_files(store: ObjectStore, say: _Say) -> None:
    """The store's files as files: stray files, damaged packs, the multi-pack index, leftovers."""
    for path in store.loose.stray_files():
        say.problem(f"garbage file {path} (not an object; remove it)")
    store.packs.refresh(force=True)
    for name, why in sorted(store.packs.damaged.items()):
        say.problem(_damaged_pack(store.packs.dir / name, why))
    for pack in store.packs.packs:
        for text in pack_file_problems(pack) or []:
            say.problem(text)
    midx_problems = _midx_problems(store)  # waits out a repack that is rewriting it
    leftovers = scan(store)
    if not any(item.kind == "stale-midx" for item in leftovers):  # stale: a leftover, not damage
        for text in midx_problems:
            say.problem(text)
    for item in leftovers:
        say.warning(item.describe())


def _check_objects(
    store: ObjectStore,
    ids: list[str],
    present: set[str],
    roots: tuple[set[str], set[str]],
    jobs: int,
    late: dict[str, None],
    say: _Say,
) -> set[str]:
    """Verify every listed object; damage and missing links count as problems where reachable
    from roots (all of them, those of local refs), as notes elsewhere (a missing link reached
    from remote-tracking refs only: not fetched). Returns the ids that cannot be read."""
    links: dict[str, tuple[str, ...]] = {}
    unsure: list[ObjectCheck] = []  # damage that is a problem only if the object is reachable
    unreadable: set[str] = set()
    for check in check_all(store, ids, jobs):
        if check.links:
            links[check.id] = check.links
        if check.problem and _still_bad(store, check):
            unreadable.add(check.id)
            if check.missing_link:
                unsure.append(check)
            else:
                say.problem(check.problem)
        if any(linked not in present for linked in check.links):
            unsure.append(check)
    live = _reachable(roots[0], links)
    local = _reachable(roots[1], links)  # a walk of the links in memory: cheap beside the checks
    for check in unsure:
        reachable = check.id in live
        if check.problem and check.missing_link:
            if reachable:
                say.problem(check.problem)
            else:
                say.warning(
                    f"unreachable {check.problem} (harmless: `pacha gc` removes it in time)", notes=True
                )
        for linked in check.links:
            if linked in present or _appeared(store, linked, late):
                continue
            if reachable:
                say.missing(linked, check.kind, check.id, tracked_only=check.id not in local)
            else:
                say.warning(
                    f"dangling link: unreachable {check.kind} {check.id} links to missing object {linked} "
                    "(harmless: `pacha gc` removes it in time)",
                    notes=True,
                )
    return unreadable


def _check_refs(
    registry: Registry, refs: RefSnapshot, present: set[str], late: dict[str, None], say: _Say
) -> None:
    """The ref table's digest, lost versions, and what refs and the unexpired reflog name."""
    store = registry.objects
    for text in check_refs(registry.refs):
        say.problem(text)
    lost = lost_versions(registry)
    if lost:  # a registration between storing its record and its ref transaction is not a loss
        registry.wait_for_writers()
        lost = {ref: record for ref, record in lost_versions(registry).items() if ref in lost}
    for ref, record in sorted(lost.items()):
        say.problem(
            f"version record {record} ({ref}) has no ref and was never deleted: lost refs or an "
            "interrupted registration; `pacha fsck --recover-refs` restores it"
        )
    for name, object_id in refs.refs:
        say.report.refs += 1
        if object_id not in present and not _appeared(store, object_id, late):
            say.problem(f"broken ref {name}: points at missing object {object_id}")
    for entry in refs.reflog:
        if entry.seq <= refs.expired.get(entry.name, -1):
            continue  # expired history: gc may have collected what it names
        # Each entry's old value is the previous entry's new one: checking new suffices.
        if entry.new != ZERO_ID and entry.new not in present and not _appeared(store, entry.new, late):
            say.problem(f"reflog of {entry.name} (entry {entry.seq}) names missing object {entry.new}")


def _check_encryption(store: ObjectStore, warning: Callable[[str], None]) -> None:
    """Unlock an encrypted registry first (a wrong passphrase is one error, not one per
    object), and warn of bodies a conversion left plain or under a retiring key."""
    current = store.keys.unlocked().current
    left = remaining(store, current)
    if left:
        warning(
            f"{left} object bodies are stored unencrypted or under a retiring master key: run "
            "`pacha encrypt` (or `pacha key rotate --data`) again to finish"
        )


def _damaged_pack(path: Path, why: str) -> str:
    """A damaged pack file set aside by readers, with what restores it."""
    if path.name.endswith(".idx") and "pack index" in why and path.with_suffix(".pack").exists():
        return f"{why}; its objects are unavailable: run `pacha index-pack {path.with_suffix('.pack')}`"
    return (
        f"{why}; its objects are unavailable: restore the file from a copy or a backup "
        "(objects also stored elsewhere are still served)"
    )


def _roots(refs: RefSnapshot, tracking: bool = True) -> set[str]:
    """What refs and the unexpired reflog name (as gc counts them), from one snapshot;
    tracking=False leaves out remote-tracking refs (remotes/…) and their reflogs."""
    out = {i for name, i in refs.refs if tracking or not name.startswith(TRACKING_PREFIX)}
    for entry in refs.reflog:
        if not tracking and entry.name.startswith(TRACKING_PREFIX):
            continue
        if entry.seq > refs.expired.get(entry.name, -1):
            out.update(i for i in (entry.old, entry.new) if i != ZERO_ID)
    return out


def _reachable(roots: set[str], links: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    frontier = list(roots)
    while frontier:
        object_id = frontier.pop()
        if object_id not in seen:
            seen.add(object_id)
            frontier.extend(links.get(object_id, ()))
    return seen


def _damage(
    registry: Registry,
    report: FsckReport,
    ids: list[str],
    unreadable: set[str],
    problem: Callable[[str], None],
    repair: bool,
) -> None:
    """Damaged copies (pacha.damage): shadowed ones as problems, a hint for each, repairs."""
    found = damage.inspect(registry, ids, unreadable)
    for text in found.shadowed:
        problem(text)
    report.hints = found.hints
    if not repair or not found.damaged:
        return
    with registry.collecting():  # no gc rewrites packs (nor a commit starts) while packs are rewritten
        done = damage.repair(registry.objects, found.damaged)
    report.repaired = done.repaired + done.not_repaired
    fixed = done.fixed
    left = [p for p in report.problems if not any(object_id in p for object_id in fixed)]
    recheck = [c.problem for c in map(lambda i: check_object(registry.objects, i), fixed) if c.problem]
    report.unrepaired = len(left) + len(recheck) + len(damage.survey(registry.objects, fixed))


def _midx_problems(store: ObjectStore) -> list[str]:
    """check_midx, looked at again before anything is reported.

    A repack (or gc) installs its pack, removes the packs it replaced and only then writes
    the new multi-pack index, so for a moment the index names packs that are gone. Problems
    are reported only if they outlast the repack running now and a few seconds more."""
    midx, problems = check_midx(store.packs.dir, store.packs.packs)
    deadline = time.monotonic() + 5
    delay = 0.05
    while problems and _names_a_missing_pack(midx, store) and time.monotonic() < deadline:
        _wait_for_repack(store.packs.dir)
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
        store.packs.refresh(force=True)
        midx, problems = check_midx(store.packs.dir, store.packs.packs)
    return problems


def _names_a_missing_pack(midx: MultiPackIndex | None, store: ObjectStore) -> bool:
    """The one state of a multi-pack index that a repack passes through (other damage stays)."""
    # A pack set aside as damaged is still on disk: only a pack whose file is gone counts
    # (else every fsck of a registry with a damaged pack would wait out the deadline).
    listed = {p.name for p in store.packs.packs}
    return midx is not None and any(
        name not in listed and not (store.packs.dir / f"{name}.pack").exists() for name in midx.pack_names
    )


def _wait_for_repack(pack_dir: Path) -> None:
    """Block until an automatic repack that holds repack.lock has finished (if there is one)."""
    try:
        fd = os.open(pack_dir / "repack.lock", os.O_RDONLY)
    except OSError:
        return  # never repacked, or not ours to open: nothing to wait for
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        pass
    finally:
        os.close(fd)  # releases the lock at once: a repack may start again


def pack_file_problems(pack: Pack) -> list[str] | None:
    """pack.check_files(), or None for a pack that a repack or gc removed since it was listed.

    Removal deletes the index first, so a pack file missing under an index still there is
    damage, not a race."""
    try:
        return pack.check_files()
    except FileNotFoundError:
        if not pack.index_path.exists():
            return None
        return [f"pack {pack.path} is missing (its index {pack.index_path} is there)"]


def _appeared(store: ObjectStore, object_id: str, late: dict[str, None]) -> bool:
    """Whether an object absent from the listing is stored now (written or repacked meanwhile);
    if so it is queued in late to be verified too."""
    if store.has(object_id):
        late[object_id] = None
        return True
    return False


def _still_bad(store: ObjectStore, check: ObjectCheck) -> bool:
    """Re-check an object that failed before reporting it: gone altogether means a gc removed
    it meanwhile (only unreachable objects go; anything that names it is checked on its own);
    readable now means a repack moved it while it was read. Damage stays damage."""
    if not store.has(check.id):
        return False
    return check_object(store, check.id).problem is not None
