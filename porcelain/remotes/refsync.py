"""Which refs a push or pull moves: pure computations over {ref name: id} tables.

Three tables meet: the local refs, the remote-tracking refs (`remotes/<remote>/…`: the
remote as the last fetch saw it) and, for a pull, the remote's table now. A ref whose
local value equals its tracking value is in sync; a push sends the others (the tracking
value is the compare-and-swap's expected old value, so a ref someone else moved since
the last fetch is refused, never overwritten); a pull takes the remote's value where the
local one has not changed since the last fetch, and refuses where both changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import porcelain.layout as layout
import porcelain.semver as versions
from pacha.errors import UsageError
from pacha.ids import is_hex
from porcelain.errors import CheckFailed, InvalidInput, NotFound
from porcelain.names import check_name
from porcelain.references import Reference, parse_reference
from porcelain.remotes.rules import name_of
from porcelain.stages import rules as stages

TRACKING_ROOT = "remotes/"
ID_LEN = 64  # a full object id in hex (BLAKE3-256)


def tracking_prefix(remote: str) -> str:
    return f"{TRACKING_ROOT}{remote}/"


def local_table(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The registry's own refs (remote-tracking refs left out)."""
    return {ref: oid for ref, oid in pairs if not ref.startswith(TRACKING_ROOT)}


@dataclass(frozen=True)
class Move:
    """One ref change: old None = create, new None = delete."""

    ref: str
    old: str | None
    new: str | None


# --- selecting refs from what the user typed ----------------------------------------------
def _name_refs(table: Mapping[str, str], kind: str, name: str) -> set[str]:
    """Every version ref and stage ref of one name in table."""
    return {ref for ref in table if _belongs(ref, kind, name)}


def _belongs(ref: str, kind: str, name: str) -> bool:
    if kind in layout.STAGED:
        return name_of(ref) == (kind, name)
    prefix = layout.versions_prefix(kind, name)
    return ref.startswith(prefix) and "/" not in ref[len(prefix) :]


def select(tables: Iterable[Mapping[str, str]], wanted: Iterable[str]) -> set[str]:
    """Ref names that what the user typed names, in any of the tables.

    Each item is a ref name, a ref prefix ending in '/', or a NAME, NAME:VER or NAME@STAGE of a
    model, dataset or recipe (all of that name's versions and stage refs: a stage move touches
    several versions at once). NotFound names an item that matches nothing.
    """
    tables = list(tables)
    every = set().union(*(t.keys() for t in tables)) if tables else set()
    chosen: set[str] = set()
    for item in wanted:
        found = _select_one(every, item)
        if not found:
            raise NotFound(f"{item!r} names no ref here or on the remote, nor a remote (`pacha remote list`)")
        chosen |= found
    return chosen | attached_refs(tables, chosen)


ATTACHED = "attached/"  # attached/<record id>/…: a version's signatures (porcelain.signatures)


def attached_refs(tables: Iterable[Mapping[str, str]], chosen: Iterable[str]) -> set[str]:
    """The attachment refs (signatures) of the records the chosen refs name, in any table: they
    travel with the version, so a signed stage change arrives with its signature."""
    tables = list(tables)
    ids = {t[ref] for t in tables for ref in chosen if ref in t and not ref.startswith(ATTACHED)}
    return {
        ref
        for t in tables
        for ref in t
        if ref.startswith(ATTACHED) and ref[len(ATTACHED) :].partition("/")[0] in ids
    }


def check_reference(item: str) -> Reference:
    """A NAME, NAME:VER, NAME@STAGE or id as typed after push or pull: a malformed one is a usage
    error (exit 2: an empty name, a version that is not SemVer, an unknown stage)."""
    try:
        ref = parse_reference(item)
        if ref.name is not None and not (ref.implied and ref.object_id):
            check_name(ref.name)
        if ref.version is not None and ref.version != "latest":
            versions.check(ref.version)
    except UsageError:
        raise
    except InvalidInput as exc:
        raise UsageError(f"{item!r}: {exc}") from None
    return ref


