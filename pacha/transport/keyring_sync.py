"""An encrypted remote's keyring kept in step with its registries' (issue 15).

The remote holds one keyring under the key `keyring` (pacha.transport.sealed). Every push,
fetch, pull and clone compares it with this registry's and with the *base*: the keyring this
registry last saw on that remote (pacha.crypto.keyring_log). While this registry's keyring
lock is held:

1. The remote's keyring must be signed by the master key (its Ed25519 key, pinned by this
   registry's own keyring: pacha.crypto.keyring_sign) and hold the same master keys;
   otherwise refused (a forged or edited keyring, or `key rotate --data` on one side).
2. It must not be older than the base (its generation lower, or equal with other bytes):
   someone put back an older copy, which may hold a passphrase removed since. A fetch
   refuses it; a push replaces it with this registry's keyring (and says so).
3. Slots are merged three-way (pacha.crypto.keyring_merge): what either side added stays,
   what either side removed goes, a re-wrap on one side wins, two different changes of one
   slot are a conflict. A merge that matches neither side is a new keyring, signed (this
   needs the passphrase); one that matches a side is that side's bytes.
4. push: the merged keyring replaces the remote's with If-Match on the ETag read (412:
   someone else changed it meanwhile: start again from 1, up to MAX_ATTEMPTS). Then, as
   for fetch, the local keyring becomes the merge (temp file, fsync, rename) and the base
   what the remote now holds.

Every change to this registry's keyring, or sent to the remote's, is one line on stderr and
one line of `keyring.log`. A remote keyring of version 1 (unsigned, written by a pacha
before this) is taken as the base when none is recorded: nobody could change it since the
first push, so only this side's changes count and a push replaces it with a signed one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pacha.crash import crash_point
from pacha.crypto import keyring_log
from pacha.crypto.admin import keyring_lock
from pacha.crypto.errors import KeyringError
from pacha.crypto.keyring import FILE_NAME, Keyring, Slot, write_atomic
from pacha.crypto.keyring_merge import by_name, diff, merge3, same, same_slots
from pacha.crypto.keyring_sign import public_key
from pacha.transport import cas, local
from pacha.transport.backend import KeyMissing, PreconditionFailed
from pacha.transport.errors import RemoteError, RemoteNotFound
from pacha.transport.layout import decode_segment

if TYPE_CHECKING:
    from pacha.registry import Registry
    from pacha.transport.remote import Remote

KEYRING_KEY = "keyring"
MAX_ATTEMPTS = 50  # compare-and-swap attempts, each lost to another writer of the keyring

_TOLD_LOST: set[tuple[object, str]] = set()  # (registry, url) already told it lost its keyring
ACTIONS = {"added": "added", "removed": "removed", "rewrapped": "given a new passphrase"}
# the changes record() made, for the --json report of the command running (collecting())
_COLLECTED: ContextVar[list[dict[str, object]] | None] = ContextVar("pacha_keyring_changes", default=None)


class RemoteEncryptionMismatch(RemoteError):
    """The registry and the remote are not both encrypted under the same master keys (exit 128)."""


@dataclass
class _Plan:
    local: bytes  # this registry's keyring after the sync
    remote: bytes  # the remote's after the sync
    mine: Keyring
    theirs: Keyring
    merged: list[Slot]
    rollback: bool = False


def sync(registry: Registry, remote: Remote, *, push: bool) -> None:
    """Bring this registry's keyring and the remote's in step (see module doc); push: also
    the remote's. Nothing is written when the two agree, or on any refusal."""
    if not registry.objects.keys.encrypted:
        return
    root = registry.root
    with keyring_lock(root):
        for _attempt in range(MAX_ATTEMPTS):
            got = _read(remote)
            if got is None:
                if push and _restore(registry, remote):
                    continue  # another pusher put one there meanwhile: merge with it
                return  # no keyring there (a plain remote; a first push creates it: sealed.before_push)
            data, etag = got
            plan = _plan(registry, remote, data, push)
            if plan is None:
                return
            if push and plan.remote != data:
                remote.require_safe_refs()  # the keyring moves by compare-and-swap, as refs do
                try:
                    cas.replace(remote.backend, KEYRING_KEY, plan.remote, etag)
                except PreconditionFailed:  # another writer moved it: merge with theirs again
                    continue
                crash_point("keyring-sync-remote-written")
            _finish(registry, remote, plan, data, push)
            return
    raise RemoteError(
        f"remote {remote.url}: its keyring kept changing under {MAX_ATTEMPTS} attempts; try again"
    )


