"""push: objects first (what the remote lacks), refs last, moved by compare-and-swap.

1. Probe the store (conditional writes honoured, or unsafe_refs; a passed probe is
   remembered for a day, pacha.transport.known), write the format marker if the remote is new.
2. Read the ref table; work out the new table from the updates (refusing a ref that is not
   where the pusher expected: RemoteRefMoved, naming who moved it); run `check` on it.
3. Send the closure of the new ids that the remote lacks (pacha.transport.transfer); remember
   what it walked as held whole there (pacha.transport.known).
4. Upload a reflog segment and replace the table with If-Match (reftable.write). On 412
   (someone else pushed meanwhile): re-read, redo step 2 against the new table (the objects
   are there already) and try again. So a remote ref never names an object the remote lacks,
   and of two pushers racing for one ref exactly one wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pacha.crash import crash_point
from pacha.ids import ZERO_ID, check_id
from pacha.refs.names import check_ref_name
from pacha.transport import carry, known, local, reftable, sealed
from pacha.transport.backend import PreconditionFailed
from pacha.transport.errors import RemoteError, RemoteRefMoved
from pacha.transport.layout import Change, LogSegment, RemoteLogEntry, RemoteRefTable
from pacha.transport.progress import Meter, ProgressCallback
from pacha.transport.remote import Remote, cache_dir
from pacha.transport.transfer import plan_send, send

if TYPE_CHECKING:
    from pacha.registry import Registry

MAX_ATTEMPTS = 50  # compare-and-swap attempts before giving up (each lost to another pusher)


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()  # expected_old: accept whatever the remote holds


@dataclass(frozen=True)
class RefUpdate:
    """Point remote ref `name` at `new` (None: delete it), if it is at expected_old now
    (None: must not exist; UNKNOWN: whatever it is)."""

    name: str
    new: str | None
    expected_old: str | _Unknown | None = UNKNOWN


@dataclass
class PushResult:
    updated: list[RemoteLogEntry] = field(default_factory=list)
    objects_sent: int = 0
    bytes_sent: int = 0
    packs_sent: int = 0
    retries: int = 0


def push(
    registry: Registry,
    remote: Remote,
    updates: Sequence[RefUpdate],
    *,
    force: bool = False,
    check: Callable[[Mapping[str, str]], None] | None = None,
    who: str | None = None,
    message: str = "",
    progress: ProgressCallback | None = None,
) -> PushResult:
    """Send what the new ref values need, then move the remote refs atomically (see module doc)."""
    updates = [_checked(u) for u in updates]
    probed = _require_safe_refs(remote, registry)
    sealed.before_push(registry, remote)  # encrypted registries: sealed bodies, the keyring first
    remote.init()
    who = who if who is not None else registry.identity()
    table = remote.read_refs()
    refs, changes = _apply(remote, table, updates, force)
    if check is not None:
        check(dict(refs))
    result = PushResult()
    where = remote.refresh_objects(cache_dir(registry.root))
    roots = [u.new for u in updates if u.new is not None]
    whole = known.Whole(table.refs.values(), known.whole_objects(registry.root, remote), where)
    plan = plan_send(registry.objects, roots, where, complete=whole)
    sent = send(registry, remote, plan.send, Meter("send", progress))
    result.objects_sent, result.bytes_sent, result.packs_sent = sent.objects, sent.bytes, sent.packs
    learnt = known.Learnt(probed, plan.walked if plan.whole else set())  # kept if the push succeeds
    crash_point("push-before-refs")
    for attempt in range(MAX_ATTEMPTS):
        if not changes:
            learnt.keep(registry.root, remote)
            return result  # the remote already holds these values
        carried = _carried(registry, refs, changes)
        segment = LogSegment(table.seq + 1, table.log_head, who, reftable.next_time(table), message, carried)
        try:
            reftable.write(remote.backend, table, refs, segment)
        except PreconditionFailed:  # someone else moved the table: check again against theirs
            result.retries = attempt + 1
            table = remote.read_refs()
            refs, changes = _apply(remote, table, updates, force)
            if check is not None:
                check(dict(refs))
            continue
        result.updated = segment.entries()
        learnt.keep(registry.root, remote)
        if remote.name:
            local.mirror_segment(
                registry, remote.name, carried, who, message or "push", segment.when_ns, None
            )
        return result
    raise RemoteError(f"remote {remote.url}: the refs kept moving under {MAX_ATTEMPTS} attempts; push again")


def _require_safe_refs(remote: Remote, registry: Registry) -> bool:
    """Refuse a store that ignores conditional writes (Remote.require_safe_refs), probing it
    only when no probe passed lately; True if it probed (and passed)."""
    if remote.unsafe_refs or known.probe_passed(registry.root, remote):
        return False
    remote.require_safe_refs()
    return True


def _carried(
    registry: Registry, refs: Mapping[str, str], changes: list[tuple[str, str, str]]
) -> list[Change]:
    """The segment's entries: for each ref the push moves, the local reflog entries that took it
    from the remote's value to the new one, each with its own who, time and message (plus the
    refs those transactions changed and brought back; pacha.transport.carry); one entry with
    the push's who, time and message for a ref whose remote value is not in the local reflog."""
    moves = [carry.Move(n, None if o == ZERO_ID else o, None if w == ZERO_ID else w) for n, o, w in changes]
    found = carry.carried(registry.refs.reflog, registry.refs.reflog_all, moves, refs.get)
    out = [Change(e.name, e.old, e.new, e.who, e.made_at, e.message, e.txn) for e in carry.ordered(found)]
    return out + [Change(n, o, w) for n, o, w in changes if n not in found]


def _checked(update: RefUpdate) -> RefUpdate:
    check_ref_name(update.name)
    new = check_id(update.new, f"new value of {update.name}") if update.new is not None else None
    old = update.expected_old
    if isinstance(old, str):
        old = check_id(old, f"expected value of {update.name}")
    return RefUpdate(update.name, new, old)


def _apply(
    remote: Remote, table: RemoteRefTable, updates: Sequence[RefUpdate], force: bool
) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The table's refs after the updates, and the changes (name, old, new; ZERO_ID = absent).

    Raises RemoteRefMoved for a ref not at its expected value (unless force)."""
    refs = dict(table.refs)
    changes = []
    for u in updates:
        have = refs.get(u.name)
        if not force and not isinstance(u.expected_old, _Unknown) and have != u.expected_old:
            raise _moved(remote, table, u, have)
        if u.new == have:
            continue
        if u.new is None:
            refs.pop(u.name, None)
        else:
            refs[u.name] = u.new
        changes.append((u.name, have or ZERO_ID, u.new or ZERO_ID))
    return refs, changes


def _moved(remote: Remote, table: RemoteRefTable, u: RefUpdate, have: str | None) -> RemoteRefMoved:
    from pacha.refs.store import iso_time

    change = reftable.last_entry(remote.backend, table, u.name)
    now = f"points at {have[:12]}" if have else "does not exist"
    expected = "not to exist" if u.expected_old is None else f"at {str(u.expected_old)[:12]}"
    by = ""
    if change is not None:
        note = f": {change.message}" if change.message else ""
        by = f" (moved by {change.who} at {iso_time(change.when_ns)}{note})"
    return RemoteRefMoved(
        f"remote ref {u.name} {now}{by}, expected {expected}: not a fast-forward; "
        "fetch and look before pushing again, or push --force to overwrite",
        u.name,
        change.who if change else "",
        change.when_ns if change else 0,
    )
