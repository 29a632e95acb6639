"""The policy chain: every policy or group change must be signed by an admin of its target under
the policy state in force before it.

A change is a new access-policy or access-group record at a `policies/` ref (it names the record
it replaces, `previous`), or the removal of one (a signed `policy-removal` statement attached to
the removed record). Its target's admins under a state are the owner and the admins of every
policy covering the target (for a group: the admins of `/`), with the keys that state lists for
them (signed.signers, role "admin"). A change is authorized when one of its signatures is good,
by a trusted key (porcelain.signatures.gpg), and by a key of such an admin.

Changes are judged in order, each against the state the changes before it made: per ref in
`previous` order, across refs by the time each record (or removal statement) says it was made.
The first change judged against an empty state (a registry's first policy, or a first pull into a
registry without policies) has no admin to vouch for it: it is taken on trust if signed by a
trusted key (trust on first use; docs/security.md, "The policy chain").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pacha.errors import PachaError
from porcelain.core import Core
from porcelain.policies import records as rec
from porcelain.policies import rules
from porcelain.policies.signed import Signers, judge, signers
from porcelain.signatures.gpg import Verifier, verifier
from porcelain.signatures.objects import POLICY, REMOVAL, SIGNATURE, signatures_prefix
from porcelain.signatures.settings import root_keys, trusted_keyring
from porcelain.signatures.verify import SignatureCheck

Fetch = Callable[[list[str]], Any]


@dataclass(frozen=True)
class Change:
    """One policy or group change: record_id replaces previous at ref (record_id None: removed)."""

    ref: str
    record_id: str | None
    previous: str | None
    time_ns: int
    author: str  # who the record says made it ("" for a removal: its signature says)
    claims: str = ""  # the target (or group:NAME) the record says it is for, when not this ref's

    @property
    def target(self) -> str:
        """The name whose admins may make it: the policy's target; '/' for a group."""
        return rec.ref_target(self.ref) or rec.ROOT

    @property
    def action(self) -> str:
        """The command that makes such a change, for messages."""
        if self.ref.startswith(rec.GROUPS):
            return f"policy group {self.ref[len(rec.GROUPS) :]}"
        return f"policy {'remove' if self.record_id is None else 'set'} {self.target}"

    @property
    def subject(self) -> str:
        """The record its signatures are attached to."""
        subject = self.record_id or self.previous
        assert subject is not None
        return subject

    def describe(self) -> str:
        by = f" by {self.author}" if self.author else ""
        return f"`{self.action}` ({self.subject[:12]}{by})"


def read_change(core: Core, ref: str, record_id: str) -> Change:
    """The change that record_id (a policy or group record) made at ref."""
    record = _record(core, ref, record_id)
    if isinstance(record, rec.Group):
        claims = "" if rec.GROUPS + record.name == ref else f"group:{record.name}"
    else:
        claims = "" if rec.ref_target(ref) == record.target else record.target
    return Change(ref, record_id, record.previous, record.created_ns, record.author, claims)


def misplaced(change: Change) -> str | None:
    """Why change cannot stand whatever signed it: its record was made for another target (a
    signature covers the record, target included; moved to another ref it grants what its
    signer never granted there)."""
    if not change.claims:
        return None
    own = f"group:{change.ref[len(rec.GROUPS) :]}" if change.ref.startswith(rec.GROUPS) else change.target
    return (
        f"{change.describe()} is the record of {change.claims}, not of {own}: a signed "
        f"record moved to {change.ref} (signatures over it were made for {change.claims})"
    )


def _record(core: Core, ref: str, record_id: str) -> rec.Policy | rec.Group:
    if ref.startswith(rec.GROUPS):
        return rec.read_group(core.plumbing, record_id)
    return rec.read_policy(core.plumbing, record_id)


Ids = Callable[[str], list[str]]  # a record id -> the ids of the signature records attached to it


def history(
    core: Core, ref: str, newest: str, stop: str | None, ids: Ids, fetch: Fetch | None = None
) -> list[Change]:
    """The changes at ref from the one after stop (None: from the first) to newest, oldest first.

    When stop is not among newest's ancestors, the chain was started again: the list begins with
    the removal of stop, then the new chain from its first record. fetch: gets missing records.
    """
    out: list[Change] = []
    seen: set[str] = set()
    current: str | None = newest
    while current is not None and current != stop and current not in seen:
        seen.add(current)
        if fetch is not None and not core.plumbing.objects.has(current):
            fetch([current])
        change = read_change(core, ref, current)
        out.append(change)
        current = change.previous
    if stop is not None and current != stop:
        out.append(removal(core, ref, stop, ids))
    return out[::-1]


