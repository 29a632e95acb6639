"""Deleting a version: its refs go, its objects and reflog stay (restore brings it back)."""

from __future__ import annotations

import porcelain.layout as layout
from porcelain.core import Core, RefUpdate
from porcelain.errors import CheckFailed
from porcelain.records import commit_subject
from porcelain.resolve import resolve
from porcelain.results import Version
from porcelain.stages.rules import PRODUCTION
from porcelain.wording import say


def delete(
    core: Core, kind: str, reference: str, *, version: str | None = None, force: bool = False, why: str = ""
) -> Version:
    """Remove a version's refs; its objects and reflog stay, so nothing is erased.

    The version must be explicit (not a bare NAME); restore brings it back.
    Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
    (with version) or a record id or unique prefix. version: the version, if reference is a bare NAME.
    force: also delete a version in production. why: the reason, kept in the reflog.
    Returns the version as it was before deletion.
    Raises NotFound for an unknown version; CheckFailed for a production version without force, or
    when a pre-commit hook refuses.
    """
    found = resolve(core, kind, reference, version, change=True)
    if found.stage == PRODUCTION and not force:
        raise CheckFailed(
            f"{found.ref} is in production; pass {say('--force', 'force=True')} to delete it anyway"
        )
    subject = commit_subject(
        kind, found.name, found.version, found.record_id, found.record, stage=found.stage
    )
    plan = [RefUpdate("delete", layout.version_ref(kind, found.name, found.version), None, found.record_id)]
    if kind in layout.STAGED:
        stage_ref = layout.stage_ref(kind, found.name, found.stage, found.version)
        plan.append(RefUpdate("delete", stage_ref, None, found.record_id))
    core.commit("delete", why or f"delete {found.ref}", plan, subject)
    return found
