"""Policy and group records and where their refs live.

    policies/root                      -> the access-policy of every name (`pacha policy set /`)
    policies/prefixes/<prefix>         -> the access-policy of names under <prefix>/ (`team/`)
    policies/names/<name>              -> the access-policy of one name (model, dataset, recipe)
    policies/groups/<group>            -> the access-group record defining group:<group>

A record names the record it replaces (`previous`), and each change is one ref transaction,
so the reflog of `policies/` is the audit trail (who, when, why) and `policy show --history`
walks it. Policies are ordinary refs: push and pull carry them.
"""

from __future__ import annotations

from typing import Any

import msgspec

import pacha
import porcelain.names as names
from porcelain.errors import InvalidInput
from porcelain.policies import principals

POLICY_TYPE = "access-policy"
GROUP_TYPE = "access-group"
ROOT_REF = "policies/root"
PREFIXES = "policies/prefixes/"
NAMES = "policies/names/"
GROUPS = "policies/groups/"
ROLES = ("readers", "writers", "admins")  # the specification's AccessPolicy fields
ROOT = "/"  # how the whole registry is written on the command line


class Policy(msgspec.Struct, frozen=True):
    """An access policy: target is a name, a prefix ending in '/', or '/' (everything)."""

    target: str
    readers: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    keys: dict[str, tuple[str, ...]] = {}  # principal -> OpenPGP key fingerprints (upper-case hex)
    author: str = ""
    created_ns: int = 0
    message: str = ""
    previous: str | None = None


class Group(msgspec.Struct, frozen=True):
    """A group of principals (users and service accounts) and their keys."""

    name: str
    members: tuple[str, ...] = ()
    keys: dict[str, tuple[str, ...]] = {}
    author: str = ""
    created_ns: int = 0
    message: str = ""
    previous: str | None = None


def check_target(text: str) -> str:
    """A policy target: '/' (every name), PREFIX/ (a namespace) or NAME. Raises InvalidInput."""
    if text == ROOT:
        return ROOT
    bare = text[:-1] if text.endswith("/") else text
    try:
        names.check_name(bare)
    except InvalidInput as exc:
        raise InvalidInput(f"policy target {text!r}: {exc} (or '/' for every name)") from None
    return text


def check_group_name(text: str) -> str:
    """A group name: a name's rules without '/'."""
    if "/" in text:
        raise InvalidInput(f"group name {text!r} must not contain '/'")
    names.check_name(text)
    return text


def target_ref(target: str) -> str:
    """The ref holding target's policy."""
    if target == ROOT:
        return ROOT_REF
    if target.endswith("/"):
        return PREFIXES + target[:-1]
    return NAMES + target


def ref_target(ref: str) -> str | None:
    """The target a policy ref names; None for a ref that is not a policy's."""
    if ref == ROOT_REF:
        return ROOT
    if ref.startswith(PREFIXES):
        return ref[len(PREFIXES) :] + "/"
    if ref.startswith(NAMES):
        return ref[len(NAMES) :]
    return None


def covering_targets(target: str) -> list[str]:
    """Every target whose policy can apply to target (a name or a prefix), most specific first:
    itself, its prefixes from longest to shortest, then '/'."""
    if target == ROOT:
        return [ROOT]
    parts = target.rstrip("/").split("/")
    prefixes = ["/".join(parts[:i]) + "/" for i in range(len(parts) - 1, 0, -1)]
    return list(dict.fromkeys([target, *prefixes, ROOT]))


def encode_policy(policy: Policy) -> bytes:
    """The canonical record bytes of a policy (links: the record it replaces)."""
    body = msgspec.to_builtins(policy)
    return pacha.make_record(POLICY_TYPE, body, [policy.previous] if policy.previous else None)


def encode_group(group: Group) -> bytes:
    body = msgspec.to_builtins(group)
    return pacha.make_record(GROUP_TYPE, body, [group.previous] if group.previous else None)


def _decode(data: bytes, record_type: str, struct: type[Any], object_id: str) -> Any:
    try:
        doc = msgspec.json.decode(data)
        if not isinstance(doc, dict) or doc.pop("type", None) != record_type:
            raise InvalidInput(f"object {object_id} is not an {record_type} record")
        doc.pop("links", None)
        return msgspec.convert(doc, struct)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"object {object_id} is not a valid {record_type} record: {exc}") from None


def read_policy(plumbing: Any, object_id: str) -> Policy:
    """The policy record object_id. Raises ObjectNotFound; InvalidInput if it is not one."""
    policy: Policy = _decode(plumbing.objects.read(object_id), POLICY_TYPE, Policy, object_id)
    return policy


def read_group(plumbing: Any, object_id: str) -> Group:
    """The group record object_id. Raises ObjectNotFound; InvalidInput if it is not one."""
    group: Group = _decode(plumbing.objects.read(object_id), GROUP_TYPE, Group, object_id)
    return group


def normalize_keys(pairs: list[str]) -> dict[str, tuple[str, ...]]:
    """PRINCIPAL=FINGERPRINT texts -> {principal: (fingerprints...)}. Raises InvalidInput."""
    out: dict[str, list[str]] = {}
    for pair in pairs:
        who, sep, fpr = pair.partition("=")
        fpr = fpr.strip().replace(" ", "").upper()
        if not sep or len(fpr) < 16 or any(c not in "0123456789ABCDEF" for c in fpr):
            raise InvalidInput(
                f"--key {pair!r}: write PRINCIPAL=FINGERPRINT (the hex fingerprint `gpg -K` shows)"
            )
        principal = principals.parse(who)
        if principal == principals.PUBLIC or principals.kind_of(principal) == "group":
            raise InvalidInput(f"--key {pair!r}: keys belong to a user or a service account")
        out.setdefault(principal, [])
        if fpr not in out[principal]:
            out[principal].append(fpr)
    return {who: tuple(fprs) for who, fprs in sorted(out.items())}
