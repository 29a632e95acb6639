"""Which reflog entries travel with a change of refs: the audit trail, one entry per change.

A push moves remote refs from the values the remote holds to this registry's; a pull moves
local refs to the values a fetch brought. Either way the side that moved them has, in its
reflog, every change made in between — promote to staging, then to production: two changes,
each with its own who, time and message — and those entries travel with the move instead of
one "push" or "pull" entry. For each moved ref: the entries from the last one leaving the old
value to the end (the ref's reflog must end at the new value), none if the old value is not in
the reflog (then the caller writes one plain entry). Refs that changed in the same
transactions and came back to the value the other side holds (the staging ref of the example:
created, then deleted) travel too, so that each transaction arrives whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from pacha.ids import ZERO_ID
from pacha.refs.store import ReflogEntry
from pacha.refs.transaction import Recorded

if TYPE_CHECKING:
    from pacha.registry import Registry


class Move(NamedTuple):
    """A ref going from old to new on the receiving side (None: absent)."""

    name: str
    old: str | None
    new: str | None


def chain(entries: Sequence[ReflogEntry], old: str | None, new: str | None) -> list[ReflogEntry]:
    """The entries (of one ref, oldest first) that took it from old to new; [] if none do."""
    start, end = old or ZERO_ID, new or ZERO_ID
    if not entries or entries[-1].new != end:
        return []
    for i in range(len(entries) - 1, -1, -1):
        if entries[i].old == start:
            return list(entries[i:])
    return []


def family(name: str) -> str:
    """The prefix under which the refs changed together with name are looked for: the name
    without its last two parts (stages/model/NAME/ for a stage ref, models/ for a version)."""
    parts = name.split("/")
    return "/".join(parts[:-2]) + "/" if len(parts) > 2 else ""


def carried(
    reflog: Callable[[str], list[ReflogEntry]],
    reflog_all: Callable[[str], list[ReflogEntry]],
    moves: Iterable[Move],
    there: Callable[[str], str | None],
    source_name: Callable[[str], str] = str,
) -> dict[str, list[ReflogEntry]]:
    """ref name -> the source's entries to carry for it (see module doc), in the source's order.

    reflog(source ref) / reflog_all(source prefix): the source's reflog. there(ref): the value the
    receiving side holds (for refs that are not moved). source_name(ref): the source's name of a
    ref (remotes/<r>/<ref> when the source is a remote-tracking ref). Moved refs with no entries
    from their old value are left out (the caller writes one plain entry for them)."""
    moves = list(moves)
    out: dict[str, list[ReflogEntry]] = {}
    for move in moves:
        found = chain(reflog(source_name(move.name)), move.old, move.new)
        if found:
            out[move.name] = found
    txns = {e.txn for entries in out.values() for e in entries if e.txn}
    if not txns:
        return out
    moved = {m.name for m in moves}
    prefixes = {source_name(family(m.name)) for m in moves}
    strip = len(source_name(""))
    for prefix in sorted(prefixes):
        by_ref: dict[str, list[ReflogEntry]] = {}
        for entry in reflog_all(prefix):
            if entry.txn in txns and entry.name[strip:] not in moved:
                by_ref.setdefault(entry.name[strip:], []).append(entry)
        for name, entries in by_ref.items():
            if _round_trip(entries, there(name)):
                out[name] = entries
    return out


def _round_trip(entries: Sequence[ReflogEntry], value: str | None) -> bool:
    """Do entries start and end at value, each starting where the previous ended?"""
    at = value or ZERO_ID
    for entry in entries:
        if entry.old != at:
            return False
        at = entry.new
    return at == (value or ZERO_ID)


def recorded(entries: Sequence[ReflogEntry]) -> tuple[Recorded, ...]:
    """The entries as a history to replay (RefTransaction.replay): their who, message, the time
    they were made, grouped by the source's transaction number (which orders them)."""
    return tuple(Recorded(e.old, e.new, e.who, e.made_at, e.message, e.txn) for e in entries)


def ordered(found: dict[str, list[ReflogEntry]]) -> list[ReflogEntry]:
    """Every carried entry, in the order the source wrote them."""
    return sorted((e for entries in found.values() for e in entries), key=ReflogEntry.order)


class Replay(NamedTuple):
    """A local ref move with the history to replay for it (RefTransaction.replay)."""

    name: str
    old: str | None
    new: str | None
    history: tuple[Recorded, ...]


def pull_history(registry: Registry, remote_name: str, moves: Iterable[Move]) -> list[Replay]:
    """The local moves of a pull or clone (ref to the remote-tracking value) with the changes that
    took the remote-tracking ref there, as fetched (each with the who, time and message of the
    machine that made it), plus the refs those changes moved and brought back: a pull makes the
    local reflog tell what happened where the change was made, not "pull"."""
    moves = list(moves)
    prefix = f"remotes/{remote_name}/"
    refs = registry.refs
    found = carried(refs.reflog, refs.reflog_all, moves, refs.get, lambda name: prefix + name)
    out = [Replay(m.name, m.old, m.new, recorded(found.get(m.name, ()))) for m in moves]
    moved = {m.name for m in moves}
    for name, entries in found.items():
        if name not in moved:
            value = refs.get(name)
            out.append(Replay(name, value, value, recorded(entries)))
    return out
