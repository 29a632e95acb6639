"""The immutable record written for each registered model or dataset version."""

from __future__ import annotations

from typing import Any

import msgspec

from pacha.ids import is_full_id
from pacha.objects import decode_record, encode


class ParentEdge(msgspec.Struct, frozen=True, omit_defaults=True):
    """A typed lineage edge to a parent version, named by its record id."""

    relation: str
    record: str
    params: dict[str, Any] = {}


class VersionRecord(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """A model-version or dataset-version record (see docs/porcelain.md)."""

    type: str
    name: str
    version: str
    artifact: str  # blob or tree id
    artifact_kind: str  # "blob" | "tree"
    size: int  # bytes of the file, or of every file in the tree
    filename: str  # base name of what was registered, the default download name
    author: str
    created_ns: int
    description: str = ""
    message: str = ""
    card: dict[str, Any] = {}  # model card or datasheet fields
    # None only in records written before non-finite numbers were refused (shown as missing)
    metrics: dict[str, float | None] = {}
    parents: list[ParentEdge] = []
    links: list[str] = []

    def encode(self) -> bytes:
        return encode(self)


def build(**fields: Any) -> VersionRecord:
    """A record whose links name the artifact, every parent and every pinned reference."""
    record = VersionRecord(**fields)
    linked = {record.artifact, *(p.record for p in record.parents), *_pinned_ids(record.card)}
    return msgspec.structs.replace(record, links=sorted(linked))


def is_pinned(value: Any) -> bool:
    """A pinned reference: {"ref": "name:1.0.0", "id": "<record id>"}."""
    return isinstance(value, dict) and set(value) == {"ref", "id"} and is_full_id(str(value["id"]))


def _pinned_ids(card: dict[str, Any]) -> list[str]:
    out = []
    for value in card.values():
        items = value if isinstance(value, list) else [value]
        out.extend(item["id"] for item in items if is_pinned(item))
    return out


def decode(data: bytes) -> VersionRecord:
    decode_record(data)
    return msgspec.json.decode(data, type=VersionRecord)


def commit_subject(
    kind: str,
    name: str,
    version: str,
    record_id: str,
    record: VersionRecord,
    stage: str | None = None,
) -> dict[str, Any]:
    """What hooks are told about the version a commit is about."""
    out = {
        "kind": kind,
        "name": name,
        "version": version,
        "record_id": record_id,
        "record": msgspec.to_builtins(record),
    }
    if stage is not None:
        out["stage"] = stage
    return out
