"""What a remote holds, key by key, and the two documents Pacha writes there (docs/remotes.md).

    pacha-remote                      {"format": "pacha-remote", "version": 1}
    objects/pack/pack-<P>.pack|.idx   packs and indexes, byte for byte as in a registry
    refs                              the ref table (below), moved only by compare-and-swap
    logs/<seq:016>-<h16>              one immutable reflog segment per push

Every document is canonical JSON (sorted keys, no spaces). Whatever is read from a remote
was written by someone else: ref names and ids are checked as a local registry checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
PROBE_DIR = "probe/"


def pack_key(pack_id: str) -> str:
    return f"{PACK_DIR}pack-{pack_id}.pack"


def index_key(pack_id: str) -> str:
    return f"{PACK_DIR}pack-{pack_id}.idx"


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


def format_document() -> bytes:
    return _json({"format": FORMAT_NAME, "version": FORMAT_VERSION})


def check_format(data: bytes, location: str) -> None:
    """Refuse a marker that is not Pacha's or names a newer version."""
    doc = _load(data, FORMAT_KEY)
    if doc.get("format") != FORMAT_NAME or not isinstance(doc.get("version"), int):
        raise RemoteFormatError(f"{location} is not a Pacha remote ({FORMAT_KEY} says otherwise)")
    if doc["version"] > FORMAT_VERSION:
        raise RemoteFormatError(
            f"{location} is a Pacha remote of format {doc['version']}; "
            f"this Pacha reads {FORMAT_VERSION}: upgrade Pacha"
        )


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
        if head is not None and not (isinstance(head, str) and head.startswith(LOG_DIR)):
            raise InvalidInput(f"bad log head {head!r}")
        return RemoteRefTable(
            checked, doc["seq"], head, str(doc.get("who", "")), int(doc.get("when_ns", 0)), etag
        )
    except (InvalidInput, TypeError, ValueError) as exc:
        raise RemoteFormatError(f"the remote's ref table is damaged: {exc}") from None


@dataclass(frozen=True)
class RemoteLogEntry:
    """One change of one remote ref, as the pusher recorded it (old/new: ZERO_ID when absent)."""

    name: str
    old: str
    new: str
    who: str
    when_ns: int  # the pusher's time, never before the previous push's (see reftable.next_time)
    message: str
    seq: int  # the push (segment) number on the remote


@dataclass(frozen=True)
class LogSegment:
    """The entries of one push; prev chains segments back to the first."""

    seq: int
    prev: str | None
    who: str
    when_ns: int
    message: str
    changes: list[tuple[str, str, str]]  # (name, old, new)

    def encode(self) -> bytes:
        return _json(
            {
                "format": FORMAT_VERSION,
                "seq": self.seq,
                "prev": self.prev,
                "who": self.who,
                "when_ns": self.when_ns,
                "message": self.message,
                "entries": [{"name": n, "old": o, "new": w} for n, o, w in self.changes],
            }
        )

    def key(self) -> str:
        """Its key: the sequence number, then a digest so that two racing pushers never collide."""
        return f"{LOG_DIR}{self.seq:016d}-{hash_bytes(self.encode())[:16]}"

    def entries(self) -> list[RemoteLogEntry]:
        return [
            RemoteLogEntry(n, o, w, self.who, self.when_ns, self.message, self.seq)
            for n, o, w in self.changes
        ]


def decode_segment(data: bytes, key: str) -> LogSegment:
    doc = _load(data, key)
    try:
        changes = []
        for entry in doc["entries"]:
            name = check_ref_name(str(entry["name"]))
            old = check_id(str(entry["old"]), "old id") if entry["old"] != ZERO_ID else ZERO_ID
            new = check_id(str(entry["new"]), "new id") if entry["new"] != ZERO_ID else ZERO_ID
            changes.append((name, old, new))
        prev = doc.get("prev")
        if prev is not None and not (isinstance(prev, str) and prev.startswith(LOG_DIR)):
            raise InvalidInput(f"bad prev {prev!r}")
        return LogSegment(
            int(doc["seq"]), prev, str(doc["who"]), int(doc["when_ns"]), str(doc["message"]), changes
        )
    except (InvalidInput, KeyError, TypeError, ValueError) as exc:
        raise RemoteFormatError(f"the remote's reflog segment {key} is damaged: {exc}") from None
