"""Setting, removing and reading back policies and groups: each change one commit, admins only.

A change goes through Core.commit (operation "policy"), so the acting principal's admin role is
checked before anything is written and again inside the ref transaction, the pre- and
post-commit hooks run, and the reflog of policies/ records who changed what, when and why.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

import pacha
from pacha.ids import ZERO_ID
from porcelain.core import Core, RefUpdate
from porcelain.errors import InvalidInput, NotFound
from porcelain.policies import principals
from porcelain.policies import records as rec
from porcelain.signatures.attach import already_signed
from porcelain.signatures.objects import (
    POLICY,
    Made,
    policy_signature,
    removal_signature,
    removal_statement,
)
from porcelain.signatures.settings import default_key, signing_key


@dataclass(frozen=True)
class Stored:
    """A policy or group as its ref names it now."""

    ref: str
    record_id: str
    record: rec.Policy | rec.Group


def _principals(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(principals.parse(t) for t in texts))


def _commit(
    core: Core,
    ref: str,
    old: str | None,
    data: bytes | None,
    target: str,
    message: str,
    subject: dict[str, Any],
    sign: str | None = None,
) -> str | None:
    """One commit moving ref from old (the record the new one names as previous: compare-and-swap)
    to data's id (None: delete), with its signature by key sign (None: unsigned) attached in the
    same ref transaction (porcelain.policies.chain checks it on pull and verify --policy)."""
    new = pacha.hash_bytes(data) if data is not None else None
    if data is None and old is None:
        raise NotFound(
            f"{target} has no policy to remove" if not ref.startswith(rec.GROUPS) else f"no group {target}"
        )
    op = "delete" if new is None else ("update" if old else "create")
    made = _signature(ref, old, data, target, sign) if sign else None
    updates = [RefUpdate(op, ref, new, old), *([made.ref_update()] if made else [])]
    if made is not None:
        subject = {**subject, "signature": {"id": made.record_id, "fingerprint": made.fingerprint}}

    def write_objects() -> None:
        if data is not None:
            core.plumbing.objects.put_bytes(data, "record")
        if made is not None:
            made.store(core.plumbing.objects)

    core.commit("policy", message, updates, {"target": target, **subject}, write_objects=write_objects)
    return new


def _signature(ref: str, old: str | None, data: bytes | None, target: str, key: str) -> Made:
    """The signature of a change: over the new record, or over a statement removing old."""
    if data is not None:
        return policy_signature(data, key)
    assert old is not None
    return removal_signature(removal_statement(target, ref, old), old, key)


def sign_current(core: Core, target: str, key: str | None) -> tuple[Stored, Made]:
    """Sign the record target's policy (or group:NAME) is now (`pacha policy sign`), unless key
    already did (then the Made says already). Admins of target only, as a change.

    Raises NotFound when there is none; InvalidInput when key cannot sign.
    """
    stored = show(core, target)
    key = default_key(core.plumbing.config, key)
    data = core.plumbing.objects.read(stored.record_id)
    earlier = already_signed(core, stored.record_id, POLICY, data, key)
    if earlier is not None:
        return stored, earlier
    made = policy_signature(data, key)
    subject = {"signature": {"id": made.record_id, "fingerprint": made.fingerprint}}
    about = rec.ROOT if stored.ref.startswith(rec.GROUPS) else target
    core.commit(
        "policy", f"sign {stored.ref} by {made.signer}", [made.ref_update()], {"target": about, **subject},
        write_objects=lambda: made.store(core.plumbing.objects),
    )  # fmt: skip
    return stored, made


def set_policy(
    core: Core,
    target: str,
    roles: dict[str, Iterable[str]],
    keys: Iterable[str] = (),
    message: str = "",
    sign: str | None = None,
) -> Stored:
    """Replace target's policy (a name, PREFIX/ or '/').

    Args: roles: "readers", "writers", "admins" -> principal texts (user:ID, group:NAME,
    service-account:ID, public). keys: PRINCIPAL=FINGERPRINT texts. message: why (the reflog).
    sign: the key signing the change (default: user.signingkey when sign.always is true).
    Returns the stored policy. Raises InvalidInput for a bad target or principal; PolicyRefused
    unless the acting principal is an admin of target.
    """
    target = rec.check_target(target)
    unknown = set(roles) - set(rec.ROLES)
    if unknown:
        raise InvalidInput(f"unknown policy field(s) {sorted(unknown)}: use {', '.join(rec.ROLES)}")
    ref = rec.target_ref(target)
    previous = core.plumbing.refs.get(ref)
    policy = rec.Policy(
        target=target,
        readers=_principals(roles.get("readers", ())),
        writers=_principals(roles.get("writers", ())),
        admins=_principals(roles.get("admins", ())),
        keys=rec.normalize_keys(list(keys)),
        author=principals.acting(core.plumbing),
        created_ns=time.time_ns(),
        message=message,
        previous=previous,
    )
    data = rec.encode_policy(policy)
    record_id = _commit(
        core,
        ref,
        previous,
        data,
        target,
        message or f"policy {target}",
        {"policy": msgspec.to_builtins(policy)},
        signing_key(core.plumbing.config, sign),
    )
    assert record_id is not None
    return Stored(ref, record_id, policy)


def remove_policy(core: Core, target: str, message: str = "", sign: str | None = None) -> None:
    """Remove target's policy (its history stays in the reflog). Admins only, as set_policy;
    sign: as set_policy's (a signed statement of the removal, attached to the removed record)."""
    target = rec.check_target(target)
    ref = rec.target_ref(target)
    key = signing_key(core.plumbing.config, sign)
    why = message or f"remove policy {target}"
    _commit(core, ref, core.plumbing.refs.get(ref), None, target, why, {}, key)


