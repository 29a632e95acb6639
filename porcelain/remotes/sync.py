"""push, fetch and pull between a registry and one of its remotes (a Python API first).

Objects always travel before refs: a push sends the closure of what it names that the
remote lacks and then moves the remote's ref table by compare-and-swap; a pull installs
verified objects and then moves the local refs in one transaction. A refusal anywhere
leaves both sides as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pacha
from pacha.crash import crash_point
from pacha.errors import RefConflict, RefNotFound
from pacha.ids import ZERO_ID
from pacha.refs.store import iso_time
from pacha.transport import keyring_sync
from porcelain.errors import CheckFailed, NotFound
from porcelain.locking import maintain
from porcelain.policies.incoming import require_policy
from porcelain.remotes import base, derived, refsync, rules, wire
from porcelain.remotes.keyring_report import reports_keyring
from porcelain.remotes.progress import Progress
from porcelain.remotes.settings import RemoteSettings, get_remote
from porcelain.signatures.incoming import require_signed


@dataclass
class SyncReport:
    """What a push, fetch or pull did (the --json output)."""

    remote: str
    url: str
    moved: list[refsync.Move] = field(default_factory=list)
    objects: int = 0  # objects transferred
    bytes: int = 0  # bytes transferred
    up_to_date: bool = False
    keyring: list[dict[str, Any]] = field(default_factory=list)  # key slot changes (keyring_report)

    def as_dict(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "url": self.url,
            "up_to_date": self.up_to_date,
            "objects": self.objects,
            "bytes": self.bytes,
            "refs": [{"ref": m.ref, "old": m.old or ZERO_ID, "new": m.new or ZERO_ID} for m in self.moved],
            "keyring": self.keyring,
        }


def _count(report: SyncReport, result: Any) -> None:
    """Add a transport result's counters (objects, bytes) to report."""
    report.objects += int(getattr(result, "objects", getattr(result, "objects_sent", 0)) or 0)
    report.bytes += int(getattr(result, "bytes", getattr(result, "bytes_sent", 0)) or 0)


def tracking(plumbing: pacha.Registry, remote: str) -> dict[str, str]:
    """The remote as the last fetch saw it: {ref: id} without the remotes/<remote>/ prefix."""
    prefix = refsync.tracking_prefix(remote)
    return {ref[len(prefix) :]: oid for ref, oid in plumbing.refs.iter(prefix)}


def local(plumbing: pacha.Registry) -> dict[str, str]:
    return refsync.local_table(plumbing.refs.iter())


@reports_keyring
def fetch(plumbing: pacha.Registry, name: str | None = None, *, progress: bool = True) -> SyncReport:
    """Update the remote-tracking refs remotes/<remote>/… and their reflog from the remote, and
    bring the records they name (versions, cards, lineage, runs; not the artifacts' bytes)."""
    settings = get_remote(plumbing, name)
    _require_there(settings)
    remote = wire.connect(settings)
    before = tracking(plumbing, settings.name)
    with Progress(f"fetching records from {settings.name}", enabled=progress) as bar:
        records = wire.fetch(plumbing, remote, settings.name, bar)
    after = tracking(plumbing, settings.name)
    report = SyncReport(settings.name, settings.url)
    _count(report, records)
    report.moved = [
        refsync.Move(ref, before.get(ref), after.get(ref))
        for ref in sorted(set(before) | set(after))
        if before.get(ref) != after.get(ref)
    ]
    report.up_to_date = not report.moved
    return report


def _require_there(settings: RemoteSettings) -> None:
    """fetch and pull: a directory remote that does not exist is a typo or was never pushed to."""
    missing = wire.check_url(settings.url, settings.endpoint_url)
    if missing is not None:
        raise NotFound(
            f"remote {settings.name}: {missing} does not exist (nothing was pushed there yet): check the "
            f"path with `pacha remote list`"
        )


