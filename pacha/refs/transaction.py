"""Ref transactions: a batch of ref changes applied atomically with compare-and-swap checks.

A RefTransaction collects changes; RefStore applies them in one LMDB write transaction
(pacha.refs.store), where callbacks added with check() see the refs through a RefView and
may add changes of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from pacha.errors import RefConflict, RefNotFound
from pacha.ids import ZERO_ID, check_id
from pacha.refs.indexes import IndexOp
from pacha.refs.names import check_ref_name
from pacha.refs.reflog import ReflogEntry
from pacha.refs.tables import Db, Txn, prefix_items


class _Sentinel:
    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return self.what


ANY = _Sentinel("ANY")  # an expected old value: whatever the ref holds now
KEEP = _Sentinel("KEEP")  # a new value: the ref is not changed (a verify)

Expected = str | None | _Sentinel  # full id, None (must not exist) or ANY
NewValue = str | None | _Sentinel  # full id, None (delete) or KEEP (verify)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A change of a ref made on another machine, replayed into this reflog with its own who,
    time (kept as the entry's made_ns) and message. group: changes with the same group were made
    together (one transaction there) and get one transaction number here; groups are numbered
    in increasing order of group."""

    old: str  # ZERO_ID: the ref did not exist
    new: str  # ZERO_ID: the ref was deleted
    who: str
    when_ns: int
    message: str
    group: int


@dataclass(slots=True)
class Update:
    """One ref change of a transaction."""

    name: str
    new: NewValue
    old: Expected
    expire: bool = False  # a deletion after which the ref's history keeps nothing alive
    history: tuple[Recorded, ...] = ()  # how it got from its value to new elsewhere (replay)


class Apply(Protocol):
    """What commits a transaction's changes (RefStore.apply)."""

    def __call__(
        self,
        updates: list[Update],
        message: str,
        who: str,
        index_ops: list[IndexOp],
        checks: list[Callable[[RefView], None]],
    ) -> list[ReflogEntry]: ...


class RefTransaction:
    """A batch of ref changes applied atomically with compare-and-swap checks.

    Use as a context manager (commits on normal exit) or call commit().
    before_commit: called with the new ids before anything is applied (it may raise).
    """

    def __init__(
        self,
        apply: Apply | None,
        message: str,
        who: str,
        before_commit: Callable[[list[str]], None] | None = None,
    ) -> None:
        self._apply = apply
        self.message = message
        self.who = who
        self._before_commit = before_commit
        self.updates: list[Update] = []
        self.names: set[str] = set()
        self._index_ops: list[IndexOp] = []
        self._checks: list[Callable[[RefView], None]] = []
        self.committed = False

    def _add(
        self,
        name: str,
        new: NewValue,
        old: Expected,
        expire: bool = False,
        history: tuple[Recorded, ...] = (),
    ) -> RefTransaction:
        check_ref_name(name)
        if name in self.names:
            raise RefConflict(f"ref {name} appears twice in one transaction")
        if isinstance(new, str):
            new = check_id(new, f"new value of {name}")
        if isinstance(old, str):
            old = check_id(old, f"old value of {name}")
        self.names.add(name)
        self.updates.append(Update(name, new, old, expire, history))
        return self

    def replay(
        self, name: str, new: str | None, old: Expected, history: Sequence[Recorded]
    ) -> RefTransaction:
        """Move name to new (None: delete; new == its value: only the history) with the reflog
        entries of the changes that moved it there on another machine, each with its own who,
        time and message (a fetch, pull or clone replays a remote's audit trail).

        history must run from the ref's value (old, or what it holds) to new, each entry starting
        where the previous ended; if it does not, one plain entry of this transaction is written
        instead, so the reflog always chains."""
        return self._add(name, new if new is not None else None, old, False, tuple(history))

    def create(self, name: str, new: str) -> RefTransaction:
        """Create name; fails if it already exists."""
        return self._add(name, new, None)

    def update(self, name: str, new: str, old: Expected = ANY) -> RefTransaction:
        """Point name at new; with old given, only if it currently points there."""
        return self._add(name, new, old)

    def delete(self, name: str, old: Expected = ANY, expire: bool = False) -> RefTransaction:
        """Delete name (which must exist); with old given, only if it points there.

        expire: its reflog up to this deletion stays as the audit trail but stops
        keeping objects alive (gc, fsck); see RefStore.expired_through().
        """
        return self._add(name, None, old, expire)

    def verify(self, name: str, old: str | None) -> RefTransaction:
        """Require name to point at old (None: to not exist), changing nothing."""
        return self._add(name, KEEP, old)

    def check(self, callback: Callable[[RefView], None]) -> RefTransaction:
        """Run callback inside the write transaction, before any expectation is checked.

        It sees the refs as committed at that moment (RefView.get/iter), may add updates
        (RefView.create/update/delete/verify, ids already stored) and may raise to abort
        the whole transaction. Since LMDB runs one write transaction at a time, a rule
        checked there cannot be broken by a concurrent writer (check-then-act in one step).
        """
        self._checks.append(callback)
        return self

    def index_add(self, index: str, key: bytes, value: bytes) -> RefTransaction:
        """Add value under key in a derived index, in the same LMDB transaction as the refs."""
        self._index_ops.append(IndexOp("add", index, key, value))
        return self

    def index_remove(self, index: str, key: bytes, value: bytes) -> RefTransaction:
        """Remove value from key in a derived index, in the same LMDB transaction as the refs."""
        self._index_ops.append(IndexOp("remove", index, key, value))
        return self

    def map_set(self, name: str, key: bytes, value: bytes) -> RefTransaction:
        """Set key to value in a derived key/value map (one value per key, any size)."""
        self._index_ops.append(IndexOp("set", name, key, value))
        return self

    @property
    def new_ids(self) -> list[str]:
        return [u.new for u in self.updates if isinstance(u.new, str)]

    def commit(self) -> list[ReflogEntry]:
        """Check every expectation, then apply all updates, or none."""
        if self.committed:
            raise RuntimeError("transaction already committed")
        if self._apply is None:
            raise RuntimeError("the changes a check callback adds commit with its transaction")
        if self._before_commit is not None:
            self._before_commit(self.new_ids)
        entries = self._apply(self.updates, self.message, self.who, self._index_ops, self._checks)
        self.committed = True
        return entries

    def __enter__(self) -> RefTransaction:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None and not self.committed:
            self.commit()