def removal(core: Core, ref: str, record_id: str, ids: Ids) -> Change:
    """The removal of record_id at ref, dated by the newest removal statement attached to it."""
    times = [0]
    for signature_id in ids(record_id):
        said = _statement(core, signature_id)
        if said is not None and said.get("ref") == ref:
            times.append(int(said.get("time_ns", 0)))
    return Change(ref, None, record_id, max(times), "")


def _statement(core: Core, signature_id: str) -> dict[str, Any] | None:
    try:
        doc = core.read_document(signature_id, SIGNATURE, "a signature record")
        if doc.get("what") != REMOVAL:
            return None
        return core.read_document(str(doc["signs"]), REMOVAL, "a policy-removal statement")
    except (PachaError, KeyError, msgspec.DecodeError):
        return None


def in_order(chains: Iterable[list[Change]]) -> Iterator[Change]:
    """The changes of several refs' chains merged by time, each chain kept in its own order."""
    lists = [chain for chain in chains if chain]
    heap = [(chain[0].time_ns, i, 0) for i, chain in enumerate(lists)]
    heapq.heapify(heap)
    while heap:
        _, i, j = heapq.heappop(heap)
        yield lists[i][j]
        if j + 1 < len(lists[i]):
            heapq.heappush(heap, (lists[i][j + 1].time_ns, i, j + 1))


class State:
    """A policy state (ref -> record id) read like refs (get)."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def get(self, name: str) -> str | None:
        return self.table.get(name)

    def apply(self, change: Change) -> None:
        if change.record_id is None:
            self.table.pop(change.ref, None)
        else:
            self.table[change.ref] = change.record_id


def check_change(core: Core, check: Verifier, change: Change, signature_id: str) -> SignatureCheck | None:
    """One signature attached to change's subject, checked: what it signs, then gpg's verdict.
    None for a signature of the other kind (a removed record's own signature is no removal's)."""
    about = change.describe()
    try:
        doc = core.read_document(signature_id, SIGNATURE, "a signature record")
        if doc.get("what") != (POLICY if change.record_id is not None else REMOVAL):
            return None
        signed = _signed(core, change, doc)
        armored = core.plumbing.objects.read(str(doc["signature"]))
    except (PachaError, KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
        return _checked(change, signature_id, "", "", False, False, f"unreadable signature record ({exc})")
    recorded = (str(doc.get("fingerprint", "")), str(doc.get("signer", "")))
    if isinstance(signed, str):
        return _checked(change, signature_id, *recorded, False, False, signed)
    verdict = check(armored, signed)
    fingerprint, uid = verdict.fingerprint or recorded[0], verdict.uid or recorded[1]
    if verdict.valid and verdict.trusted:
        return _checked(change, signature_id, fingerprint, uid, True, True, "", f"good signature on {about}")
    return _checked(change, signature_id, fingerprint, uid, verdict.valid, False, verdict.reason)


def _signed(core: Core, change: Change, doc: dict[str, Any]) -> bytes | str:
    """The bytes doc's signature must cover, or why it does not fit change (text)."""
    if doc.get("subject") != change.subject:
        return f"it is attached to {change.subject[:12]} but made for {str(doc.get('subject'))[:12]}"
    if change.record_id is not None:
        if doc.get("what") != POLICY or doc.get("signs") != change.record_id:
            return "it does not sign the record"
        return core.plumbing.objects.read(change.record_id)
    if doc.get("what") != REMOVAL:
        return "it is not a removal statement"
    said = core.read_document(str(doc["signs"]), REMOVAL, "a policy-removal statement")
    if said.get("record") != change.previous or said.get("ref") != change.ref:
        return f"its statement removes {str(said.get('record'))[:12]} at {said.get('ref')}"
    return core.plumbing.objects.read(str(doc["signs"]))


