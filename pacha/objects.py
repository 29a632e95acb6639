"""Object kinds and their canonical encodings.

- blob: raw bytes; id = BLAKE3 of the bytes (what `b3sum` prints).
- tree: a directory, canonical JSON {"entries": [...], "type": "tree"}.
- record: a typed document that porcelain defines (model version, run, ...):
  canonical JSON object with a string "type" and, optionally, "links", the
  sorted list of object ids it refers to. Plumbing follows "links" (fsck, gc,
  push) without knowing what the record means.

Canonical JSON is msgspec's compact encoding with keys sorted at every level;
NaN and infinities are refused because JSON cannot carry them faithfully.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from pacha.documents import check_value_depth
from pacha.errors import InvalidInput
from pacha.ids import is_full_id
from pacha.pathnames import check_name

BLOB = "blob"
TREE = "tree"
RECORD = "record"
STRUCTURED_KINDS = frozenset({TREE, RECORD})
KNOWN_KINDS = frozenset({BLOB, TREE, RECORD})

MODE_FILE = "100644"
MODE_EXEC = "100755"
MODE_TREE = "040000"
FILE_MODES = frozenset({MODE_FILE, MODE_EXEC})
# Lists and objects inside each other in a record, at most: a card (pacha.documents.MAX_DEPTH)
# sits a level or two down, and code that walks a record may recurse.
RECORD_MAX_DEPTH = 128


class TreeEntry(msgspec.Struct, frozen=True):
    """One name in a directory: its mode, the object holding it, and its size in bytes."""

    name: str
    mode: str
    id: str
    size: int

    @property
    def kind(self) -> str:
        return TREE if self.mode == MODE_TREE else BLOB


class Tree(msgspec.Struct, frozen=True, tag_field="type", tag=TREE):
    """A directory: entries sorted by name (UTF-8 byte order), names unique."""

    entries: list[TreeEntry]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


def encode(document: Any) -> bytes:
    """The canonical encoding of a tree or record document."""
    _refuse_non_finite(document)
    return msgspec.json.encode(document, order="sorted")


def _refuse_non_finite(value: Any, path: str = "") -> None:
    # Structs (records) are walked too: msgspec would write NaN as null silently.
    # Trees hold only names, ids and sizes, and can be large: not walked.
    if isinstance(value, float):
        if not math.isfinite(value):
            at = f" at {path}" if path else ""
            raise InvalidInput(f"{value}{at} cannot be stored: only finite numbers are allowed")
    elif isinstance(value, Tree | TreeEntry):
        return
    elif isinstance(value, msgspec.Struct):
        for field in value.__struct_fields__:
            _refuse_non_finite(getattr(value, field), f"{path}.{field}" if path else field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_non_finite(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_non_finite(item, f"{path}[{index}]")


def check_entry_name(name: str) -> None:
    """A tree entry's name must be one safe path component (pacha.pathnames)."""
    check_name(name, "tree entry name")


def check_record_names(doc: dict[str, Any]) -> None:
    """A record's `filename`, if it has one, is what a download writes: one safe path component."""
    if "filename" in doc:
        check_name(doc["filename"], "record filename")


def make_tree(entries: list[TreeEntry]) -> Tree:
    """A canonical tree from entries in any order."""
    ordered = sorted(entries, key=lambda e: e.name.encode("utf-8"))
    tree = Tree(ordered)
    _check_tree(tree)
    return tree


def _check_tree(tree: Tree) -> None:
    previous = None
    for entry in tree.entries:
        check_entry_name(entry.name)
        if entry.mode not in (MODE_FILE, MODE_EXEC, MODE_TREE):
            raise InvalidInput(f"tree entry {entry.name!r} has unknown mode {entry.mode!r}")
        if not is_full_id(entry.id) or entry.id != entry.id.lower():
            raise InvalidInput(f"tree entry {entry.name!r} has invalid id {entry.id!r}")
        if entry.size < 0:
            raise InvalidInput(f"tree entry {entry.name!r} has negative size")
        key = entry.name.encode("utf-8")
        if previous is not None and key <= previous:
            raise InvalidInput(f"tree entries are not sorted and unique at {entry.name!r}")
        previous = key


def decode_tree(data: bytes) -> Tree:
    """Parse and validate a tree; raises InvalidInput if it is not canonical."""
    try:
        tree = msgspec.json.decode(data, type=Tree)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"not a valid tree: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"not a valid tree: {exc}") from None
    except RecursionError:  # objects may come from anyone: a deep one is malformed, not a crash
        raise InvalidInput("not a valid tree: nested too deeply") from None
    _check_tree(tree)
    if encode(tree) != data:
        raise InvalidInput("not a canonical tree: keys must be sorted, JSON compact")
    return tree


def decode_record(data: bytes) -> dict[str, Any]:
    """Parse and validate a record document; raises InvalidInput if malformed."""
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"not a valid record: {exc}") from None
    except RecursionError:
        raise InvalidInput("not a valid record: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str) or not doc["type"]:
        raise InvalidInput('not a valid record: expected a JSON object with a string "type"')

    check_value_depth(doc, "not a valid record", RECORD_MAX_DEPTH)  # what reads it may recurse
    links = doc.get("links", [])
    if not isinstance(links, list) or not all(isinstance(x, str) and is_full_id(x) for x in links):
        raise InvalidInput('not a valid record: "links" must be a list of object ids')
    if links != sorted(set(links)) or any(x != x.lower() for x in links):
        raise InvalidInput('not a canonical record: "links" must be sorted, unique, lowercase')
    if encode(doc) != data:
        raise InvalidInput("not a canonical record: keys must be sorted, JSON compact")
    return doc


def validate(kind: str, data: bytes) -> None:
    """Check that data is a well-formed object of kind (blobs are any bytes)."""
    if kind == TREE:
        decode_tree(data)
    elif kind == RECORD:
        check_record_names(decode_record(data))
    elif kind != BLOB:
        raise InvalidInput(f"unknown object kind {kind!r}: use blob, tree or record")


def links(kind: str, data: bytes) -> list[str]:
    """The ids an object refers to (tree entries, record links); blobs refer to none."""
    if kind == TREE:
        return [e.id for e in decode_tree(data).entries]
    if kind == RECORD:
        return list(decode_record(data).get("links", []))
    return []


def make_record(record_type: str, body: dict[str, Any], linked: list[str] | None = None) -> bytes:
    """Encode a record document canonically; linked ids are sorted and deduplicated."""
    doc = dict(body)
    doc["type"] = record_type
    if linked:
        doc["links"] = sorted(set(linked))
    data = encode(doc)
    decode_record(data)
    return data