@reports_keyring
def push(
    plumbing: pacha.Registry,
    name: str | None = None,
    wanted: Sequence[str] = (),
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Send the objects of the refs named (default: every ref) and move them on the remote.

    Sends the refs changed here since this registry and the remote last agreed (base.py); the
    compare-and-swap expects each remote ref still at that agreed value: a ref someone else
    moved since is refused (RemoteRefMoved names who) unless force; the stage rules
    (rules.StageRules) are checked on the table about to be written and hold even with force.
    """
    settings = get_remote(plumbing, name)
    wire.check_url(settings.url, settings.endpoint_url)  # not into a directory of other files
    remote = wire.connect(settings)
    mine, agreed = local(plumbing), base.read(plumbing, settings.name)
    tracked = tracking(plumbing, settings.name)
    names = refsync.select([mine, agreed], wanted) if wanted else set(mine) | set(agreed)
    for text in wanted:  # NAME:VER / NAME@STAGE push the whole name: that version must be here
        if text not in mine and ("@" in text or ":" in text) and not refsync.resolve_version(mine, text):
            raise NotFound(f"{text!r} names no version here; `pacha model list` shows what is registered")
    moves = refsync.push_moves(mine, agreed, names)
    there = {m.ref: m.new for m in moves if tracked.get(m.ref) == m.new}  # an earlier push got there
    base.save(plumbing, settings.name, there, f"push {settings.name}: already there")
    moves = [m for m in moves if m.ref not in there]
    report = SyncReport(settings.name, settings.url, up_to_date=not moves)
    if not moves:
        keyring_sync.sync(plumbing, remote, push=True)  # key slot changes travel without refs too
        return report
    touched = rules.touched_names(m.ref for m in moves)
    if force:  # overwrite the remote's stages of these names as they are now, not as last fetched
        moves = refsync.force_moves(mine, dict(remote.read_refs().refs), moves, touched)
    check = rules.StageRules(
        touched,
        refsync.production_of(mine, touched),
        settings.name,
        moved_by=_moved_by(remote),
    )
    message = "; ".join(_local_messages(plumbing, moves)) or f"push to {settings.name}: {len(moves)} ref(s)"
    try:
        result = wire.push(
            plumbing, remote, moves, force=force, check=check, message=message, progress=progress
        )
    except wire.RemoteRefMoved as exc:
        forced_ok = _force_would_pass(remote, mine, moves, touched, check)
        raise _not_fast_forward(remote, settings.name, exc, forced_ok) from None
    _count(report, result)  # transport moved the tracking refs remotes/<remote>/… with the push
    base.save(plumbing, settings.name, {m.ref: m.new for m in moves}, f"push {settings.name}")
    report.moved = moves
    return report


def _force_would_pass(
    remote: wire.Remote,
    mine: dict[str, str],
    moves: list[refsync.Move],
    touched: set[tuple[str, str]],
    check: rules.StageRules,
) -> bool:
    """Whether `push --force` would be accepted now: the stage rules on the table it would write
    (a colleague's production promotion is never overwritten, so then only a pull resolves it)."""
    table = dict(remote.read_refs().refs)
    for move in refsync.force_moves(mine, table, moves, touched):
        if move.new is None:
            table.pop(move.ref, None)
        else:
            table[move.ref] = move.new
    try:
        check(table)
    except rules.StageRuleBroken:
        return False
    return True


def _not_fast_forward(
    remote: wire.Remote, name: str, exc: wire.RemoteRefMoved, forced_ok: bool
) -> wire.RemoteRefMoved:
    """The transport's refusal, said for a person: who moved the ref and the ways out that work."""
    change = wire.last_change(remote, exc.name)
    by = (
        f" by {change[0]} at {iso_time(change[1])}" + (f" ({change[2]})" if change[2] else "")
        if change
        else ""
    )
    kind_name = rules.name_of(exc.name)
    look = f"`pacha fetch {name}`"
    if kind_name is not None:
        look += f" and `pacha {rules.cli_group(kind_name[0])} history {kind_name[1]} --remote {name}`"
    return wire.RemoteRefMoved(
        f"push refused: {exc.name} was changed on {name}{by} since this registry last synced with it "
        f"(not a fast-forward); see what changed with {look}; "
        + (f"keep yours with `pacha push {name} --force`, or take" if forced_ok else "take")
        + f" {name}'s with `pacha pull {name} --force`"
        + ("" if forced_ok else " (yours would leave two versions in production), then promote again")
        + f"; nothing was changed on {name}",
        exc.name,
        exc.who,
        exc.when_ns,
    )


MESSAGE_LIMIT = 1000  # characters of the remote trail's message of one push


def _local_messages(plumbing: pacha.Registry, moves: Sequence[refsync.Move]) -> list[str]:
    """Why the refs moved here since the remote last saw them: the local reflog's messages, in order.

    The remote's audit trail records one entry per ref per push; its message carries these, so
    `model history --remote` says why a version was promoted, not only that it was pushed."""
    seen: dict[str, None] = {}
    for move in moves:
        entries = plumbing.refs.reflog(move.ref)
        start = 0
        for i, entry in enumerate(entries):
            if move.old is not None and entry.new == move.old:
                start = i + 1
        for entry in entries[start:]:
            if entry.message:
                seen.setdefault(entry.message, None)
    text = "; ".join(seen)
    return [text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."] if seen else []


def _moved_by(remote: wire.Remote) -> Any:
    """ref -> ' (by WHO at TIME)' from the remote's audit trail (read only when a rule refuses)."""

    def describe(ref: str) -> str:
        change = wire.last_change(remote, ref)
        return f" (by {change[0]} at {iso_time(change[1])})" if change else ""

    return describe


@reports_keyring
def pull(
    plumbing: pacha.Registry,
    name: str | None = None,
    wanted: Sequence[str] = (),
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Fetch, then bring the named refs (default: all) to the remote's values with their objects.

    NAME@STAGE / NAME:VER download only that version's closure (and move its refs and the
    stage refs of the versions of that name already here). In lazy mode (remote.<name>.lazy)
    a pull without references moves refs only: objects come when used.
    """
    settings = get_remote(plumbing, name)
    _require_there(settings)
    remote = wire.connect(settings)
    for text in wanted:  # a malformed REF is refused before anything is fetched
        if "/" not in text:
            refsync.check_reference(text)
    before = base.read(plumbing, settings.name)
    if progress is not None:
        progress.phase(f"fetching records from {settings.name}")
    records = wire.fetch(plumbing, remote, settings.name, progress)
    after, mine = tracking(plumbing, settings.name), local(plumbing)
    names, roots = _pull_scope(mine, before, after, wanted, settings)
    names |= refsync.same_versions(mine, after, names)
    moves = refsync.pull_moves(mine, before, after, names, settings.name, force)
    _check_result(mine, after, moves, settings.name)
    agreed = {ref: after.get(ref) for ref in names if _after_pull(mine, moves, ref) == after.get(ref)}
    if not wanted and not settings.lazy:
        roots = {m.new for m in moves if m.new is not None}
    report = SyncReport(settings.name, settings.url, up_to_date=not moves)
    _count(report, records)
    with plumbing.writing():  # gc cannot collect what arrives before the refs name it
        if roots:
            if progress is not None:
                progress.phase(f"pulling from {settings.name}")
            _count(report, wire.fetch_objects(plumbing, remote, sorted(roots), progress))
        fetch_missing = functools.partial(wire.fetch_objects, plumbing, remote, progress=None)
        require_signed(plumbing, moves, settings.name, fetch_missing)  # policy.require_signed
        require_policy(plumbing, moves, settings.name, fetch_missing)  # verify.policy
        message = f"pull {settings.name}: {len(moves)} ref(s)"
        apply_local(plumbing, moves, message, lazy=settings.lazy, remote=settings.name, agreed=agreed)
        crash_point("pull-refs-moved")
        maintain(plumbing)  # the packs that arrived: into the multi-pack index, as a registration does
    report.moved = moves
    return report


def _after_pull(mine: dict[str, str], moves: Sequence[refsync.Move], ref: str) -> str | None:
    for move in moves:
        if move.ref == ref:
            return move.new
    return mine.get(ref)


def _check_result(
    mine: dict[str, str], after: dict[str, str], moves: Sequence[refsync.Move], remote: str
) -> None:
    """The stage rules on the local refs the pull would leave (StageRuleBroken: nothing moves)."""
    result = dict(mine)
    for move in moves:
        if move.new is None:
            result.pop(move.ref, None)
        else:
            result[move.ref] = move.new
    touched = rules.touched_names(m.ref for m in moves)
    rules.StageRules(touched, refsync.production_of(after, touched), remote, pulling=True)(result)


def _pull_scope(
    mine: dict[str, str],
    before: dict[str, str],
    after: dict[str, str],
    wanted: Sequence[str],
    settings: RemoteSettings,
) -> tuple[set[str], set[str]]:
    """(ref names to move, object roots to download) for what the user asked."""
    if not wanted:
        return set(after) | (set(before) & set(mine)), set()
    names: set[str] = set()
    roots: set[str] = set()
    for text in wanted:
        if "/" in text and (text in after or text.endswith("/")):
            found = refsync.select([after], [text])
            names |= found
            roots |= {after[r] for r in found if r in after}
            continue
        refsync.check_reference(text)
        versions = refsync.resolve_version(after, text)
        if not versions:
            raise NotFound(
                f"{text!r} names no version on {settings.name}; `pacha fetch` then `pacha model list`"
            )
        for want in versions:
            names |= refsync.version_scope(mine, after, want)
            roots.add(want.record_id)
    signatures = refsync.attached_refs([after], names)  # a version's signatures come with it
    roots |= {after[r] for r in signatures}
    return names | signatures, roots


def apply_local(
    plumbing: pacha.Registry,
    moves: Sequence[refsync.Move],
    message: str,
    *,
    lazy: bool = False,
    remote: str | None = None,
    agreed: dict[str, str | None] | None = None,
) -> None:
    """Move local refs in one transaction, each expected where it was read (else nothing moves),
    recording agreed as the sync base with remote (base.py) and the derived-index entries of
    the records the moves bring (derived.py) in the same transaction.

    lazy: the objects may be absent (a lazy registry fetches them when used), so the refs
    are written without the registry's "store it first" check."""
    if not moves and not agreed:
        return
    tx = plumbing.refs.transaction(message, plumbing.identity()) if lazy else plumbing.transaction(message)
    if remote is not None and agreed:
        base.record(tx, remote, agreed)
    if remote is not None:  # each change with its who, time and message where it was made
        for r in wire.replays(plumbing, remote, moves):
            tx.replay(r.name, r.new, r.old, r.history)
    for m in moves if remote is None else ():
        if m.new is None:
            tx.delete(m.ref, m.old)
        elif m.old is None:
            tx.create(m.ref, m.new)
        else:
            tx.update(m.ref, m.new, m.old)
    derived.add_entries(tx, plumbing, moves)  # with the refs, in their transaction (derived.py)
    try:
        tx.commit()
    except (RefConflict, RefNotFound) as exc:
        raise CheckFailed(
            f"another command changed the registry meanwhile ({exc}); nothing was changed: run it again"
        ) from None