def _restore(registry: Registry, remote: Remote) -> bool:
    """Put this registry's keyring back on a remote that lost its own (this registry saw one
    there: deleted by someone who can write the bucket). False: nothing to restore, or done;
    True: someone else created one meanwhile."""
    root = registry.root
    if not same_remote(registry, remote):
        return False
    mine_bytes = (root / FILE_NAME).read_bytes()
    remote.require_safe_refs()
    try:
        cas.create(remote.backend, KEYRING_KEY, mine_bytes)
    except PreconditionFailed:
        return True
    _tell(f"remote {remote.url} had lost its keyring (this registry saw one there): put this registry's back")
    keyring_log.write_base(root, remote.url, mine_bytes)
    mine = Keyring.from_bytes(mine_bytes, str(root / FILE_NAME))
    record(registry, remote, "push", "out", mine, [], mine.slots, tell=False)
    return False


def same_remote(registry: Registry, remote: Remote) -> bool:
    """Whether a remote without a keyring is one this registry saw a keyring on, still holding
    what it held then (the newest reflog segment this registry fetched from it is there), and
    not a place since reused by a plain registry: then its keyring may be put back."""
    if remote.name is None or keyring_log.read_base(registry.root, remote.url) is None:
        return False
    remembered = local.remembered_segments(registry, remote.name)
    if not remembered:
        return False
    seq, data = remembered[-1]
    return remote.backend.head(decode_segment(data, f"logs/{seq:016d}").key()) is not None


def lost(registry: Registry, remote: Remote) -> None:
    """Say so when a remote this registry saw a keyring on has none now (a fetch goes on: its
    bodies are still authenticated with this registry's keys)."""
    told = (registry.root, remote.url)
    if told in _TOLD_LOST or not registry.objects.keys.encrypted:
        return
    if keyring_log.read_base(registry.root, remote.url) is not None:
        _TOLD_LOST.add(told)
        _tell(
            f"remote {remote.url} has lost its keyring (this registry saw one there): clones of it cannot "
            "open it; `pacha push` after this fetch puts this registry's back"
        )


def _read(remote: Remote) -> tuple[bytes, str] | None:
    try:
        return remote.backend.get(KEYRING_KEY)
    except (KeyMissing, RemoteNotFound):
        return None


def _plan(registry: Registry, remote: Remote, data: bytes, push: bool) -> _Plan | None:
    """What both keyrings become, checked (steps 1-3 of the module doc); None: nothing to do."""
    root, where = registry.root, f"remote {remote.url}"
    mine_bytes = (root / FILE_NAME).read_bytes()
    base_bytes = keyring_log.read_base(root, remote.url)
    if data == mine_bytes:
        if base_bytes != data:
            keyring_log.write_base(root, remote.url, data)
        return None
    mine = Keyring.from_bytes(mine_bytes, f"the keyring of {root}")
    theirs = Keyring.from_bytes(data, f"the keyring on {where}")
    if (theirs.current, sorted(theirs.retiring)) != (mine.current, sorted(mine.retiring)):
        if not push and mine.retiring:
            return None  # `key rotate --data` under way here: slots follow once it is done
        raise _other_keys(registry, remote, mine, theirs)
    base, rollback = _base(registry, remote, mine, theirs, data, base_bytes, push)
    gone = keyring_log.buried(root)
    for slot in theirs.slots:  # an old copy of a slot dropped here: as if theirs never changed it
        if keyring_log.slot_digest(slot) in gone:
            base[slot.name] = slot
    merged = merge3(base, mine.slots, theirs.slots, where)
    if same_slots(merged, theirs.slots) and theirs.signature is not None and not rollback:
        return _Plan(data, data, mine, theirs, merged)  # theirs as it is
    if same_slots(merged, mine.slots) and (
        not push or (mine.signature is not None and mine.generation > theirs.generation)
    ):
        return _Plan(mine_bytes, mine_bytes if push else data, mine, theirs, merged, rollback)
    # a keyring neither side has (or mine, newer than what it replaces): signed here
    ring = Keyring(mine.current, merged, list(mine.retiring), max(mine.generation, theirs.generation))
    ring.sign(_master(registry, mine), registry.identity())
    new = ring.to_bytes()
    return _Plan(new, new if push else data, mine, theirs, merged, rollback)