def _select_one(every: set[str], item: str) -> set[str]:
    if item in every:
        return {item}
    if item.endswith("/"):
        return {ref for ref in every if ref.startswith(item)}
    name = item
    if ":" in item or "@" in item:
        name = check_reference(item).name or item
    table = dict.fromkeys(every, "")
    found: set[str] = set()
    for kind in layout.KINDS:
        found |= _name_refs(table, kind, name)
    return found


# --- push -----------------------------------------------------------------------------------
def push_moves(local: Mapping[str, str], tracked: Mapping[str, str], names: Iterable[str]) -> list[Move]:
    """The refs to move on the remote: (ref, expected old = tracking value, new = local value)."""
    return [
        Move(ref, tracked.get(ref), local.get(ref))
        for ref in sorted(names)
        if local.get(ref) != tracked.get(ref)
    ]


def force_moves(
    local: Mapping[str, str], tracked: Mapping[str, str], moves: list[Move], keys: set[tuple[str, str]]
) -> list[Move]:
    """A forced push overwrites the remote's stages of the names it touches (keys) with the local
    ones: moves, plus every stage ref of those names that differs between local and tracked (the
    remote as just fetched), so that no stage ref only the remote has is left beside them.
    A version the remote has in production is never taken out of it: the stage rules then refuse
    the push (two in production), as --force never overrides them."""
    planned = {m.ref for m in moves}
    kept = {_version_of(r) for r in tracked if _stage_of(r) == stages.PRODUCTION and r not in local}
    extra = [
        Move(ref, tracked.get(ref), local.get(ref))
        for ref in sorted(set(local) | set(tracked))
        if ref.startswith("stages/")
        and name_of(ref) in keys
        and ref not in planned
        and local.get(ref) != tracked.get(ref)
        and _version_of(ref) not in kept  # their production version: all its stage refs stay
    ]
    return moves + extra


def _stage_of(ref: str) -> str | None:
    key = name_of(ref)
    return layout.split_stage_ref(key[0], ref)[1] if key is not None and ref.startswith("stages/") else None


def _version_of(ref: str) -> tuple[str, str, str] | None:
    key = name_of(ref)
    if key is None or not ref.startswith("stages/"):
        return None
    return (key[0], key[1], layout.split_stage_ref(key[0], ref)[2])


