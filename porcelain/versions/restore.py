"""Bringing back a deleted or expired version from the reflog (`pacha model restore NAME:VER`).

`delete` and `gc --keep-last` remove a version's refs and keep its reflog: the
deletion entry names the record the version ref held. Restoring re-creates that
version ref, in one ref transaction, provided the record and everything it links
(artifact, tree entries, chunks, delta bases, parents) are still stored; once gc
has pruned them the version cannot come back and the error says so.

A restored version starts again in development, whatever stage it was in when it
went: a stage is a decision made about a version at a time (production most of
all, where another version may have been promoted since), so it is made again with
`pacha model stage`. The stage it had is reported (and stays in `history`).
"""

from __future__ import annotations

import pacha
import porcelain.layout as layout
import porcelain.semver as versions
from pacha.errors import a
from pacha.objects import links
from porcelain.core import Core, RefUpdate
from porcelain.errors import CheckFailed, InvalidInput, NotFound
from porcelain.names import check_name
from porcelain.records import commit_subject
from porcelain.references import parse_reference
from porcelain.resolve import Gone, gone, kind_cli, resolve
from porcelain.results import Version
from porcelain.stages import rules as stages
from porcelain.wording import list_hint, say


def missing_objects(store: pacha.ObjectStore, root: str, limit: int = 5) -> list[str]:
    """Up to limit ids that root's closure needs and the store no longer has.

    Only presence is checked (trees and records are read to follow their links, blobs
    are not read): `pacha verify` re-hashes everything when that is wanted.
    """
    seen: set[str] = set()
    frontier = [root]
    missing: list[str] = []
    while frontier and len(missing) < limit:
        current = frontier.pop()
        if current in seen:
            continue
        seen.add(current)
        if not store.has(current):
            missing.append(current)
            continue
        nxt = list(store.storage_links(current))
        with store.open(current) as reader:
            if reader.kind != "blob":
                nxt += links(reader.kind, reader.read())
        frontier.extend(i for i in nxt if i not in seen)
    return missing


def restore(
    core: Core, kind: str, reference: str, *, version: str | None = None, why: str = ""
) -> tuple[Version, Gone]:
    """Re-register the deleted or expired name:version (in development) from the reflog.

    Args: kind: "model", "dataset" or "recipe". reference: NAME:VER (or NAME with version), or the
    record id the version had. version: the version, if reference is a bare NAME. why: the reason,
    kept in the reflog.
    Returns the restored version and what the reflog said about its deletion.
    Raises InvalidInput (no explicit version), NotFound (never registered, or its objects were removed
    by gc), CheckFailed (it is registered now).
    """
    name, ver = _restore_target(core, kind, reference, version)
    what = gone(core, kind, name, ver)
    ref = layout.version_ref(kind, name, ver)
    current = core.plumbing.refs.get(ref)
    if current is not None:
        raise CheckFailed(f"{kind} {name}:{ver} is registered (record {current[:12]}); nothing to restore")
    if what is None:
        raise NotFound(f"{kind} {name}:{ver} was never registered here; {list_hint(kind)} shows what exists")
    missing = missing_objects(core.plumbing.objects, what.record_id)
    if missing:
        raise NotFound(
            f"{kind} {name}:{ver} cannot be restored: gc removed its objects "
            f"(missing {', '.join(m[:12] for m in missing)}); {what.describe()}"
        )
    record = core.read_record(what.record_id)
    plan = [RefUpdate("create", ref, what.record_id, None)]
    if kind in layout.STAGED:
        plan.append(
            RefUpdate("create", layout.stage_ref(kind, name, stages.INITIAL, ver), what.record_id, None)
        )
    subject = commit_subject(kind, name, ver, what.record_id, record, stage=stages.INITIAL)
    subject["restored"] = {"deleted_ns": what.entry.when_ns, "stage": what.stage, "expired": what.expired}
    core.commit("restore", why or f"restore {name}:{ver}", plan, subject)
    return resolve(core, kind, f"{name}:{ver}"), what


def _restore_target(core: Core, kind: str, reference: str, version: str | None) -> tuple[str, str]:
    ref = parse_reference(reference, version)
    if ref.object_id is not None and (ref.name is None or not _named(core, kind, ref.name)):
        record = core.read_record(core.plumbing.objects.find_prefix(ref.object_id))
        if record.type != layout.RECORD_TYPES[kind]:
            raise InvalidInput(f"{reference} is {a(record.type)} record, not a {kind} version")
        return record.name, record.version
    if ref.stage is not None or ref.version in (None, "latest"):
        raise InvalidInput(
            f"restore needs the version that was deleted: {ref.name}:VERSION or "
            + say(
                f"-v VERSION (`pacha {kind_cli(kind)} history {ref.name}` lists deletions)",
                f'version="VERSION" (history("{kind}", "{ref.name}") lists deletions)',
            )
        )
    return check_name(ref.name or ""), versions.check(ref.version or "")


def _named(core: Core, kind: str, name: str) -> bool:
    """Has name any version, registered now or in the reflog?"""
    return bool(core.plumbing.refs.reflog_all(layout.versions_prefix(kind, name)))
