"""`pacha verify --policy`: a version, and the change that put it in its stage, must be signed by a
key of a principal the access policy allows to make it.

On a shared remote anyone holding the bucket's credentials can write refs and records, so a local
policy proves nothing there; a signature does. For the version NAME:VER this checks, against the
policies covering NAME as this registry holds them (pulled with everything else):

- the version record carries a good, trusted signature (porcelain.signatures) whose key belongs
  to a principal allowed to write NAME: the owner, an admin of any covering policy, or a writer of
  the deciding one (a group stands for its members; `public` for any signer);
- unless the version is still in its first stage, the stage change that put it where it is now is
  signed likewise.

A principal's keys are the fingerprints listed for it (`--key PRINCIPAL=FPR`) in the policies
covering NAME and in the group records those policies name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import porcelain.layout as layout
from porcelain.core import Core
from porcelain.policies import principals, rules
from porcelain.policies import records as rec
from porcelain.results import Version
from porcelain.signatures.verify import SignatureCheck, signatures_of
from porcelain.stages.rules import INITIAL


@dataclass(frozen=True)
class Signers:
    """Who may sign changes of one name: principal -> key fingerprints; anyone when public may."""

    name: str
    deciding: str | None  # the target whose policy decides (None: no policy covers the name)
    keys: dict[str, set[str]]
    anyone: bool
    via: dict[str, str]  # a member allowed through a group -> "group:NAME"
    role: str = "write"  # what the signers may do: "write" (versions, stages) or "admin" (policies)

    def principal_of(self, fingerprint: str) -> str | None:
        """The allowed principal whose key this is (fingerprints match in full, or by the
        long key id the policy lists); "public" when anyone may; else None."""
        fpr = fingerprint.upper()
        for principal, fprs in sorted(self.keys.items()):
            if any(len(k) >= 16 and fpr.endswith(k) for k in fprs):
                return f"{principal} (in {self.via[principal]})" if principal in self.via else principal
        return principals.PUBLIC if self.anyone and fpr else None

    def describe(self) -> str:
        if self.anyone:
            return "anyone with a trusted key (public writes it)"
        listed = [f"{p} ({len(k)} key(s))" for p, k in sorted(self.keys.items())]
        return ", ".join(listed) or "nobody (no allowed principal has a key: `pacha policy set --key`)"


def signers(plumbing: Any, refs: Any, name: str, role: str = "write") -> Signers:
    """The principals allowed to write name (owner, admins of every covering policy, writers of
    the deciding one; groups by their members), or with role "admin" to administer it (the same
    without the writers), and their keys from the covering policies and the group records."""
    cover = rules.covering(plumbing, refs, name)
    deciding = cover.deciding
    allowed: set[str] = {p for p in [principals.owner(plumbing)] if p}
    for _, _, policy in cover.policies:
        allowed |= set(policy.admins)
    if role == "write":
        allowed |= set(deciding.writers) if deciding is not None else set()
    listed: dict[str, set[str]] = {}
    for _, _, policy in cover.policies:
        for who, fprs in policy.keys.items():
            listed.setdefault(who, set()).update(fprs)
    people = {p for p in allowed if principals.kind_of(p) in ("user", "service-account")}
    via: dict[str, str] = {}
    for group in sorted(p[len("group:") :] for p in allowed if p.startswith("group:")):
        object_id = refs.get(rec.GROUPS + group)
        if object_id is None:
            continue
        record = rec.read_group(plumbing, object_id)
        via.update({m: f"group:{group}" for m in record.members if m not in people and m not in via})
        people |= set(record.members)
        for who, fprs in record.keys.items():
            listed.setdefault(who, set()).update(fprs)
    anyone = (deciding is None and role == "write") or principals.PUBLIC in allowed
    keys = {p: {f.upper() for f in listed.get(p, set())} for p in people if listed.get(p)}
    return Signers(name, cover.policies[0][0] if cover.policies else None, keys, anyone, via, role)


def judge(allowed: Signers, about: str, checks: Iterable[SignatureCheck]) -> tuple[str | None, str | None]:
    """(the line saying who signed it, or None; the problem, or None) for the signatures of one
    thing (a version record or one stage change)."""
    checks = list(checks)
    for check in checks:
        if check.ok:
            who = allowed.principal_of(check.fingerprint)
            if who is not None:
                return f"{about}: signed by {who} with {check.fingerprint} ({check.uid})", None
    policy = f"the access policy of {allowed.deciding}" if allowed.deciding else "no policy"
    if allowed.role == "admin":
        policy = f"the policy in force before it ({allowed.deciding or 'none: the owner alone'})"
    rule = f"{policy} accepts signatures by {allowed.describe()}"
    good = [c for c in checks if c.ok]
    verb = "administer" if allowed.role == "admin" else "write"
    if good:
        by = ", ".join(f"{c.uid} ({c.fingerprint})" for c in good)
        return None, f"{about} is signed by {by}, not by a principal allowed to {verb} {allowed.name}: {rule}"
    if checks:
        return None, f"{about} has no good signature by a trusted key ({checks[0].text}): {rule}"
    return None, f"{about} is not signed: {rule}"


def verify_policy(core: Core, version: Version, keyring: Path | None = None) -> tuple[list[str], list[str]]:
    """Check version's record signature and, past its first stage, the signature of the change that
    put it in its stage, against the access policy of its name.

    Returns (lines saying who signed what, problems: one line each).
    Raises InvalidInput when gpg or the keyring cannot be used (porcelain.signatures).
    """
    allowed = signers(core.plumbing, core.plumbing.refs, version.name)
    checks = signatures_of(core, version, keyring)
    found = [judge(allowed, version.ref, (c for c in checks if c.what == "version"))]
    if version.kind in layout.STAGED and version.stage != INITIAL:
        entering = [
            c
            for c in checks
            if c.current and c.statement is not None and c.statement.get("to") == version.stage
        ]
        about = f"the change of {version.ref} to {version.stage}"
        found.append(judge(allowed, about, entering))
    return [ok for ok, _ in found if ok], [bad for _, bad in found if bad]
