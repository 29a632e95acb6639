"""What the access policies allow: which policy covers a name and who holds which role.

- The most specific existing policy decides reading and writing: the name's own, else the
  longest prefix's (`team/x/` before `team/`), else the root's (`/`). A name no policy covers
  is open: anyone may read and write it (as a registry without policies always was).
- Admins may write, writers may read. `public` is everyone; `group:G` is every member of G's
  group record.
- The admins of a name (who may change its policy) are the owner (config core.owner) and the
  admins of EVERY policy covering it: an admin of `team/` administers `team/fraud`.

Every function reads refs through `refs` (a RefStore, or a RefView inside a write transaction,
so a check there sees the policies as they are when the change is committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pacha.errors import ObjectNotFound
from porcelain.errors import CheckFailed
from porcelain.policies import principals
from porcelain.policies import records as rec

ACTIONS = ("read", "write", "admin")


class Refs(Protocol):
    def get(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class Covering:
    """The policies covering one target, most specific first ((target, record id, policy))."""

    policies: list[tuple[str, str, rec.Policy]]

    @property
    def deciding(self) -> rec.Policy | None:
        return self.policies[0][2] if self.policies else None


def covering(plumbing: Any, refs: Refs, target: str) -> Covering:
    """The existing policies covering target (a name, PREFIX/ or '/'), most specific first."""
    found = []
    for each in rec.covering_targets(target):
        object_id = refs.get(rec.target_ref(each))
        if object_id is not None:
            found.append((each, object_id, _policy(plumbing, object_id, each)))
    return Covering(found)


def _policy(plumbing: Any, object_id: str, target: str) -> rec.Policy:
    try:
        return rec.read_policy(plumbing, object_id)
    except ObjectNotFound:
        raise CheckFailed(
            f"the policy of {target} ({object_id}) is not stored here: fetch it or run `pacha fsck`"
        ) from None


def memberships(plumbing: Any, refs: Refs, principal: str, groups: set[str]) -> set[str]:
    """The principals principal counts as: itself, `public`, and each group:G of groups whose
    record lists it."""
    out = {principal, principals.PUBLIC}
    for group in groups:
        object_id = refs.get(rec.GROUPS + group)
        if object_id is not None and principal in rec.read_group(plumbing, object_id).members:
            out.add(f"group:{group}")
    return out


def named_groups(policy: rec.Policy) -> set[str]:
    """The names of the groups policy names in any role."""
    return {p[len("group:") :] for role in rec.ROLES for p in getattr(policy, role) if p.startswith("group:")}


def _named_groups(cover: Covering) -> set[str]:
    out: set[str] = set()
    for _, _, policy in cover.policies:
        out |= named_groups(policy)
    return out


def role_of(plumbing: Any, refs: Refs, principal: str, target: str) -> str | None:
    """The strongest role principal holds on target: "admin", "write", "read" or None."""
    cover = covering(plumbing, refs, target)
    if principal == principals.owner(plumbing):
        return "admin"
    me = memberships(plumbing, refs, principal, _named_groups(cover))
    if any(me & set(policy.admins) for _, _, policy in cover.policies):
        return "admin"
    deciding = cover.deciding
    if deciding is None:
        return "write"  # no policy covers it: open, as a registry without policies
    if me & set(deciding.writers):
        return "write"
    if me & set(deciding.readers):
        return "read"
    return None


def allows(plumbing: Any, refs: Refs, principal: str, action: str, target: str) -> bool:
    """Whether principal may do action ("read", "write" or "admin") on target."""
    have = role_of(plumbing, refs, principal, target)
    return have is not None and ACTIONS.index(have) >= ACTIONS.index(action)
