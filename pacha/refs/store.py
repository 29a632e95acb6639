"""Refs and reflog in one LMDB environment.

Databases (see docs/format.md):
- refs:   key = ref name (UTF-8)                 value = 32-byte raw object id
- reflog: key = ref name + 0x00 + u64 BE sequence  value = canonical JSON entry

Every change happens in one LMDB write transaction: compare-and-swap checks,
the ref writes and the reflog entries commit together or not at all. LMDB
serialises writers across processes, so concurrent updates are never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pacha.errors import RefConflict, RefNotFound
from pacha.ids import ZERO_ID, check_id
from pacha.refs.names import check_ref_name

MAP_SIZE = 1 << 40  # address space reserved, not disk used
_SEQ_BYTES = 8
_ANY = object()  # "whatever the ref holds now"
EXPIRED_REFLOGS = "expired-reflogs"  # map: ref name -> last reflog seq whose ids gc may collect
CLOCK = "clock"  # map: b"last" -> the last write transaction's time (8 bytes BE) and number (8 bytes BE)
_KEEP = object()  # a verify: the ref is not changed
_TICK_NS = 1000  # the least step of the reflog's clock: 1 µs, so shown times (µs) tell transactions apart

_ENVS: dict[str, Any] = {}


def _open_env(path: Path) -> Any:
    """One LMDB environment per path per process (LMDB forbids opening it twice)."""
    key = str(path.resolve())
    env = _ENVS.get(key)
    if env is None:
        import lmdb

        env = lmdb.open(key, map_size=MAP_SIZE, max_dbs=16, subdir=True, readahead=False)
        env.reader_check()
        _ENVS[key] = env
    return env


def close_all() -> None:
    """Close every environment this process opened (before fork, in tests)."""
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


@dataclass(frozen=True, slots=True)
class ReflogEntry:
    """One change of one ref: the audit trail of who moved it, when and why."""

    name: str
    seq: int
    old: str  # ZERO_ID when the ref was created
    new: str  # ZERO_ID when the ref was deleted
    who: str
    when_ns: int  # nanoseconds since the Unix epoch, UTC, from the registry's hybrid logical clock
    message: str
    txn: int = 0  # registry-wide number of the write transaction; 0: written before it was kept

    def order(self) -> tuple[int, int, str, int]:
        """Sort key of the order entries were written in, across refs (see docs/format.md)."""
        return (self.txn, self.when_ns, self.name, self.seq)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seq": self.seq,
            "old": self.old,
            "new": self.new,
            "who": self.who,
            "when_ns": self.when_ns,
            "time": iso_time(self.when_ns),
            "message": self.message,
            "txn": self.txn,
        }


def iso_time(when_ns: int) -> str:
    """ISO 8601 in UTC, truncated to the microsecond (integer arithmetic: no float rounding)."""
    from datetime import UTC, datetime, timedelta

    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=when_ns // 1000)
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class RefSnapshot:
    """Refs, reflog and reflog expiry as one read transaction saw them (RefStore.snapshot)."""

    refs: list[tuple[str, str]]  # (name, id) in name order
    reflog: list[ReflogEntry]  # in the order written
    expired: dict[str, int]  # ref name -> last expired reflog sequence (see expired_through)


def _reflog_key(name: bytes, seq: int) -> bytes:
    return name + b"\x00" + seq.to_bytes(_SEQ_BYTES, "big")


@dataclass(slots=True)
class _Update:
    name: str
    new: Any  # full id, None (delete) or _KEEP (verify)
    old: Any  # full id, None (must not exist) or _ANY
    expire: bool = False  # a deletion after which the ref's history keeps nothing alive


class RefTransaction:
    """A batch of ref changes applied atomically with compare-and-swap checks.

    Use as a context manager (commits on normal exit) or call commit().
    """

    def __init__(self, store: RefStore, message: str, who: str) -> None:
        self._store = store
        self.message = message
        self.who = who
        self._updates: list[_Update] = []
        self._names: set[str] = set()
        self._index_ops: list[tuple[str, bool, bytes, bytes]] = []
        self._checks: list[Callable[[RefView], None]] = []
        self.committed = False

    def _add(self, name: str, new: Any, old: Any, expire: bool = False) -> RefTransaction:
        check_ref_name(name)
        if name in self._names:
            raise RefConflict(f"ref {name} appears twice in one transaction")
        if isinstance(new, str):
            new = check_id(new, f"new value of {name}")
        if isinstance(old, str):
            old = check_id(old, f"old value of {name}")
        self._names.add(name)
        self._updates.append(_Update(name, new, old, expire))
        return self

    def create(self, name: str, new: str) -> RefTransaction:
        """Create name; fails if it already exists."""
        return self._add(name, new, None)

    def update(self, name: str, new: str, old: Any = _ANY) -> RefTransaction:
        """Point name at new; with old given, only if it currently points there."""
        return self._add(name, new, old)

    def delete(self, name: str, old: Any = _ANY, expire: bool = False) -> RefTransaction:
        """Delete name (which must exist); with old given, only if it points there.

        expire: its reflog up to this deletion stays as the audit trail but stops
        keeping objects alive (gc, fsck); see expired_through().
        """
        return self._add(name, None, old, expire)

    def verify(self, name: str, old: str | None) -> RefTransaction:
        """Require name to point at old (None: to not exist), changing nothing."""
        return self._add(name, _KEEP, old)

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
        self._index_ops.append((index, True, key, value))
        return self

    def index_remove(self, index: str, key: bytes, value: bytes) -> RefTransaction:
        self._index_ops.append((index, False, key, value))
        return self

    def map_set(self, name: str, key: bytes, value: bytes) -> RefTransaction:
        """Set key to value in a derived key/value map (one value per key, any size)."""
        self._index_ops.append(("\0map:" + name, True, key, value))
        return self

    @property
    def new_ids(self) -> list[str]:
        return [u.new for u in self._updates if isinstance(u.new, str)]

    def commit(self) -> list[ReflogEntry]:
        """Check every expectation, then apply all updates, or none."""
        if self.committed:
            raise RuntimeError("transaction already committed")
        entries = self._store._apply(self._updates, self.message, self.who, self._index_ops, self._checks)
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

    def __init__(self, store: RefStore, txn: Any, names: set[str]) -> None:
        self._store = store
        self._txn = txn
        self._added = RefTransaction(store, "", "")
        self._added._names = set(names)  # a ref appears once per transaction, callbacks included

    def get(self, name: str) -> str | None:
        """The id name points at now, or None."""
        raw = self._txn.get(name.encode("utf-8"), db=self._store._refs)
        return raw.hex() if raw is not None else None

    def iter(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(name, id) for every ref whose name starts with prefix, in name order."""
        return _iter_refs(self._txn, self._store._refs, prefix)

    def create(self, name: str, new: str) -> RefView:
        self._added.create(name, new)
        return self

    def update(self, name: str, new: str, old: Any = _ANY) -> RefView:
        self._added.update(name, new, old)
        return self

    def delete(self, name: str, old: Any = _ANY) -> RefView:
        self._added.delete(name, old)
        return self

    def verify(self, name: str, old: str | None) -> RefView:
        self._added.verify(name, old)
        return self


