"""Retention: keep the newest versions of each name, expire the rest (`pacha gc --keep-last N`)."""

from __future__ import annotations

import porcelain.layout as layout
from porcelain.core import Core, RefUpdate
from porcelain.errors import InvalidInput
from porcelain.records import commit_subject
from porcelain.resolve import resolve
from porcelain.results import Version
from porcelain.stages import rules as stages
from porcelain.wording import say

PROTECTED_STAGES = frozenset({stages.STAGING, stages.PRODUCTION})


def beyond_keep_last(core: Core, keep_last: int) -> list[Version]:
    """Versions older than the newest keep_last of their name, except those in staging or production.

    Recipes count too; runs are kept (they are records of what happened, and small).
    Args: keep_last: how many versions of each name to keep (at least 1).
    Returns the versions that retention would expire (see expire_versions).
    Raises InvalidInput if keep_last is below 1.
    """
    if keep_last < 1:
        raise InvalidInput(
            f"{say('--keep-last ', 'keep_last=')}{keep_last}: keep at least 1 version of each name"
        )
    out = []
    for kind in layout.KINDS:
        for name in core.names(kind):
            older = core.versions_of(kind, name)[:-keep_last]
            for version in older:
                found = resolve(core, kind, f"{name}:{version}")
                if found.stage not in PROTECTED_STAGES:
                    out.append(found)
    return out


def expire_versions(core: Core, found: list[Version], why: str) -> None:
    """Delete these versions so that their history stops keeping their objects alive.

    Their reflog entries stay (the audit trail says who removed them, when and why); objects that a
    kept version still links (a parent in its lineage) stay stored.
    Args: found: versions from beyond_keep_last. why: the reason, kept in the reflog.
    Raises CheckFailed if a version changed meanwhile (compare-and-swap) or a hook refuses.
    """
    for version in found:
        plan = [
            RefUpdate(
                "expire",
                layout.version_ref(version.kind, version.name, version.version),
                None,
                version.record_id,
            )
        ]
        if version.kind in layout.STAGED:
            stage_ref = layout.stage_ref(version.kind, version.name, version.stage, version.version)
            plan.append(RefUpdate("expire", stage_ref, None, version.record_id))
        subject = commit_subject(
            version.kind,
            version.name,
            version.version,
            version.record_id,
            version.record,
            stage=version.stage,
        )
        core.commit("expire", why, plan, subject)
