"""What a remote holds, key by key, and the two documents Pacha writes there (docs/remotes.md).

    pacha-remote                      {"format": "pacha-remote", "id": "<32 hex>", "version": 1}
    objects/pack/pack-<P>.pack|.idx   packs and indexes, byte for byte as in a registry
    objects/pack/pack-<P>.prune-<t>   while a `remote prune` removes pack P (pacha.transport.prune)
    refs                              the ref table (below), moved only by compare-and-swap
    logs/<seq:016>-<h16>              one immutable reflog segment per push

Every document is canonical JSON (sorted keys, no spaces). Whatever is read from a remote
was written by someone else: ref names and ids are checked as a local registry checks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pacha.errors import InvalidInput
from pacha.hashing import hash_bytes
from pacha.ids import ZERO_ID, check_id
from pacha.refs.names import check_ref_name
from pacha.transport.errors import RemoteFormatError

FORMAT_KEY = "pacha-remote"
FORMAT_NAME = "pacha-remote"
FORMAT_VERSION = 1
REFS_KEY = "refs"
PACK_DIR = "objects/pack/"
LOG_DIR = "logs/"
_LOG_KEY = re.compile(r"logs/[0-9]{1,20}-[0-9a-f]{1,64}")  # one file name under logs/
PROBE_DIR = "probe/"


def pack_key(pack_id: str) -> str:
    return f"{PACK_DIR}pack-{pack_id}.pack"


def index_key(pack_id: str) -> str:
    return f"{PACK_DIR}pack-{pack_id}.idx"


PRUNE_LOCK = ".prune-"  # objects/pack/pack-<P>.prune-<16 hex>: a prune removing pack P


def prune_lock_key(pack_id: str, token: str) -> str:
    """The key a `remote prune` writes while it removes pack pack_id (token: its own, random)."""
    return f"{PACK_DIR}pack-{pack_id}{PRUNE_LOCK}{token}"


def pack_id_of_prune_lock(key: str) -> str | None:
    """The pack id in a prune lock key (None if key is not one)."""
    name = key[len(PACK_DIR) :] if key.startswith(PACK_DIR) else ""
    hex_id, sep, _token = name.removeprefix("pack-").partition(PRUNE_LOCK)
    return hex_id if sep and name.startswith("pack-") and len(hex_id) == 64 else None


def pack_id_of_index(key: str) -> str | None:
    """The pack id in an index key (None if key is not one)."""
    name = key[len(PACK_DIR) :] if key.startswith(PACK_DIR) else ""
    if name.startswith("pack-") and name.endswith(".idx") and len(name) == 5 + 64 + 4:
        hex_id = name[5:-4]
        return hex_id if all(c in "0123456789abcdef" for c in hex_id) else None
    return None


def _json(doc: Any) -> bytes:
    import msgspec

    return msgspec.json.encode(doc, order="sorted")


def _load(data: bytes, what: str) -> dict[str, Any]:
    import msgspec

    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise RemoteFormatError(
            f"the remote's {what} is not valid JSON (damaged, or not a Pacha remote)"
        ) from None
    if not isinstance(doc, dict):
        raise RemoteFormatError(f"the remote's {what} is not a JSON object")
    return doc


def is_log_key(value: object) -> bool:
    """A log segment's key as LogSegment.key writes it (logs/SEQ-HASH): a key read from a remote's
    document names a file of the remote, never a path with '..' leading outside it."""
    return isinstance(value, str) and _LOG_KEY.fullmatch(value) is not None


def format_document(old: dict[str, Any] | None = None) -> bytes:
    """The marker: format, version and a random id naming this remote (not another made later
    at the same URL: what a registry remembers about a remote is kept under it). old: an older
    marker without an id, whose other fields are kept."""
    import uuid

    return _json({**(old or {}), "format": FORMAT_NAME, "version": FORMAT_VERSION, "id": uuid.uuid4().hex})


def check_format(data: bytes, location: str) -> dict[str, Any]:
    """The marker's fields; refuses a marker that is not Pacha's or names a newer version."""
    doc = _load(data, FORMAT_KEY)
    if doc.get("format") != FORMAT_NAME or not isinstance(doc.get("version"), int):
        raise RemoteFormatError(f"{location} is not a Pacha remote ({FORMAT_KEY} says otherwise)")
    if doc["version"] > FORMAT_VERSION:
        raise RemoteFormatError(
            f"{location} is a Pacha remote of format {doc['version']}; "
            f"this Pacha reads {FORMAT_VERSION}: upgrade Pacha"
        )
    return doc


@dataclass
class RemoteRefTable:
    """The remote's refs as one document. etag: the version read (None: no table yet)."""

    refs: dict[str, str] = field(default_factory=dict)
    seq: int = 0  # number of pushes that moved refs (the newest segment's seq)
    log_head: str | None = None  # key of the newest reflog segment
    who: str = ""
    when_ns: int = 0
    etag: str | None = None

    def encode(self) -> bytes:
        return _json(
            {
                "format": FORMAT_VERSION,
                "refs": self.refs,
                "seq": self.seq,
                "log": self.log_head,
                "who": self.who,
                "when_ns": self.when_ns,
            }
        )


