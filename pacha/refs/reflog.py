"""The reflog: every change of every ref, the registry's audit trail.

Table ``reflog`` (docs/format.md, "Refs"): key = ref name + 0x00 + u64 BE sequence (0, 1, …
per ref), value = canonical JSON (keys sorted) {"old", "new", "who", "when_ns", "message",
"txn"}. Entries are ordered by ``txn``, the registry-wide number of the write transaction
that wrote them (pacha.refs.clock), never by a writer's wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pacha.refs.tables import Db, Txn, prefix_items

SEQ_BYTES = 8
EXPIRED_REFLOGS = "expired-reflogs"  # map: ref name -> last reflog seq whose ids gc may collect


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
    # when the change was made on the machine that made it, for a change replayed from a remote
    # (fetch, pull, clone); 0: made here, at when_ns. when_ns stays this registry's clock (order, --at).
    made_ns: int = 0

    @property
    def made_at(self) -> int:
        """When the change was made where it was made (made_ns, else when_ns), ns since the epoch."""
        return self.made_ns or self.when_ns

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
            **({"made_ns": self.made_ns} if self.made_ns else {}),
        }


def iso_time(when_ns: int) -> str:
    """ISO 8601 in UTC, truncated to the microsecond (integer arithmetic: no float rounding)."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=when_ns // 1000)
    return moment.isoformat(timespec="microseconds")


def entry_key(name: bytes, seq: int) -> bytes:
    """The reflog key of entry seq of the ref name (UTF-8)."""
    return name + b"\x00" + seq.to_bytes(SEQ_BYTES, "big")


def ref_of(key: bytes) -> str:
    """The ref name of a reflog key."""
    return key[: -SEQ_BYTES - 1].decode("utf-8")


def decode_entry(key: bytes, value: bytes) -> ReflogEntry:
    """The entry stored under key."""
    doc = _json().decode(value)
    seq = int.from_bytes(key[-SEQ_BYTES:], "big")
    return ReflogEntry(
        ref_of(key),
        seq,
        doc["old"],
        doc["new"],
        doc["who"],
        doc["when_ns"],
        doc["message"],
        doc.get("txn", 0),
        doc.get("made_ns", 0),
    )


def encode_entry(entry: ReflogEntry) -> bytes:
    """The stored value of an entry: canonical JSON, keys sorted."""
    doc = {
        "old": entry.old,
        "new": entry.new,
        "who": entry.who,
        "when_ns": entry.when_ns,
        "message": entry.message,
        "txn": entry.txn,
    }
    if entry.made_ns:
        doc["made_ns"] = entry.made_ns
    data: bytes = _json().encode(doc, order="sorted")
    return data


def newest(txn: Txn, reflog: Db | None) -> tuple[int, int]:
    """The largest time and transaction number in the reflog (one scan of the whole table)."""
    json = _json()
    newest_ns = newest_txn = 0
    for _, value in prefix_items(txn, reflog):
        doc = json.decode(value)
        newest_ns = max(newest_ns, doc.get("when_ns", 0))
        newest_txn = max(newest_txn, doc.get("txn", 0))
    return newest_ns, newest_txn


def next_seq(txn: Txn, reflog: Db, key: bytes) -> int:
    """The sequence number the next entry of the ref key (UTF-8 name) gets: one past its last."""
    cursor = txn.cursor(db=reflog)
    found = cursor.prev() if cursor.set_range(key + b"\x01") else cursor.last()
    if found and cursor.key().startswith(key + b"\x00") and len(cursor.key()) == len(key) + 1 + SEQ_BYTES:
        return int.from_bytes(cursor.key()[-SEQ_BYTES:], "big") + 1
    return 0


def _json() -> Any:
    """msgspec.json, imported on first use: commands that never read the reflog skip its cost."""
    import msgspec

    return msgspec.json
