"""Lazy mode: a registry whose default remote has `lazy = true` (or was cloned with --lazy)
holds refs and only the objects it has used; `model download` and `verify` fetch the rest of
a version's closure from that remote first (each object verified on arrival by transport).
"""

from __future__ import annotations

from collections.abc import Iterable

import pacha
from pacha.gc import reachable
from porcelain import layout
from porcelain.errors import InvalidInput, NotFound
from porcelain.remotes import refsync, wire
from porcelain.remotes.progress import Progress
from porcelain.remotes.settings import RemoteSettings, get_remote


def lazy_remote(plumbing: pacha.Registry) -> RemoteSettings | None:
    """The default remote if it is lazy, else None."""
    try:
        settings = get_remote(plumbing, None)
    except NotFound:
        return None
    return settings if settings.lazy else None


def missing(plumbing: pacha.Registry, roots: Iterable[str]) -> list[str]:
    """Objects of the roots' closure that are not stored here (as far as the stored ones link)."""
    store = plumbing.objects
    return sorted(i for i in reachable(plumbing, set(roots)) if not store.has(i))


def ensure_local(
    plumbing: pacha.Registry,
    kind: str | None,
    reference: str,
    version: str | None = None,
    *,
    progress: bool = True,
) -> int:
    """Fetch what a reference's version lacks here from the lazy default remote, if there is one.

    Args: kind: "model", "dataset", "recipe" or None (any). reference: NAME:VER, NAME@STAGE,
    NAME (latest, or with version) or a full record id. version: the version for a bare NAME.
    Returns how many objects arrived (0 when not lazy, or nothing was missing). A reference
    these refs cannot resolve is left to the command itself to report.
    Raises the transport's errors (unreachable remote, a corrupt object: nothing installed).
    """
    settings = lazy_remote(plumbing)
    if settings is None:
        return 0
    text = f"{reference}:{version}" if version else reference
    table = refsync.local_table(plumbing.refs.iter())
    try:
        found = refsync.resolve_version(table, text, (kind,) if kind else tuple(layout.KINDS))
    except InvalidInput:
        return 0
    roots = [w.record_id for w in found]
    chosen = [layout.version_ref(w.kind, w.name, w.version) for w in found]
    roots += [table[ref] for ref in sorted(refsync.attached_refs([table], chosen))]  # signatures
    if not roots or not missing(plumbing, roots):
        return 0
    remote = wire.connect(settings)
    with plumbing.writing(), Progress(f"fetching from {settings.name}", enabled=progress) as bar:
        result = wire.fetch_objects(plumbing, remote, roots, bar)
    return int(getattr(result, "objects", 0) or 0)
