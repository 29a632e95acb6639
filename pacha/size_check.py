"""Cross-checking the sizes objects state about other objects against what is stored.

A tree states each entry's size (a file's bytes, or the total below a folder);
a record that names an `artifact` among its links and has an integer `size`
states that artifact's size (the porcelain's version records do). fsck and
verify compare each statement with the stored object: a blob's size from its
header, a tree's as the sum of its entries. A mismatch means a record or tree
says something untrue about bytes that are themselves intact.
"""

from __future__ import annotations

from pacha import objects as kinds
from pacha.errors import PachaError
from pacha.store import ObjectStore


def size_claims(kind: str, data: bytes) -> list[tuple[str, int, str]]:
    """(object id, stated size, what states it) for each size an object states."""
    if kind == kinds.TREE:
        return [(e.id, e.size, f"entry {e.name!r}") for e in kinds.decode_tree(data).entries]
    if kind == kinds.RECORD:
        doc = kinds.decode_record(data)
        artifact, size = doc.get("artifact"), doc.get("size")
        named = isinstance(artifact, str) and artifact in doc.get("links", [])
        if named and isinstance(artifact, str) and isinstance(size, int) and not isinstance(size, bool):
            return [(artifact, size, "its artifact")]
    return []


def stored_size(store: ObjectStore, object_id: str) -> int | None:
    """The size of what is stored under object_id (None if it cannot be read: the
    object's own check reports why)."""
    try:
        info = store.stat(object_id)
        if info.kind == kinds.BLOB:
            return info.size
        if info.kind == kinds.TREE:
            with store.open(object_id) as reader:
                return kinds.decode_tree(reader.read()).size
    except PachaError:
        return None
    return None


def size_problems(store: ObjectStore, object_id: str, kind: str, data: bytes) -> list[str]:
    """One line for each size the object states that the stored object contradicts."""
    out = []
    for target, stated, what in size_claims(kind, data):
        actual = stored_size(store, target)
        if actual is not None and actual != stated:
            out.append(
                f"{kind} {object_id} says {what} is {stated} bytes, but object {target} holds {actual}"
            )
    return out