def decode_table(data: bytes, etag: str) -> RemoteRefTable:
    doc = _load(data, REFS_KEY)
    try:
        refs = doc.get("refs")
        if not isinstance(refs, dict) or not isinstance(doc.get("seq"), int):
            raise InvalidInput("fields refs and seq are required")
        checked = {
            check_ref_name(str(name)): check_id(str(value), f"ref {name}") for name, value in refs.items()
        }
        head = doc.get("log")
        if head is not None and not is_log_key(head):
            raise InvalidInput(f"bad log head {head!r}")
        return RemoteRefTable(
            checked, doc["seq"], head, str(doc.get("who", "")), int(doc.get("when_ns", 0)), etag
        )
    except (InvalidInput, TypeError, ValueError) as exc:
        raise RemoteFormatError(f"the remote's ref table is damaged: {exc}") from None


@dataclass(frozen=True)
class RemoteLogEntry:
    """One change of one remote ref (old/new: ZERO_ID when absent): who made it, when and why
    on the machine that made it (a change carried by a push), else the push's own."""

    name: str
    old: str
    new: str
    who: str
    when_ns: int  # when the change was made (ns since the epoch; the push's time if not carried)
    message: str
    seq: int  # the push (segment) number on the remote
    pushed_by: str = ""  # who pushed it
    pushed_ns: int = 0  # the push's time, never before the previous push's (reftable.next_time)
    txn: int = 0  # the pusher's local transaction number (changes made together share it); 0: the push's


class Change(NamedTuple):
    """One entry of a segment: a ref change, with the who/time/message/local transaction of the
    machine that made it when the push carried it from its reflog (None/0: the push's own)."""

    name: str
    old: str
    new: str
    who: str | None = None
    when_ns: int | None = None
    message: str | None = None
    txn: int = 0

    def encode(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "old": self.old, "new": self.new}
        if self.who is not None:
            doc.update(who=self.who, when_ns=self.when_ns, message=self.message, txn=self.txn)
        return doc


@dataclass(frozen=True)
class LogSegment:
    """The entries of one push; prev chains segments back to the first."""

    seq: int
    prev: str | None
    who: str
    when_ns: int
    message: str
    changes: list[Change]

    def encode(self) -> bytes:
        return _json(
            {
                "format": FORMAT_VERSION,
                "seq": self.seq,
                "prev": self.prev,
                "who": self.who,
                "when_ns": self.when_ns,
                "message": self.message,
                "entries": [change.encode() for change in self.changes],
            }
        )

    def key(self) -> str:
        """Its key: the sequence number, then a digest so that two racing pushers never collide."""
        return f"{LOG_DIR}{self.seq:016d}-{hash_bytes(self.encode())[:16]}"

    def entries(self) -> list[RemoteLogEntry]:
        return [
            RemoteLogEntry(
                c.name,
                c.old,
                c.new,
                c.who if c.who is not None else self.who,
                c.when_ns if c.when_ns is not None else self.when_ns,
                c.message if c.message is not None else self.message,
                self.seq,
                self.who,
                self.when_ns,
                c.txn,
            )
            for c in self.changes
        ]


def _change(entry: dict[str, Any]) -> Change:
    name = check_ref_name(str(entry["name"]))
    old = check_id(str(entry["old"]), "old id") if entry["old"] != ZERO_ID else ZERO_ID
    new = check_id(str(entry["new"]), "new id") if entry["new"] != ZERO_ID else ZERO_ID
    if "who" not in entry:
        return Change(name, old, new)
    if not isinstance(entry["when_ns"], int) or not isinstance(entry.get("txn", 0), int):
        raise InvalidInput(f"bad time or transaction of an entry of {name}")
    return Change(
        name, old, new, str(entry["who"]), entry["when_ns"], str(entry["message"]), entry.get("txn", 0)
    )


def decode_segment(data: bytes, key: str) -> LogSegment:
    doc = _load(data, key)
    try:
        changes = [_change(entry) for entry in doc["entries"]]
        prev = doc.get("prev")
        if prev is not None and not is_log_key(prev):
            raise InvalidInput(f"bad prev {prev!r}")
        return LogSegment(
            int(doc["seq"]), prev, str(doc["who"]), int(doc["when_ns"]), str(doc["message"]), changes
        )
    except (InvalidInput, KeyError, TypeError, ValueError) as exc:
        raise RemoteFormatError(f"the remote's reflog segment {key} is damaged: {exc}") from None