def _iter_refs(txn: Any, db: Any, prefix: str) -> Iterator[tuple[str, str]]:
    start = prefix.encode("utf-8")
    cursor = txn.cursor(db=db)
    if not cursor.set_range(start):
        return
    for key, value in cursor:
        if not key.startswith(start):
            break
        yield key.decode("utf-8"), value.hex()


class RefStore:
    """The refs of one registry."""

    def __init__(self, path: Path, who: Callable[[], str]) -> None:
        self.path = path
        self._who = who
        self._env = _open_env(path)
        self._refs = self._env.open_db(b"refs")
        self._reflog = self._env.open_db(b"reflog")
        self._indices: dict[str, Any] = {}

    # --- reading -----------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """The id name points at, or None."""
        with self._env.begin(db=self._refs) as txn:
            raw = txn.get(name.encode("utf-8"))
        return raw.hex() if raw is not None else None

    def resolve(self, name: str) -> str:
        value = self.get(check_ref_name(name))
        if value is None:
            raise RefNotFound(f"ref {name} not found")
        return value

    def iter(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(name, id) for every ref whose name starts with prefix, in name order."""
        with self._env.begin(db=self._refs) as txn:
            yield from _iter_refs(txn, self._refs, prefix)

    def reflog(self, name: str) -> list[ReflogEntry]:
        """Every recorded change of name, oldest first (kept after deletion)."""
        import msgspec

        prefix = name.encode("utf-8") + b"\x00"
        out = []
        with self._env.begin(db=self._reflog) as txn:
            cursor = txn.cursor()
            if cursor.set_range(prefix):
                for key, value in cursor:
                    if not key.startswith(prefix):
                        break
                    out.append(self._entry(name, key, value, msgspec))
        return out

    def reflog_all(self, prefix: str = "") -> list[ReflogEntry]:
        """Reflog entries of every ref whose name starts with prefix, in the order they were written.

        The order is the registry-wide transaction number, never a writer's wall clock; entries
        written before that number was kept (txn 0) come first, by time."""
        import msgspec

        start = prefix.encode("utf-8")
        out = []
        with self._env.begin(db=self._reflog) as txn:
            cursor = txn.cursor()
            if cursor.set_range(start):
                for key, value in cursor:
                    if not key.startswith(start):
                        break
                    name = key[: -_SEQ_BYTES - 1].decode("utf-8")
                    out.append(self._entry(name, key, value, msgspec))
        out.sort(key=ReflogEntry.order)
        return out

    def snapshot(self) -> RefSnapshot:
        """Every ref, every reflog entry (in written order) and the expiry map, from one read
        transaction: a consistent view that no concurrent commit changes halfway.

        Scans that race writers (fsck, gc) take it before they list objects: writers store
        objects before the transaction that names them, so every object the snapshot names
        was stored before a later listing began."""
        import msgspec

        expired_db = self._map_db(EXPIRED_REFLOGS)  # opened as expired_through() opens it
        with self._env.begin() as txn:
            refs = list(_iter_refs(txn, self._refs, ""))
            reflog = [
                self._entry(key[: -_SEQ_BYTES - 1].decode("utf-8"), key, value, msgspec)
                for key, value in txn.cursor(db=self._reflog)
            ]
            expired = {
                key.decode("utf-8"): int.from_bytes(value, "big") for key, value in txn.cursor(db=expired_db)
            }
        reflog.sort(key=ReflogEntry.order)
        return RefSnapshot(refs, reflog, expired)

    @staticmethod
    def _entry(name: str, key: bytes, value: bytes, msgspec: Any) -> ReflogEntry:
        doc = msgspec.json.decode(value)
        seq = int.from_bytes(key[-_SEQ_BYTES:], "big")
        return ReflogEntry(
            name, seq, doc["old"], doc["new"], doc["who"], doc["when_ns"], doc["message"], doc.get("txn", 0)
        )

    # --- derived indices -----------------------------------------------------------
    # Named LMDB databases "index:<name>" mapping a key to a sorted set of values
    # (dupsort). Higher layers keep them in step with refs inside ref transactions;
    # they hold nothing that cannot be rebuilt from objects and refs.
    def _index_db(self, index: str, txn: Any = None) -> Any:
        """The index's database; inside a write transaction pass it (LMDB would deadlock)."""
        db = self._indices.get(index)
        if db is None:
            db = self._env.open_db(f"index:{index}".encode(), txn=txn, dupsort=True)
            self._indices[index] = db
        return db

    def _map_db(self, name: str, txn: Any = None) -> Any:
        key = "map:" + name
        db = self._indices.get(key)
        if db is None:
            db = self._env.open_db(key.encode(), txn=txn)
            self._indices[key] = db
        return db

    def expired_through(self) -> dict[str, int]:
        """Ref name -> the last reflog sequence number expired by a deletion with expire=True."""
        return {
            key.decode("utf-8"): int.from_bytes(value, "big") for key, value in self.map_scan(EXPIRED_REFLOGS)
        }

    def map_get(self, name: str, key: bytes) -> bytes | None:
        db = self._map_db(name)
        with self._env.begin(db=db) as txn:
            return txn.get(key)

    def map_scan(self, name: str, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for keys starting with prefix, in key order (one read transaction)."""
        db = self._map_db(name)
        with self._env.begin(db=db) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(prefix):
                return
            for key, value in cursor:
                if not key.startswith(prefix):
                    return
                yield key, value

    def index_values(self, index: str, key: bytes) -> list[bytes]:
        db = self._index_db(index)
        with self._env.begin(db=db) as txn:
            cursor = txn.cursor()
            if not cursor.set_key(key):
                return []
            return list(cursor.iternext_dup())

    def index_scan(self, index: str, prefix: bytes) -> Iterator[tuple[bytes, list[bytes]]]:
        """(key, values) for every key starting with prefix, in key order."""
        db = self._index_db(index)
        with self._env.begin(db=db) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(prefix):
                return
            while True:
                key = cursor.key()
                if not key.startswith(prefix):
                    return
                values = list(cursor.iternext_dup())
                yield key, values
                if not cursor.next_nodup():
                    return

    def index_rebuild(self, index: str, pairs: Iterator[tuple[bytes, bytes]]) -> int:
        """Replace an index's whole content in one transaction; returns the entry count."""
        count = 0
        with self._env.begin(write=True) as txn:
            db = self._index_db(index, txn)
            txn.drop(db, delete=False)
            for key, value in pairs:
                txn.put(key, value, db=db, dupdata=True)
                count += 1
        return count

    # --- writing -----------------------------------------------------------------
    def transaction(self, message: str = "", who: str | None = None) -> RefTransaction:
        return RefTransaction(self, message, who if who is not None else self._who())

    def _apply(
        self,
        updates: list[_Update],
        message: str,
        who: str,
        index_ops: list[tuple[str, bool, bytes, bytes]] = (),  # type: ignore[assignment]
        checks: list[Callable[[RefView], None]] = (),  # type: ignore[assignment]
    ) -> list[ReflogEntry]:
        import msgspec

        entries: list[ReflogEntry] = []
        opened_before = set(self._indices)
        try:
            with self._env.begin(write=True) as txn:
                if checks:
                    updates = self._run_checks(txn, updates, checks)
                return self._apply_in(txn, updates, message, who, index_ops, entries, msgspec)
        except BaseException:
            # LMDB closes databases created by an aborted transaction: forget their handles
            for index in set(self._indices) - opened_before:
                del self._indices[index]
            raise

    def _run_checks(
        self, txn: Any, updates: list[_Update], checks: list[Callable[[RefView], None]]
    ) -> list[_Update]:
        """Run RefTransaction.check callbacks in the write transaction; the updates they add join."""
        view = RefView(self, txn, {u.name for u in updates})
        for check in checks:
            check(view)
        return [*updates, *view._added._updates]

    def _apply_in(
        self,
        txn: Any,
        updates: list[_Update],
        message: str,
        who: str,
        index_ops: list[tuple[str, bool, bytes, bytes]],
        entries: list[ReflogEntry],
        msgspec: Any,
    ) -> list[ReflogEntry]:
        """Check every expectation, then write refs, reflog entries and index changes."""
        clock: tuple[int, int] | None = None  # (when_ns, txn), ticked once a reflog entry is written
        current: dict[str, str | None] = {}
        for u in updates:
            raw = txn.get(u.name.encode("utf-8"), db=self._refs)
            have = raw.hex() if raw is not None else None
            current[u.name] = have
            _check_expectation(u, have)
        for u in updates:
            have = current[u.name]
            if u.new is _KEEP or u.new == have:
                continue
            key = u.name.encode("utf-8")
            if u.new is None:
                txn.delete(key, db=self._refs)
            else:
                txn.put(key, bytes.fromhex(u.new), db=self._refs)
            seq = self._next_seq(txn, key)
            if clock is None:
                clock = self._tick(txn)
            when_ns, number = clock
            entry = ReflogEntry(u.name, seq, have or ZERO_ID, u.new or ZERO_ID, who, when_ns, message, number)
            doc = {
                "old": entry.old,
                "new": entry.new,
                "who": who,
                "when_ns": when_ns,
                "message": message,
                "txn": number,
            }
            txn.put(
                _reflog_key(key, seq),
                msgspec.json.encode(doc, order="sorted"),
                db=self._reflog,
            )
            entries.append(entry)
            if u.expire:
                txn.put(key, seq.to_bytes(8, "big"), db=self._map_db(EXPIRED_REFLOGS, txn))
        for index, add, key, value in index_ops:
            if index.startswith("\0map:"):
                txn.put(key, value, db=self._map_db(index[5:], txn))
                continue
            db = self._index_db(index, txn)
            if add:
                txn.put(key, value, db=db, dupdata=True)
            else:
                txn.delete(key, value, db=db)
        return entries

    def _tick(self, txn: Any) -> tuple[int, int]:
        """The time and number of this write transaction: a hybrid logical clock kept in the LMDB.

        The time is this machine's clock, but always later than the last transaction's (by
        1 µs, the precision times are shown with, if the clock says otherwise), so stored
        times never go backwards whatever the writers' clocks; the number counts write
        transactions registry-wide and orders their reflog entries exactly. A registry
        written before the clock was kept starts it from its newest reflog entry.
        (Kulkarni et al., "Logical Physical Clocks", 2014.)
        """
        db = self._map_db(CLOCK, txn)
        raw = txn.get(b"last", db=db)
        if raw is not None and len(raw) == 16:
            last_ns, last_txn = int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")
        else:  # a registry written before the clock was kept (or whose clock was lost)
            last_ns, last_txn = self._newest_reflog_entry(txn)
        when_ns = max(time.time_ns(), last_ns + _TICK_NS)
        number = last_txn + 1
        txn.put(b"last", when_ns.to_bytes(8, "big") + number.to_bytes(8, "big"), db=db)
        return when_ns, number

    def _newest_reflog_entry(self, txn: Any) -> tuple[int, int]:
        """The largest time and transaction number in the reflog (one scan, once per registry)."""
        import msgspec

        newest_ns = newest_txn = 0
        for _, value in txn.cursor(db=self._reflog):
            doc = msgspec.json.decode(value)
            newest_ns = max(newest_ns, doc.get("when_ns", 0))
            newest_txn = max(newest_txn, doc.get("txn", 0))
        return newest_ns, newest_txn

    def _next_seq(self, txn: Any, key: bytes) -> int:
        cursor = txn.cursor(db=self._reflog)
        found = cursor.prev() if cursor.set_range(key + b"\x01") else cursor.last()
        if (
            found
            and cursor.key().startswith(key + b"\x00")
            and len(cursor.key()) == len(key) + 1 + _SEQ_BYTES
        ):
            return int.from_bytes(cursor.key()[-_SEQ_BYTES:], "big") + 1
        return 0


def _check_expectation(u: _Update, have: str | None) -> None:
    if u.old is _ANY:
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
