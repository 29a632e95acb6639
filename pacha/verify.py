"""Verifying objects: one object (header, decoding, size, hash, its kind's structure), many on
threads, and a whole closure (an object and everything it links to)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pacha import objects as kinds
from pacha.errors import InvalidInput, ObjectNotFound, PachaError
from pacha.size_check import size_problems
from pacha.store import ObjectStore


@dataclass(frozen=True, slots=True)
class ObjectCheck:
    id: str
    kind: str | None
    links: tuple[str, ...]
    problem: str | None
    missing_link: bool = False  # the problem is an object it needs (chunk, delta base) that is missing


def check_object(store: ObjectStore, object_id: str) -> ObjectCheck:
    """Verify one object: header, decoding, size, hash, and structure of its kind."""
    try:
        with store.open(object_id) as reader:
            kind = reader.kind
            if kind in kinds.STRUCTURED_KINDS:
                data = reader.read()
                linked = tuple(kinds.links(kind, data))
                if kind == kinds.RECORD:
                    try:  # a name a download would write outside its folder is damage
                        kinds.check_record_names(kinds.decode_record(data))
                    except InvalidInput as exc:
                        return ObjectCheck(object_id, kind, linked, f"object {object_id} is malformed: {exc}")
                sizes = size_problems(store, object_id, kind, data)  # stated sizes vs stored ones
                return ObjectCheck(object_id, kind, linked, "; ".join(sizes) or None)
            reader.verify()
            if kind not in kinds.KNOWN_KINDS:
                return ObjectCheck(object_id, kind, (), f"object {object_id} has unknown kind {kind!r}")
            return ObjectCheck(object_id, kind, (), None)
    except InvalidInput as exc:
        return ObjectCheck(object_id, None, (), f"object {object_id} is malformed: {exc}")
    except PachaError as exc:
        problem = str(exc)
        if object_id not in problem:  # e.g. the base of a delta, or a chunk, is what is damaged
            problem = f"object {object_id} cannot be read: {problem}"
        return ObjectCheck(object_id, None, (), problem, isinstance(exc, ObjectNotFound))


def check_all(store: ObjectStore, ids: list[str], jobs: int) -> Iterator[ObjectCheck]:
    """check_object of each id, in order, on jobs threads (blake3 and zstd release the GIL, so
    threads verify on every core)."""
    if jobs <= 1 or len(ids) < 2:
        for object_id in ids:
            yield check_object(store, object_id)
        return
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(lambda i: check_object(store, i), ids, chunksize=16)


def verify_closure(store: ObjectStore, roots: list[str], jobs: int = 2) -> tuple[int, list[str]]:
    """Verify roots and everything they link to, transitively (trees, records).

    Returns how many objects were checked and the problems found. Because links
    name objects by hash, this proves a whole history unchanged, as Git does.
    """
    seen: set[str] = set()
    problems: list[str] = []
    frontier = list(dict.fromkeys(roots))
    while frontier:
        batch = [i for i in frontier if i not in seen]
        seen.update(batch)
        frontier = []
        for check in check_all(store, batch, jobs):
            if check.problem:
                problems.append(check.problem)
            for linked in check.links:
                if linked in seen:
                    continue
                if not store.has(linked):
                    problems.append(f"missing object {linked} (linked from {check.kind} {check.id})")
                    seen.add(linked)
                else:
                    frontier.append(linked)
    return len(seen), problems