def set_group(
    core: Core,
    name: str,
    members: Iterable[str],
    keys: Iterable[str] = (),
    message: str = "",
    sign: str | None = None,
) -> Stored:
    """Replace group NAME's members (users and service accounts) and keys. Admins of '/' only;
    sign: as set_policy's."""
    name = rec.check_group_name(name)
    found = _principals(members)
    bad = [m for m in found if principals.kind_of(m) not in ("user", "service-account")]
    if bad:
        raise InvalidInput(f"group {name}: members are users or service accounts, not {', '.join(bad)}")
    ref = rec.GROUPS + name
    previous = core.plumbing.refs.get(ref)
    group = rec.Group(
        name=name,
        members=found,
        keys=rec.normalize_keys(list(keys)),
        author=principals.acting(core.plumbing),
        created_ns=time.time_ns(),
        message=message,
        previous=previous,
    )
    data = rec.encode_group(group)
    key = signing_key(core.plumbing.config, sign)
    record_id = _commit(core, ref, previous, data, rec.ROOT, message or f"group {name}", {"group": name}, key)
    assert record_id is not None
    return Stored(ref, record_id, group)


def show(core: Core, target: str) -> Stored:
    """The policy of target (or group:NAME's record). Raises NotFound if there is none."""
    if target.startswith("group:"):
        name = rec.check_group_name(target[len("group:") :])
        object_id = core.plumbing.refs.get(rec.GROUPS + name)
        if object_id is None:
            raise NotFound(f"no group {name}: `pacha policy group {name} --member P` defines it")
        return Stored(rec.GROUPS + name, object_id, rec.read_group(core.plumbing, object_id))
    target = rec.check_target(target)
    ref = rec.target_ref(target)
    object_id = core.plumbing.refs.get(ref)
    if object_id is None:
        raise NotFound(f"{target} has no policy of its own (`pacha policy list` shows which apply)")
    return Stored(ref, object_id, rec.read_policy(core.plumbing, object_id))


def listing(core: Core) -> list[Stored]:
    """Every policy and group, in ref order."""
    out = []
    for ref, object_id in core.plumbing.refs.iter("policies/"):
        if ref.startswith(rec.GROUPS):
            out.append(Stored(ref, object_id, rec.read_group(core.plumbing, object_id)))
        elif rec.ref_target(ref) is not None:
            out.append(Stored(ref, object_id, rec.read_policy(core.plumbing, object_id)))
    return out


def history(core: Core, ref: str) -> list[dict[str, Any]]:
    """The audit trail of one policy or group ref, oldest first: who, when, why, old and new ids."""
    return [
        {
            "who": e.who,
            "when_ns": e.when_ns,
            "message": e.message,
            "old": None if e.old == ZERO_ID else e.old,
            "new": None if e.new == ZERO_ID else e.new,
        }
        for e in core.plumbing.refs.reflog(ref)
    ]