def _base(
    registry: Registry,
    remote: Remote,
    mine: Keyring,
    theirs: Keyring,
    data: bytes,
    base_bytes: bytes | None,
    push: bool,
) -> tuple[dict[str, Slot], bool]:
    """The slots both sides started from, after checking theirs (steps 1-2); and whether the
    remote's keyring is an older copy that this push replaces."""
    where = f"the keyring on remote {remote.url}"
    if theirs.signature is None:  # version 1: the first push's, unchanged since (or forged)
        if base_bytes is not None and base_bytes != data:
            raise KeyringError(
                f"{where} is not signed and is not the one this registry last saw there (edited, or put "
                f"back from an old copy): nothing was changed; `pacha push` replaces it with this registry's"
            )
        return by_name(theirs.slots), False
    signer = mine.signer if mine.signer is not None else public_key(_master(registry, mine))
    theirs.check_signature(signer, where)
    if base_bytes is None:  # never synced: what both hold alike is the base, the rest was added
        t = by_name(theirs.slots)
        return {s.name: s for s in mine.slots if same(s, t.get(s.name))}, False
    base = Keyring.from_bytes(base_bytes, f"{where} as last seen")
    if base.signature is not None and base_bytes != data and theirs.generation <= base.generation:
        if not push:
            raise KeyringError(
                f"{where} is generation {theirs.generation}, not newer than generation {base.generation} "
                "this registry saw there: someone put back an older copy (a passphrase removed since may "
                "open it again); nothing was changed; `pacha push` puts this registry's keyring back"
            )
        return by_name(theirs.slots), True  # replaced by ours: nothing of the old copy comes in
    return by_name(base.slots), False


def _master(registry: Registry, mine: Keyring) -> bytes:
    """The current master key (asks for the passphrase once per process)."""
    return registry.objects.keys.unlocked().keys[mine.current]


def _other_keys(
    registry: Registry, remote: Remote, mine: Keyring, theirs: Keyring
) -> RemoteEncryptionMismatch:
    ids = ", ".join(sorted(theirs.key_ids())), ", ".join(sorted(mine.key_ids()))
    return RemoteEncryptionMismatch(
        f"remote {remote.url} is sealed under master key(s) {ids[0]} and {registry.root} under {ids[1]} "
        "(one side ran `pacha key rotate --data`): keyrings under different master keys are never merged; "
        "nothing was changed (push to a new remote, or clone this one again)"
    )


def _finish(registry: Registry, remote: Remote, plan: _Plan, data: bytes, push: bool) -> None:
    """Write this registry's keyring and the base (after the remote's moved); tell and log."""
    root = registry.root
    mine_bytes = (root / FILE_NAME).read_bytes()
    if plan.rollback:
        _tell(
            f"the keyring on remote {remote.url} was an older copy (generation {plan.theirs.generation}); "
            "replaced by this registry's"
        )
    if plan.local != mine_bytes:
        keyring_log.bury(root, plan.mine.slots, plan.merged)  # removals merged in stay removed
        write_atomic(root / FILE_NAME, plan.local, root / "tmp")
        registry.objects.keys.refresh()
    keyring_log.write_base(root, remote.url, plan.remote)
    op = "push" if push else "fetch"
    record(registry, remote, op, "in", plan.theirs, plan.mine.slots, plan.merged)
    if push and plan.remote != data:
        record(registry, remote, op, "out", plan.theirs, plan.theirs.slots, plan.merged)


def record(
    registry: Registry,
    remote: Remote,
    op: str,
    direction: str,
    source: Keyring,
    old: Sequence[Slot],
    new: Sequence[Slot],
    tell: bool = True,
) -> None:
    """Tell the user and append to keyring.log the slot changes from old to new: direction
    "in" (this registry's keyring changed, source: the remote's) or "out" (sent to the remote)."""
    changes = diff(old, new)
    if not changes:
        return
    for c in changes if tell else ():
        by = f" by {c.by}" if c.by else (f" (keyring changed by {source.by})" if source.by else "")
        if direction == "in":
            effect = "now opens this registry" if c.action != "removed" else "no longer opens this registry"
            _tell(f"key slot {c.name!r} {ACTIONS[c.action]}{by} on remote {remote.url}: {effect}")
        else:
            _tell(f"sent to remote {remote.url}: key slot {c.name!r} {ACTIONS[c.action]}{by}")
    entry: dict[str, object] = {
        "op": op,
        "direction": direction,
        "where": remote.url,
        "by": registry.identity(),
        "author": source.by,
        "generation": source.generation,
    }
    for action in ACTIONS:
        entry[action] = [c.name for c in changes if c.action == action]
    keyring_log.append(registry.root, entry)
    collected = _COLLECTED.get()
    if collected is not None:
        collected.append(dict(entry))


@contextmanager
def collecting() -> Iterator[list[dict[str, object]]]:
    """The key slot changes recorded inside the block (record(): each as its keyring.log line,
    without the time), gathered for a command's --json report (push, fetch, pull, clone)."""
    seen: list[dict[str, object]] = []
    token = _COLLECTED.set(seen)
    try:
        yield seen
    finally:
        _COLLECTED.reset(token)


def _tell(line: str) -> None:
    sys.stderr.write(f"pacha: keyring: {line}\n")
    sys.stderr.flush()