class RefView:
    """The refs inside a write transaction, for RefTransaction.check callbacks.

    Reads see what is committed (not this transaction's own updates); the updates a
    callback adds join the transaction with the same compare-and-swap checks.
    """

    def __init__(self, txn: Txn, refs: Db, names: set[str]) -> None:
        self._txn = txn
        self._refs = refs
        self.added = RefTransaction(None, "", "")
        self.added.names = set(names)  # a ref appears once per transaction, callbacks included

    def get(self, name: str) -> str | None:
        """The id name points at now, or None."""
        raw = self._txn.get(name.encode("utf-8"), db=self._refs)
        return raw.hex() if raw is not None else None

    def iter(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(name, id) for every ref whose name starts with prefix, in name order."""
        return ref_items(self._txn, self._refs, prefix)

    def create(self, name: str, new: str) -> RefView:
        self.added.create(name, new)
        return self

    def update(self, name: str, new: str, old: Expected = ANY) -> RefView:
        self.added.update(name, new, old)
        return self

    def delete(self, name: str, old: Expected = ANY) -> RefView:
        self.added.delete(name, old)
        return self

    def verify(self, name: str, old: str | None) -> RefView:
        self.added.verify(name, old)
        return self


def ref_items(txn: Txn, refs: Db | None, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(name, id) of every ref in the ref table whose name starts with prefix, in name order."""
    for key, value in prefix_items(txn, refs, prefix.encode("utf-8")):
        yield key.decode("utf-8"), value.hex()


def check_expectation(u: Update, have: str | None) -> None:
    """Raise RefConflict / RefNotFound unless the ref (now at have) is as u expects."""
    if u.old is ANY:
        if u.new is None and have is None:
            raise RefNotFound(f"cannot delete ref {u.name}: it does not exist")
        return
    if u.old is None:
        if have is not None:
            raise RefConflict(f"ref {u.name} already exists (points at {have})")
        return
    if have != u.old:
        now = f"points at {have}" if have else "does not exist"
        raise RefConflict(f"ref {u.name} {now}, not the expected {u.old}")


def replayable(history: Sequence[Recorded], have: str | None, new: NewValue) -> bool:
    """Does history run from have to new, each change starting where the previous ended?"""
    at = have or ZERO_ID
    for change in history:
        if change.old != at:
            return False
        at = change.new
    return at == (new if isinstance(new, str) else ZERO_ID)