def _checked(
    change: Change, sig: str, fpr: str, uid: str, good: bool, trusted: bool, reason: str, text: str = ""
) -> SignatureCheck:
    if not text:
        by = f" by {uid} ({fpr})" if uid or fpr else ""
        text = f"{'untrusted' if good else 'bad'} signature on {change.describe()}{by}: {reason}"
    what = POLICY if change.record_id is not None else REMOVAL
    return SignatureCheck(what, sig, change.subject, fpr, uid, good, trusted, reason, None, False, text)


def verdict(
    core: Core, state: State, change: Change, checks: list[SignatureCheck], first: bool
) -> tuple[str | None, str | None]:
    """(the line saying who signed change, or None; the problem, or None).

    first: change is judged against an empty state: any good signature by a trusted key will do.
    """
    wrong = misplaced(change)
    if wrong:
        return None, wrong
    if first:
        return first_verdict(change, checks, root_keys(core.plumbing.config))
    allowed: Signers = signers(core.plumbing, state, change.target, "admin")
    return judge(allowed, change.describe(), checks)


def first_verdict(
    change: Change, checks: list[SignatureCheck], roots: list[str] | None
) -> tuple[str | None, str | None]:
    """The first change of a chain: any good signature by a trusted key (trust on first use), or,
    with policy.root-keys set, a good signature by one of those keys only (so a trusted
    colleague cannot make themselves the root by rewriting the first policy)."""
    what = change.describe()
    good = [c for c in checks if c.ok]
    if roots is None:
        if good:
            return f"{what}: signed by {good[0].uid} ({good[0].fingerprint}); the first: taken on trust", None
        why = checks[0].text if checks else "it is not signed"
        return None, f"{what}, the first policy, needs a signature by a trusted key: {why}"
    rooted = [c for c in good if c.fingerprint.upper() in roots]
    if rooted:
        c = rooted[0]
        return f"{what}: signed by {c.uid} ({c.fingerprint}), a root key (policy.root-keys)", None
    if good:
        why = f"it is signed by {', '.join(f'{c.uid} ({c.fingerprint})' for c in good)}, no root key"
    else:
        why = checks[0].text if checks else "it is not signed"
    return None, f"{what}, the first policy, needs a signature by a key of policy.root-keys: {why}"


def local_ids(core: Core) -> Ids:
    """The signature records attached to a record by this registry's refs."""
    return lambda subject: [i for _, i in core.plumbing.refs.iter(signatures_prefix(subject))]


def judge_chain(
    core: Core, check: Verifier, state: State, changes: Iterable[Change], ids: Ids
) -> Iterator[tuple[Change, str | None, str | None]]:
    """Judge each change in order against state, applying it after (state ends as they leave it).

    Yields (change, who signed it, problem). ids: the signature records attached to a record.
    """
    first = not state.table
    for change in changes:
        found = [check_change(core, check, change, s) for s in ids(change.subject)]
        checks = [c for c in found if c is not None]
        ok, problem = verdict(core, state, change, checks, first)
        first = False
        state.apply(change)
        yield change, ok, problem


def verify_chain(core: Core, name: str, keyring: Path | None = None) -> list[dict[str, Any]]:
    """`verify --policy`: the chain of every policy covering name and of the groups they name.

    Every policy and group record the refs hold now is replayed from its first record, in time
    order, from an empty state (so the first is taken on trust), each judged as a pull judges it.
    Returns one dict per change of the covering policies and their groups, oldest first:
    {"ref", "record", "action", "signed": line | None, "problem": line | None}.
    Raises InvalidInput when gpg or the keyring cannot be used.
    """
    current = dict(core.plumbing.refs.iter("policies/"))
    refs = [r for r in current if rec.ref_target(r) is not None or r.startswith(rec.GROUPS)]
    ids = local_ids(core)
    chains = [history(core, ref, current[ref], None, ids) for ref in refs]
    cover = rules.covering(core.plumbing, core.plumbing.refs, name)
    relevant = {rec.target_ref(target) for target, _, _ in cover.policies}
    relevant |= {rec.GROUPS + g for _, _, policy in cover.policies for g in rules.named_groups(policy)}
    out: list[dict[str, Any]] = []
    with verifier(trusted_keyring(core.plumbing.config, core.plumbing.root, keyring)) as check:
        for change, ok, problem in judge_chain(core, check, State({}), in_order(chains), ids):
            if change.ref in relevant:
                out.append({"ref": change.ref, "record": change.subject, "action": change.action,
                            "signed": ok, "problem": problem})  # fmt: skip
    return out
