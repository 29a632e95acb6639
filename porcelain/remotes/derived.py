"""Derived indices after refs arrive from a remote: the reverse lineage index and run summaries.

A registration or a run updates them in the transaction that moves its refs; a clone or a
pull moves refs without going through those paths, so `model used-by` and `run list` would
not see what arrived (they said "nothing recorded" and "no runs" after a clone). The entries
of the records that arrive are added to the very transaction that moves the local refs
(`add_entries`), as a registration does: the cost of a pull follows what it brings, not the
size of the registry (before, both indices were rebuilt from every record after each pull or
clone: `pacha reindex`'s work, ~0.09 ms of CPU a version each time; measured by
scripts/bench_pull_growth.py). Being in that transaction, the entries land with the refs or
not at all (a kill leaves nothing to repair), and two pulls at once are serialised by the ref
database like any two writers.

Like a registration, this only adds: an entry naming a record that no ref names any more is
harmless (`children_of` checks each child against its record, as it does after a local
`model delete`), and `pacha reindex` rebuilds both from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable

import pacha
import porcelain.layout as layout
from pacha.refs.transaction import RefTransaction
from porcelain.core import Core
from porcelain.lineage.graph import INDEX, parents_of, read_edge
from porcelain.remotes.refsync import Move
from porcelain.runs.lookup import run_record
from porcelain.runs.records import SUMMARY_MAP, summary_key, summary_value

_VERSION_TOPS = frozenset(layout.KINDS.values())  # models/, datasets/, recipes/: what reindex walks
_LINEAGE_TOP = "lineage"  # lineage/<plural>/NAME/VER/<h>: an edge added after the fact
_RUNS_TOP = "runs"


def add_entries(tx: RefTransaction, plumbing: pacha.Registry, moves: Iterable[Move]) -> int:
    """Add to tx the derived-index entries of every record a move brings: the reverse lineage
    edges of a version record (its parents, card pins and the edges recorded for it) or of a
    lineage-edge record, and the summary of a run record. Returns the number of entries.

    Raises what reading a record raises (ObjectNotFound, InvalidInput): then tx is not
    committed and no ref moves, as a full reindex would have failed after they moved."""
    core = Core(plumbing)
    count = 0
    for move in moves:
        if move.new is None:
            continue  # a deletion adds nothing (entries of a removed record are harmless)
        top = move.ref.partition("/")[0]
        if top in _VERSION_TOPS:
            for edge in parents_of(core, move.new):
                tx.index_add(INDEX, bytes.fromhex(edge.parent), bytes.fromhex(move.new))
                count += 1
        elif top == _LINEAGE_TOP:
            doc = read_edge(core, move.new)
            tx.index_add(INDEX, bytes.fromhex(doc["parent"]), bytes.fromhex(doc["child"]))
            count += 1
        elif top == _RUNS_TOP:
            record = run_record(core, move.new)
            tx.map_set(SUMMARY_MAP, summary_key(record), summary_value(record, move.new))
            count += 1
    return count
