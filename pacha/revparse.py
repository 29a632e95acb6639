"""Turning what a user types into an object id.

Accepted, tried in this order:
1. a full id (64 hex characters, any case) of a stored object;
2. NAME@{N}: the value ref NAME had N changes ago (0 = now), from the reflog;
3. a ref name;
4. a unique id prefix of at least 4 hex characters.
"""

from __future__ import annotations

import re

from pacha.errors import InvalidInput, ObjectNotFound, RefNotFound
from pacha.ids import MIN_PREFIX_LEN, ZERO_ID, is_full_id, is_hex
from pacha.refs.names import ref_name_problem
from pacha.refs.store import RefStore
from pacha.store import ObjectStore

_REFLOG_SPEC = re.compile(r"(?P<name>.+)@\{(?P<n>\d+)\}")


def resolve(objects: ObjectStore, refs: RefStore, spec: str) -> str:
    """The object id spec names; raises NotFound / InvalidInput / AmbiguousId."""
    if not spec:
        raise InvalidInput("empty object name: give an id, id prefix or ref name")
    if is_full_id(spec):
        object_id = spec.lower()
        fetch = getattr(objects, "fetch_missing", None)  # a lazy registry fetches it (PromisedStore)
        if not objects.has(object_id) and not (fetch is not None and fetch(object_id)):
            raise ObjectNotFound(f"object {object_id} not found")
        return object_id
    match = _REFLOG_SPEC.fullmatch(spec)
    if match:
        return _from_reflog(refs, match["name"], int(match["n"]))
    if ref_name_problem(spec) is None:
        value = refs.get(spec)
        if value is not None:
            return value
    if len(spec) >= MIN_PREFIX_LEN and is_hex(spec):
        found: str = objects.find_prefix(spec)
        return found
    if ref_name_problem(spec) is None:
        if is_hex(spec):  # `cat-object -t 550`: it looks like a prefix, but too short to be one
            raise RefNotFound(
                f"{spec!r} is not a ref, and too short for an object id prefix "
                f"(at least {MIN_PREFIX_LEN} hex characters)"
            )
        raise RefNotFound(f"{spec!r} is neither a ref nor an object id prefix")
    raise InvalidInput(
        f"{spec!r} is not a valid object name: give an id, a prefix of at least "
        f"{MIN_PREFIX_LEN} hex characters, or a ref name"
    )


def _from_reflog(refs: RefStore, name: str, back: int) -> str:
    entries = refs.reflog(name)
    if not entries:
        raise RefNotFound(f"ref {name} has no reflog")
    if back >= len(entries):
        raise RefNotFound(f"ref {name} has only {len(entries)} reflog entries")
    value = entries[-1 - back].new
    if value == ZERO_ID:
        raise RefNotFound(f"{name}@{{{back}}} is a deletion: the ref did not exist then")
    return value
