"""The one check porcelain's actions call: may the acting principal do this to this name?

Core.commit calls `guard` for every commit (register, stage, delete, expire, restore, lineage,
policy changes): it checks once before anything is written (so a refusal writes nothing, not
even the objects) and returns an invariant that checks again inside the ref transaction, where
LMDB admits one writer, so a policy changed concurrently cannot be slipped past. Reads (get,
download, list) and run writes call `require`.

A local policy stops honest mistakes and users who go through `pacha`; whoever can write the
registry's files can bypass it (docs/security.md, "Access policies"). Signatures checked by
`pacha verify --policy` are what prove who did what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from porcelain.errors import CheckFailed
from porcelain.policies import principals, rules

# what each commit operation (Core.commit's `operation`) needs
OPERATIONS = {
    "register": "write",
    "stage": "write",
    "delete": "write",
    "expire": "write",
    "restore": "write",
    "lineage": "write",
    "run": "write",
    "policy": "admin",
}


# how a refusal says an operation whose name is not a verb
WORDS = {"policy": "change the policy of", "run": "record runs of", "lineage": "add lineage to"}


class PolicyRefused(CheckFailed):
    """The access policy does not let the acting principal do this (exit 1; nothing written)."""


def refusal(
    principal: str, action: str, operation: str, target: str, plumbing: Any, refs: Any
) -> PolicyRefused:
    """The one line of a refusal: the principal, the action and the name, and which policy said no."""
    cover = rules.covering(plumbing, refs, target)
    need = {"read": "a reader", "write": "a writer", "admin": "an admin"}[action]
    doing = WORDS.get(operation, operation if operation == action else f"{operation} ({action})")
    if cover.policies:
        where = cover.policies[0][0]
        why = f"the access policy of {where} does not make it {need} (see `pacha policy show {where}`)"
    else:
        owner = principals.owner(plumbing)
        why = "no policy covers it and only the registry's owner administers it " + (
            f"({owner})" if owner else "(none is recorded: `pacha config core.owner user:EMAIL`)"
        )
    return PolicyRefused(f"{principal} may not {doing} {target}: {why}")


def require(plumbing: Any, action: str, target: str, operation: str | None = None, refs: Any = None) -> str:
    """Raise PolicyRefused unless the acting principal may do action on target.

    Args: action: "read", "write" or "admin". target: a name, PREFIX/ or '/'. operation: the word
    the refusal uses (register, download...; default: action). refs: where to read the policies
    (a RefView inside a transaction; default the committed refs).
    Returns the acting principal.
    """
    principal = principals.acting(plumbing)
    view = plumbing.refs if refs is None else refs
    if not rules.allows(plumbing, view, principal, action, target):
        raise refusal(principal, action, operation or action, target, plumbing, view)
    return principal


def guard(plumbing: Any, operation: str, target: str | None) -> Callable[[Any], None] | None:
    """Check a commit now; return the same check for inside its transaction (None: nothing to check).

    Raises PolicyRefused before anything is written.
    """
    action = OPERATIONS.get(operation, "write")  # an operation not listed changes things
    if not target:
        return None
    require(plumbing, action, target, operation)

    def recheck(view: Any) -> None:
        require(plumbing, action, target, operation, view)

    return recheck


def readable_names(plumbing: Any, names: list[str]) -> list[str]:
    """The names the acting principal may read (what `list` shows without naming one)."""
    principal = principals.acting(plumbing)
    return [name for name in names if rules.allows(plumbing, plumbing.refs, principal, "read", name)]


def require_run(plumbing: Any, record: dict[str, Any], refs: Any = None) -> None:
    """A run's changes (record, metric points) need write on its recipe's name (recipe_ref is
    NAME:VERSION). refs: as require's."""
    name = str(record.get("recipe_ref", "")).rpartition(":")[0]
    if name:
        require(plumbing, "write", name, "run", refs)
