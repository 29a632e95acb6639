"""Retention: keep the newest versions of each name, expire the rest (`pacha gc --keep-last N`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import porcelain.layout as layout
from porcelain.errors import InvalidInput
from porcelain.records import commit_subject
from porcelain.stages import rules as stages

if TYPE_CHECKING:
    from porcelain.results import Version

PROTECTED_STAGES = frozenset({stages.STAGING, stages.PRODUCTION})


class RetentionMixin:
    """Registry methods that choose and expire old versions."""

    def beyond_keep_last(self, keep_last: int) -> list[Version]:
        """Versions older than the newest keep_last of their name, except those in staging or production.

        Recipes count too; runs are kept (they are records of what happened, and small).
        Args: keep_last: how many versions of each name to keep (at least 1).
        Returns the versions that retention would expire (see expire_versions).
        Raises InvalidInput if keep_last is below 1.
        """
        if keep_last < 1:
            from porcelain.wording import say

            raise InvalidInput(
                f"{say('--keep-last', 'keep_last=')}{keep_last}: keep at least 1 version of each name"
            )
        out = []
        for kind in layout.KINDS:
            for name in self.names(kind):  # type: ignore[attr-defined]
                older = self.versions_of(kind, name)[:-keep_last]  # type: ignore[attr-defined]
                for version in older:
                    found = self.get(kind, f"{name}:{version}")  # type: ignore[attr-defined]
                    if found.stage not in PROTECTED_STAGES:
                        out.append(found)
        return out

    def expire_versions(self, found: list[Version], why: str) -> None:
        """Delete these versions so that their history stops keeping their objects alive.

        Their reflog entries stay (the audit trail says who removed them, when and why); objects that a
        kept version still links (a parent in its lineage) stay stored.
        Args: found: versions from beyond_keep_last. why: the reason, kept in the reflog.
        Raises CheckFailed if a version changed meanwhile (compare-and-swap) or a hook refuses.
        """
        for version in found:
            plan = [
                (
                    "expire",
                    layout.version_ref(version.kind, version.name, version.version),
                    None,
                    version.record_id,
                )
            ]
            if version.kind in layout.STAGED:
                stage_ref = layout.stage_ref(version.kind, version.name, version.stage, version.version)
                plan.append(("expire", stage_ref, None, version.record_id))
            subject = commit_subject(
                version.kind,
                version.name,
                version.version,
                version.record_id,
                version.record,
                stage=version.stage,
            )
            self._commit("expire", why, plan, subject)  # type: ignore[attr-defined]
