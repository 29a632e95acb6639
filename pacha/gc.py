"""Garbage collection: remove objects that nothing can reach any more.

Reachable = every object named by a ref or by any reflog entry (old or new; the
reflog is the audit trail, so what it names is kept), and everything those link
to (tree entries, record links), transitively. An unreachable object is removed
only when it is older than the grace period (default two weeks, as Git): a
registration in progress writes its objects before it moves the ref that makes
them reachable, and a write that reuses an existing object refreshes its time
(LooseStore.freshen), so neither is lost. Temp files of interrupted writes older
than the grace period go too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pacha import codec
from pacha import objects as kinds
from pacha.errors import CheckFailed, ObjectNotFound, PachaError
from pacha.ids import ZERO_ID

if TYPE_CHECKING:
    from pacha.registry import Registry

DEFAULT_GRACE_S = 14 * 24 * 3600
STORAGE_LINKING = frozenset({codec.CHUNKS, codec.DELTA})


@dataclass
class GcReport:
    objects: int = 0
    reachable: int = 0
    removed: list[str] = field(default_factory=list)
    kept_young: int = 0
    freed_bytes: int = 0
    temp_removed: int = 0


def roots(registry: Registry) -> set[str]:
    out = {object_id for _, object_id in registry.refs.iter()}
    for entry in registry.refs.reflog_all():
        out.update(i for i in (entry.old, entry.new) if i != ZERO_ID)
    return out


def reachable(registry: Registry, start: set[str]) -> set[str]:
    """start and everything it links to; missing objects are skipped (fsck reports them)."""
    store = registry.objects
    seen: set[str] = set()
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
) -> GcReport:
    """Remove unreachable objects last written before prune_before (a Unix time)."""
    with registry.collecting():  # no commit is between writing objects and naming them
        return _collect(registry, prune_before, dry_run, on_remove)


def _collect(
    registry: Registry,
    prune_before: float | None,
    dry_run: bool,
    on_remove: Callable[[str], None] | None,
) -> GcReport:
    cutoff = time.time() - DEFAULT_GRACE_S if prune_before is None else prune_before
    loose = registry.objects.loose
    report = GcReport()
    candidates = list(loose.iter_ids())  # listed before the roots are read: see module docstring
    report.objects = len(candidates)
    keep = reachable(registry, roots(registry))
    report.reachable = len(keep)
    for object_id in candidates:
        if object_id in keep:
            continue
        try:
            if loose.mtime(object_id) >= cutoff:
                report.kept_young += 1
                continue
            if not dry_run:
                report.freed_bytes += loose.remove(object_id)
        except FileNotFoundError:
            continue
        report.removed.append(object_id)
        if on_remove:
            on_remove(object_id)
    if loose.tmp_dir.is_dir():
        for entry in os.scandir(loose.tmp_dir):
            try:  # a writer may rename its temp file away at any moment
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    if not dry_run:
                        os.unlink(entry.path)
                    report.temp_removed += 1
            except FileNotFoundError:
                continue
    return report
