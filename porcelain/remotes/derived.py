"""Derived indices after refs arrive from a remote: the reverse lineage index and run summaries.

A registration or a run updates them as it commits; a clone or a pull moves refs without
going through those paths, so `model used-by` and `run list` would not see what arrived
(they said "nothing recorded" and "no runs" after a clone). Both are rebuilt from the
records and refs, as `pacha reindex` does, once the local refs have moved.
"""

from __future__ import annotations

import pacha
from porcelain.core import Core
from porcelain.lineage.edges import reindex
from porcelain.runs.ops import reindex_runs


def refresh(plumbing: pacha.Registry) -> None:
    """Rebuild the derived indices from the records the refs name (all here: fetch brings them)."""
    core = Core(plumbing)
    reindex(core)
    reindex_runs(core)
