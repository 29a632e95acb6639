"""Refs and reflog in one LMDB environment: the refs of one registry.

Tables (pacha.refs.tables, docs/format.md): ``refs`` (name -> 32-byte raw id), ``reflog``
(pacha.refs.reflog), maps for the reflog's clock (pacha.refs.clock), its expiry and the ref
table's digest (pacha.refs.digest), and derived indices (pacha.refs.indexes).

Every change happens in one LMDB write transaction: compare-and-swap checks,
the ref writes and the reflog entries commit together or not at all. LMDB
serialises writers across processes, so concurrent updates are never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pacha.refs.indexes as indexes
from pacha.errors import RefNotFound
from pacha.ids import ZERO_ID
from pacha.refs.clock import CLOCK, tick
from pacha.refs.digest import DIGEST_MAP, digest_problems, update_digest
from pacha.refs.env import close_all as close_all
from pacha.refs.env import ref_env
from pacha.refs.indexes import IndexOp, map_db
from pacha.refs.names import check_ref_name
from pacha.refs.reflog import EXPIRED_REFLOGS as EXPIRED_REFLOGS
from pacha.refs.reflog import ReflogEntry as ReflogEntry
from pacha.refs.reflog import decode_entry, encode_entry, entry_key, next_seq
from pacha.refs.reflog import iso_time as iso_time
from pacha.refs.tables import REFLOG, REFS, Db, Txn, map_table, prefix_items
from pacha.refs.transaction import KEEP, RefView, Update, check_expectation, ref_items, replayable
from pacha.refs.transaction import RefTransaction as RefTransaction


@dataclass(frozen=True, slots=True)
class RefSnapshot:
    """Refs, reflog and reflog expiry as one read transaction saw them (RefStore.snapshot)."""

    refs: list[tuple[str, str]]  # (name, id) in name order
    reflog: list[ReflogEntry]  # in the order written
    expired: dict[str, int]  # ref name -> last expired reflog sequence (see expired_through)


def _expiry(items: Iterable[tuple[bytes, bytes]]) -> dict[str, int]:
    return {key.decode("utf-8"): int.from_bytes(value, "big") for key, value in items}


class RefStore:
    """The refs of one registry.

    The LMDB environment (pacha.refs.env) is opened read-only by the first read and
    reopened for writing by the first write, so commands that only read never write.
    Each read runs in one read transaction and returns its results whole: no LMDB
    transaction stays open between calls (the environment may be reopened for writing).
    """

    def __init__(self, path: Path, who: Callable[[], str]) -> None:
        self.path = path
        self._who = who
        self._env = ref_env(path)

    # --- reading -----------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """The id name points at, or None."""
        with self._env.read(REFS) as (txn, db):
            raw = txn.get(name.encode("utf-8"), db=db) if db is not None else None
        return raw.hex() if raw is not None else None

    def resolve(self, name: str) -> str:
        """The id name points at; RefNotFound if there is no such ref."""
        value = self.get(check_ref_name(name))
        if value is None:
            raise RefNotFound(f"ref {name} not found")
        return value

    def iter(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(name, id) for every ref whose name starts with prefix, in name order."""
        with self._env.read(REFS) as (txn, db):
            return iter(list(ref_items(txn, db, prefix)))

    def _reflog_scan(self, prefix: bytes) -> list[ReflogEntry]:
        with self._env.read(REFLOG) as (txn, db):
            return [decode_entry(key, value) for key, value in prefix_items(txn, db, prefix)]

    def reflog(self, name: str) -> list[ReflogEntry]:
        """Every recorded change of name, oldest first (kept after deletion)."""
        return self._reflog_scan(name.encode("utf-8") + b"\x00")

    def reflog_all(self, prefix: str = "") -> list[ReflogEntry]:
        """Reflog entries of every ref whose name starts with prefix, in the order they were written.

        The order is the registry-wide transaction number, never a writer's wall clock; entries
        written before that number was kept (txn 0) come first, by time."""
        return sorted(self._reflog_scan(prefix.encode("utf-8")), key=ReflogEntry.order)

    def snapshot(self) -> RefSnapshot:
        """Every ref, every reflog entry (in written order) and the expiry map, from one read
        transaction: a consistent view that no concurrent commit changes halfway.

        Scans that race writers (fsck, gc) take it before they list objects: writers store
        objects before the transaction that names them, so every object the snapshot names
        was stored before a later listing began."""
        tables = (REFS, REFLOG, map_table(EXPIRED_REFLOGS))
        with self._env.read_tables(tables) as (txn, (refs_db, reflog_db, expired_db)):
            refs = list(ref_items(txn, refs_db))
            reflog = [decode_entry(key, value) for key, value in prefix_items(txn, reflog_db)]
            expired = _expiry(prefix_items(txn, expired_db))
        reflog.sort(key=ReflogEntry.order)
        return RefSnapshot(refs, reflog, expired)

    def expired_through(self) -> dict[str, int]:
        """Ref name -> the last reflog sequence number expired by a deletion with expire=True."""
        return _expiry(self.map_scan(EXPIRED_REFLOGS))

    def check_digest(self) -> list[str]:
        """Problems of the ref table (pacha.refs.digest); empty when all is well."""
        return digest_problems(self._env)

    # --- derived indices and maps (pacha.refs.indexes) -------------------------------
    def map_get(self, name: str, key: bytes) -> bytes | None:
        return indexes.map_get(self._env, name, key)

    def map_scan(self, name: str, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for keys starting with prefix, in key order (one read transaction)."""
        return iter(indexes.map_scan(self._env, name, prefix))

    def index_values(self, index: str, key: bytes) -> list[bytes]:
        return indexes.index_values(self._env, index, key)

    def index_scan(self, index: str, prefix: bytes) -> Iterator[tuple[bytes, list[bytes]]]:
        """(key, values) for every key starting with prefix, in key order (one read transaction)."""
        return iter(indexes.index_scan(self._env, index, prefix))

    def index_rebuild(self, index: str, pairs: Iterable[tuple[bytes, bytes]]) -> int:
        """Replace an index's whole content in one transaction; returns the entry count."""
        return indexes.index_rebuild(self._env, index, pairs)

    # --- writing -----------------------------------------------------------------
    def create(self) -> None:
        """Create the database with its refs and reflog tables (pacha init)."""

        def run(txn: Txn) -> None:
            self._env.table(REFS, txn)
            self._env.table(REFLOG, txn)

        self._env.write(run, "creating the ref database", create=True)

    def transaction(
        self,
        message: str = "",
        who: str | None = None,
        before_commit: Callable[[list[str]], None] | None = None,
    ) -> RefTransaction:
        """A batch of ref changes (before_commit: see RefTransaction)."""
        return RefTransaction(self.apply, message, who if who is not None else self._who(), before_commit)

    def apply(
        self,
        updates: list[Update],
        message: str,
        who: str,
        index_ops: list[IndexOp],
        checks: list[Callable[[RefView], None]],
    ) -> list[ReflogEntry]:
        """Commit a transaction's changes in one write transaction (RefTransaction.commit)."""

        def run(txn: Txn) -> list[ReflogEntry]:
            writer = _Writer(self, txn)
            todo = writer.run_checks(updates, checks) if checks else updates
            entries = writer.apply(todo, message, who)
            indexes.apply_ops(self._env, txn, index_ops)
            # in the same transaction: fsck detects outside changes
            update_digest(txn, map_db(self._env, txn, DIGEST_MAP), writer.refs, entries)
            return entries

        return self._env.write(run)


class _Writer:
    """The ref and reflog writes of one write transaction."""

    def __init__(self, store: RefStore, txn: Txn) -> None:
        self.env = store._env
        self.txn = txn
        self.refs: Db = self.env.table(REFS, txn)
        self.reflog: Db = self.env.table(REFLOG, txn)
        self.clock: tuple[int, int] | None = None  # (when_ns, txn), ticked once an entry is written
        self.groups: dict[int, tuple[int, int]] = {}  # replayed group -> (when_ns, txn)

    def run_checks(self, updates: list[Update], checks: list[Callable[[RefView], None]]) -> list[Update]:
        """Run RefTransaction.check callbacks in the write transaction; the updates they add join."""
        view = RefView(self.txn, self.refs, {u.name for u in updates})
        for check in checks:
            check(view)
        return [*updates, *view.added.updates]

    def apply(self, updates: list[Update], message: str, who: str) -> list[ReflogEntry]:
        """Check every expectation, then write refs and reflog entries."""
        current: dict[str, str | None] = {}
        for u in updates:
            raw = self.txn.get(u.name.encode("utf-8"), db=self.refs)
            have = raw.hex() if raw is not None else None
            current[u.name] = have
            check_expectation(u, have)
        for group in sorted({c.group for u in updates for c in u.history}):
            self._group(group)  # numbered in group order, before this transaction's own entries
        entries: list[ReflogEntry] = []
        for u in updates:
            have = current[u.name]
            if u.history and u.new is not KEEP and replayable(u.history, have, u.new):
                entries.extend(self._replay(u, have))
                continue
            if u.new is KEEP or u.new == have:
                continue
            entries.append(self._write(u, have, message, who))
        return entries

    def _replay(self, u: Update, have: str | None) -> list[ReflogEntry]:
        """Write u's recorded history (pacha.refs.transaction.Recorded): one entry per change,
        with its who, message and original time (made_ns); the ref ends at u.new."""
        key = u.name.encode("utf-8")
        new = u.new if isinstance(u.new, str) else None
        if new is None:
            if have is not None:
                self.txn.delete(key, db=self.refs)
        else:
            self.txn.put(key, bytes.fromhex(new), db=self.refs)
        out = []
        for change in u.history:
            when_ns, number = self._group(change.group)
            seq = next_seq(self.txn, self.reflog, key)
            entry = ReflogEntry(
                u.name,
                seq,
                change.old,
                change.new,
                change.who,
                when_ns,
                change.message,
                number,
                change.when_ns,
            )
            self.txn.put(entry_key(key, seq), encode_entry(entry), db=self.reflog)
            out.append(entry)
        return out

    def _group(self, group: int) -> tuple[int, int]:
        """The time and number of a replayed group: one tick of the clock per group."""
        if group not in self.groups:
            self.groups[group] = tick(
                self.txn, map_db(self.env, self.txn, CLOCK), self.reflog, time.time_ns()
            )
        return self.groups[group]

    def _write(self, u: Update, have: str | None, message: str, who: str) -> ReflogEntry:
        txn = self.txn
        key = u.name.encode("utf-8")
        new = u.new if isinstance(u.new, str) else None
        if new is None:
            txn.delete(key, db=self.refs)
        else:
            txn.put(key, bytes.fromhex(new), db=self.refs)
        seq = next_seq(txn, self.reflog, key)
        if self.clock is None:
            self.clock = tick(txn, map_db(self.env, txn, CLOCK), self.reflog, time.time_ns())
        when_ns, number = self.clock
        entry = ReflogEntry(u.name, seq, have or ZERO_ID, new or ZERO_ID, who, when_ns, message, number)
        txn.put(entry_key(key, seq), encode_entry(entry), db=self.reflog)
        if u.expire:
            txn.put(key, seq.to_bytes(8, "big"), db=map_db(self.env, txn, EXPIRED_REFLOGS))
        return entry
