"""Turning what a user types into an object id.

Accepted, tried in this order:
1. a full id (64 hex characters, any case) of a stored object;
2. NAME@{N}: the value ref NAME had N changes ago (0 = now), from the reflog;
3. a ref name;
4. a unique id prefix of at least 4 hex characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pacha.errors import InvalidInput, ObjectNotFound, RefNotFound
from pacha.ids import MIN_PREFIX_LEN, ZERO_ID, is_full_id, is_hex

if TYPE_CHECKING:
    from pacha.registry import Registry


def resolve(registry: Registry, spec: str) -> str:
    """The object id spec names; raises NotFound / InvalidInput / AmbiguousId."""
    if not spec:
        raise InvalidInput("empty object name: give an id, id prefix or ref name")
    if is_full_id(spec):
        object_id = spec.lower()
        if not registry.objects.has(object_id):
            raise ObjectNotFound(f"object {object_id} not found")
        return object_id
    import re

    from pacha.refs.names import ref_name_problem

    match = re.fullmatch(r"(?P<name>.+)@\{(?P<n>\d+)\}", spec)
    if match:
        return _from_reflog(registry, match["name"], int(match["n"]))
    if ref_name_problem(spec) is None:
        value = registry.refs.get(spec)
        if value is not None:
            return value
    if len(spec) >= MIN_PREFIX_LEN and is_hex(spec):
        return registry.objects.find_prefix(spec)
    if ref_name_problem(spec) is None:
        raise RefNotFound(f"{spec!r} is neither a ref nor an object id prefix")
    raise InvalidInput(
        f"{spec!r} is not a valid object name: give an id, a prefix of at least "
        f"{MIN_PREFIX_LEN} hex characters, or a ref name"
    )


def _from_reflog(registry: Registry, name: str, back: int) -> str:
    entries = registry.refs.reflog(name)
    if not entries:
        raise RefNotFound(f"ref {name} has no reflog")
    if back >= len(entries):
        raise RefNotFound(f"ref {name} has only {len(entries)} reflog entries")
    value = entries[-1 - back].new
    if value == ZERO_ID:
        raise RefNotFound(f"{name}@{{{back}}} is a deletion: the ref did not exist then")
    return value
