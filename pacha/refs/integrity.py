"""The ref database's integrity beyond its digest (pacha.refs.digest): a guard for gc, and recovery.

- Digest: a ref table that fails its digest makes `pacha fsck` report it and `pacha gc`
  refuse to remove anything.
- Guard: gc also refuses when an object it would remove is a version record whose ref
  the reflog never saw deleted (the refs were lost, not the version).
- Snapshot: gc and repack write ``ref-snapshot`` at the registry's root (every ref, as
  Git's packed-refs, with a BLAKE3 checksum), and `pacha fsck --recover-refs` rebuilds a
  usable ref database from it and from what the records say they are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3

from pacha import objects, perms
from pacha.config import write_atomic
from pacha.errors import CheckFailed, PachaError
from pacha.ids import ZERO_ID, check_id
from pacha.refs.env import close_all
from pacha.refs.names import ref_name_problem
from pacha.refs.store import RefStore
from pacha.registry import Registry
from pacha.store import ObjectStore
from pacha.store.pack import Pack

SNAPSHOT_FILE = "ref-snapshot"
SNAPSHOT_HEADER = "# pacha ref snapshot v1"

# Version records and the refs that name them (docs/porcelain.md, "Ref layout").
VERSION_NAMESPACES = {"model-version": "models", "dataset-version": "datasets"}
INITIAL_STAGE = "development"


def check_refs(store: RefStore) -> list[str]:
    """Problems of the ref table: entries that are not refs, and a digest that does not match
    (refs changed outside Pacha). Read in one snapshot; empty when all is well."""
    return store.check_digest()


# --- gc's guard -----------------------------------------------------------------------------
def doomed_ids(
    store: ObjectStore, loose: Iterable[str], packs: Iterable[Pack], keep: set[str], cutoff: float
) -> set[str]:
    """The objects gc would remove: unreachable and last written before cutoff."""
    out = set()
    for object_id in loose:
        if object_id in keep:
            continue
        try:
            if store.loose.mtime(object_id) < cutoff:
                out.add(object_id)
        except FileNotFoundError:
            continue
    for pack in packs:
        try:
            if pack.path.stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        out.update(i for i in pack.iter_ids() if i not in keep)
    return out


def version_ref(doc: dict[str, Any]) -> str | None:
    """The ref a version record is registered under, or None for other records."""
    kind, name, version = doc.get("type"), doc.get("name"), doc.get("version")
    namespace = VERSION_NAMESPACES.get(kind) if isinstance(kind, str) else None
    if namespace is None or not isinstance(name, str) or not isinstance(version, str):
        return None
    return f"{namespace}/{name}/{version}"


def guard_collection(
    registry: Registry, doomed: Collection[str], assume_expired: Collection[str] = ()
) -> None:
    """Raise CheckFailed, before gc removes anything, if the roots it computed cannot be trusted:
    the ref table fails its check, or a version record would go whose ref was never deleted."""
    problems = check_refs(registry.refs)
    if problems:
        raise CheckFailed(f"gc refused to remove anything: {problems[-1]}")
    store = registry.objects
    lost = []
    for object_id in doomed:
        ref = _record_ref(store, object_id)
        if ref is None or ref in assume_expired:
            continue
        if not any(e.new == ZERO_ID for e in registry.refs.reflog(ref)):
            lost.append(ref)
    if lost:
        raise CheckFailed(
            f"gc refused to remove anything: {len(lost)} version record(s) would go whose refs were "
            f"never deleted (e.g. {sorted(lost)[0]}): the refs may have been lost; run "
            "`pacha fsck --recover-refs`, then delete the versions you do not want"
        )


def _record_ref(store: ObjectStore, object_id: str) -> str | None:
    try:
        if store.stat(object_id).kind != "record":
            return None
        return version_ref(objects.decode_record(store.read(object_id)))
    except PachaError:
        return None  # unreadable: reachable() already refuses what it cannot read


# --- the snapshot ---------------------------------------------------------------------------
def write_snapshot(registry: Registry) -> int:
    """Write every ref to <registry>/ref-snapshot atomically (if the ref table passes its check);
    returns how many refs it holds, -1 if the table failed its check and nothing was written."""
    if check_refs(registry.refs):
        return -1  # never replace a good snapshot with a damaged table's content
    refs = list(registry.refs.iter())
    body = "".join(f"{object_id} {name}\n" for name, object_id in refs)
    head = f"{SNAPSHOT_HEADER} {time.time_ns()}\n"
    text = head + body
    write_atomic(
        registry.root / SNAPSHOT_FILE, (text + f"# blake3 {blake3(text.encode()).hexdigest()}\n").encode()
    )
    return len(refs)


def read_snapshot(root: Path) -> tuple[dict[str, str], str | None]:
    """(refs, problem): the refs of <root>/ref-snapshot, or {} and why it cannot be used."""
    try:
        text = (root / SNAPSHOT_FILE).read_text("utf-8")
    except FileNotFoundError:
        return {}, "no ref snapshot (gc and repack write one)"
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"the ref snapshot cannot be read ({exc})"
    body, _, tail = text.rstrip("\n").rpartition("\n")
    body += "\n"
    if not body.startswith(SNAPSHOT_HEADER) or tail != f"# blake3 {blake3(body.encode()).hexdigest()}":
        return {}, "the ref snapshot is damaged (its checksum does not match)"
    refs = {}
    for line in body.splitlines()[1:]:
        object_id, _, name = line.partition(" ")
        try:
            check_id(object_id, "ref snapshot")
        except PachaError:
            return {}, f"the ref snapshot is damaged (bad line {line!r})"
        if ref_name_problem(name):
            return {}, f"the ref snapshot is damaged (bad ref name {name!r})"
        refs[name] = object_id
    return refs, None


# --- recovery -------------------------------------------------------------------------------
def version_records(store: ObjectStore) -> Iterable[tuple[str, str]]:
    """(ref, record id) for every stored version record (what each says it is)."""
    for object_id in store.iter_ids():
        try:
            if store.stat(object_id).kind != "record":
                continue
            ref = version_ref(objects.decode_record(store.read(object_id)))
        except PachaError:
            continue  # fsck reports unreadable objects
        if ref is not None:
            yield ref, object_id


def lost_versions(registry: Registry) -> dict[str, str]:
    """ref -> record id of each version whose record is stored but whose ref is missing although
    the reflog never saw it deleted (lost refs, or a registration interrupted before its commit)."""
    present = {name for name, _ in registry.refs.iter()}
    # a record fetched from a remote is named by its remote-tracking ref (remotes/<remote>/...)
    tracked = {object_id for _, object_id in registry.refs.iter("remotes/")}
    out = {}
    for ref, object_id in version_records(registry.objects):
        if ref in present or ref in out or object_id in tracked:
            continue
        if not any(e.new == ZERO_ID for e in registry.refs.reflog(ref)):
            out[ref] = object_id
    return out


def _stage_ref(ref: str) -> str:
    namespace, rest = ref.split("/", 1)
    name, version = rest.rsplit("/", 1)
    return f"stages/{namespace}/{name}/{INITIAL_STAGE}/{version}"


def _staged(refs: Iterable[str]) -> set[str]:
    """stages/<ns>/<name>/<version> of every version that has a stage ref among refs."""
    out = set()
    for ref in refs:
        if ref.startswith("stages/") and ref.count("/") >= 4:
            head, _stage, version = ref.rsplit("/", 2)
            out.add(f"{head}/{version}")
    return out


@dataclass
class Recovery:
    """What `pacha fsck --recover-refs` did."""

    rebuilt: bool = False  # False: the database was sound and only lost versions were added
    from_snapshot: int = 0
    from_records: int = 0
    skipped_missing: int = 0
    moved_aside: str | None = None
    notes: list[str] = field(default_factory=list)


def _sound(registry: Registry) -> bool:
    try:
        return not check_refs(registry.refs)
    except PachaError:  # missing, truncated, not LMDB, damaged pages
        return False


def recover_refs(registry: Registry) -> Recovery:
    """Make the refs usable again, from what the objects know.

    A sound ref database (it opens and matches its digest) keeps everything it holds,
    reflog included; only versions whose record is stored but whose ref is missing and
    was never deleted get their version ref back (and a development stage ref if they
    have none). A damaged or lost one is moved aside to refs.damaged-<time>/ (never
    deleted) and rebuilt in one transaction: the refs of the ref snapshot (written by gc
    and repack) whose objects are still stored, then every version record not covered,
    as above. The reflog then starts again with one entry per restored ref; versions
    deleted since the snapshot come back (delete them again); derived indices are rebuilt
    by `pacha reindex`.
    """
    report = Recovery()
    if _sound(registry):
        lost = lost_versions(registry)
        staged = _staged(name for name, _ in registry.refs.iter("stages/"))
        with registry.refs.transaction("recovered by pacha fsck --recover-refs") as tx:
            for ref, object_id in sorted(lost.items()):
                tx.create(ref, object_id)
                if f"stages/{ref}" not in staged:
                    tx.create(_stage_ref(ref), object_id)
        report.from_records = len(lost)
        return report
    report.rebuilt = True
    store = registry.objects
    snapshot, why = read_snapshot(registry.root)
    if why:
        report.notes.append(why)
    refs_dir = registry.root / "refs"
    close_all()
    if refs_dir.exists():
        aside = registry.root / f"refs.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        os.rename(refs_dir, aside)
        report.moved_aside = str(aside)
    perms.mkdirs(refs_dir)
    wanted: dict[str, str] = {}
    for name, object_id in snapshot.items():
        if store.has(object_id):
            wanted[name] = object_id
        else:
            report.skipped_missing += 1
    report.from_snapshot = len(wanted)
    staged = _staged(wanted)
    for ref, object_id in version_records(store):
        if ref in wanted:
            continue
        wanted[ref] = object_id
        report.from_records += 1
        if f"stages/{ref}" not in staged:
            wanted[_stage_ref(ref)] = object_id
    registry.refs.create()
    with registry.refs.transaction("recovered by pacha fsck --recover-refs") as tx:
        for name in sorted(wanted):
            tx.create(name, wanted[name])
    return report