def production_of(
    table: Mapping[str, str], keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """For each (kind, name): its versions in production in table."""
    out: dict[tuple[str, str], list[str]] = {}
    for kind, name in keys:
        prefix = layout.stages_prefix(kind, name, stages.PRODUCTION)
        out[(kind, name)] = versions.sort(
            ref[len(prefix) :] for ref in table if ref.startswith(prefix) and "/" not in ref[len(prefix) :]
        )
    return out


# --- pull -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    """A version asked for by NAME:VER / NAME@STAGE / NAME:latest on the remote."""

    kind: str
    name: str
    version: str
    record_id: str


def resolve_version(table: Mapping[str, str], text: str, kinds: Iterable[str] = layout.KINDS) -> list[Wanted]:
    """The versions a reference names in a ref table (refs only: no object is read).

    A full record id names whichever versions point at it. Returns every match (one per kind).
    """
    ref = parse_reference(text)
    oid = ref.object_id or ""
    by_id = len(oid) == ID_LEN and is_hex(oid)
    if ref.name is None and not by_id:
        raise InvalidInput(f"{text!r}: give NAME:VER, NAME@STAGE or a full record id")
    out = [w for kind in kinds for w in _versions_with(table, kind, oid)] if by_id else []
    if ref.name is None or out:
        return out
    for kind in kinds:
        version = _pick(table, kind, ref.name, ref.version, ref.stage)
        if version is not None:
            out.append(Wanted(kind, ref.name, version, table[layout.version_ref(kind, ref.name, version)]))
    return out


def _versions_with(table: Mapping[str, str], kind: str, oid: str) -> list[Wanted]:
    out = []
    for ref, value in table.items():
        if value == oid and ref.startswith(layout.plural(kind) + "/") and name_of(ref) is not None:
            name, version = layout.split_version_ref(kind, ref)
            out.append(Wanted(kind, name, version, oid))
    return out


def _pick(
    table: Mapping[str, str], kind: str, name: str, version: str | None, stage: str | None
) -> str | None:
    prefix = layout.versions_prefix(kind, name)
    known = [r[len(prefix) :] for r in table if r.startswith(prefix) and "/" not in r[len(prefix) :]]
    if stage is not None:
        if kind not in layout.STAGED:
            return None
        held = production_like(table, kind, name, stage)
        return held[-1] if held else None
    if version in (None, "latest"):
        return versions.latest(known)
    return version if version in known else None


def production_like(table: Mapping[str, str], kind: str, name: str, stage: str) -> list[str]:
    prefix = layout.stages_prefix(kind, name, stage)
    return versions.sort(
        r[len(prefix) :] for r in table if r.startswith(prefix) and "/" not in r[len(prefix) :]
    )


def same_versions(local: Mapping[str, str], remote: Mapping[str, str], names: Iterable[str]) -> set[str]:
    """Local stage refs of the versions names touch that the remote also has: with them in the
    pull, a version's stage here follows the remote's (a stage ref only here is moved too)."""
    keys = {name_of(ref) for ref in names} - {None}
    out = set()
    for ref in local:
        key = name_of(ref)
        if key in keys and ref.startswith("stages/") and key is not None:
            kind, name = key
            _, _, version = layout.split_stage_ref(kind, ref)
            if layout.version_ref(kind, name, version) in remote:
                out.add(ref)
    return out


def version_scope(local: Mapping[str, str], remote: Mapping[str, str], want: Wanted) -> set[str]:
    """The refs a pull of one version moves: that version's, and the stage refs of the versions
    of its name the local registry already has (so their stages follow the remote's, and
    production never ends up holding two)."""
    kind, name = want.kind, want.name
    prefix = layout.versions_prefix(kind, name)
    mine = {r[len(prefix) :] for r in local if r.startswith(prefix) and "/" not in r[len(prefix) :]}
    scope: set[str] = set()
    for version in mine | {want.version}:
        scope.add(layout.version_ref(kind, name, version))
        if kind in layout.STAGED:
            scope |= {layout.stage_ref(kind, name, s, version) for s in stages.STAGES}
    return {ref for ref in scope if ref in local or ref in remote}


def pull_moves(
    local: Mapping[str, str],
    before: Mapping[str, str],
    after: Mapping[str, str],
    names: Iterable[str],
    remote: str,
    force: bool = False,
) -> list[Move]:
    """Local ref changes that bring names to the remote's values (after).

    A ref the local registry changed since the last sync (local != before) and the remote
    changed too is a conflict: CheckFailed names it, unless force takes the remote's value.
    before is the sync base (base.py): the values both sides last agreed on.
    """
    moves, conflicts = [], []
    for ref in sorted(names):
        cur, base, target = local.get(ref), before.get(ref), after.get(ref)
        if cur == target or (target == base and not force):
            continue  # in sync, or only the local side changed it (push sends that)
        if cur != base and not force:
            conflicts.append(ref)
            continue
        moves.append(Move(ref, cur, target))
    if conflicts:
        more = f" and {len(conflicts) - 1} more" if len(conflicts) > 1 else ""
        # not a plain `pacha push`: it is refused as not a fast-forward for the same reason
        raise CheckFailed(
            f"pull refused: {conflicts[0]}{more} changed here and on {remote} since the two last agreed; "
            f"keep yours with `pacha push {remote} --force`, or take {remote}'s with "
            f"`pacha pull {remote} --force`; nothing was changed"
        )
    return moves
