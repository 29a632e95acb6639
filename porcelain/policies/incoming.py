"""`verify.policy = true`: a pull accepts a policy or group change only if an admin of its target
signed it, and a version or a stage change only if it is signed by a key of a principal the
access policy allows to write its name.

The pull computes its ref moves first; before the one local transaction applies them:

1. every policy and group change it brings (each record after this registry's one, per ref, and
   each removal) is judged in order by porcelain.policies.chain, starting from this registry's
   policies: signed by a trusted key of an admin of its target under the state before it. The
   signatures may arrive with the same pull or be here already. A first pull into a registry
   without policies takes the first incoming change on trust (a good signature by a trusted key)
   and judges the rest against it;
2. every move that brings a version record (a version ref created or moved) or puts a version
   into a stage other than its first is judged against the policies as step 1 leaves them. A
   version record's signature may be one the same pull brings (attached/<record id>/signature-
   <id>) or one already here; a stage change's must arrive with it, so an old signed change
   cannot be replayed.

One failure refuses the whole pull, with one line naming the change and why; nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pacha
import porcelain.layout as layout
from pacha.errors import PachaError
from porcelain.core import Core
from porcelain.errors import CheckFailed
from porcelain.policies import chain
from porcelain.policies import records as rec
from porcelain.policies.signed import judge, signers
from porcelain.remotes.rules import name_of
from porcelain.signatures.gpg import Verifier, verifier
from porcelain.signatures.objects import signatures_prefix
from porcelain.signatures.settings import trusted_keyring
from porcelain.signatures.verify import Subject, check_signature
from porcelain.stages.rules import INITIAL, STAGES

KEY = "verify.policy"


def enabled(config: Any) -> bool:
    """Whether config verify.policy is on (true/false, a TOML boolean or its text)."""
    value = config.get(KEY, False)
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"))


def _policy_state(
    core: Core, check: Verifier, moves: Sequence[Any], ids: chain.Ids, fetch: chain.Fetch | None
) -> chain.State:
    """This registry's policies as the pull's verified policy and group changes leave them.

    Raises CheckFailed for the first change an admin of its target did not sign.
    """
    state = chain.State(dict(core.plumbing.refs.iter("policies/")))
    chains = []
    for move in moves:
        ref = move.ref
        if move.old == move.new or not (rec.ref_target(ref) or ref.startswith(rec.GROUPS)):
            continue
        try:
            if move.new is None:
                chains.append([chain.removal(core, ref, move.old, ids)])
            else:
                chains.append(chain.history(core, ref, move.new, move.old, ids, fetch))
        except PachaError as exc:
            raise CheckFailed(f"pull refused (verify.policy): {ref}: {exc}; nothing was changed") from None
    for _, _, problem in chain.judge_chain(core, check, state, chain.in_order(chains), ids):
        if problem:
            raise CheckFailed(f"pull refused (verify.policy): {problem}; nothing was changed")
    return state


def _subjects(moves: Sequence[Any]) -> list[tuple[str, Subject]]:
    """("version" | "stage-change", Subject) for each move the policy must see signed."""
    out = []
    for move in moves:
        key = name_of(move.ref) if move.new is not None and move.old != move.new else None
        if key is None:
            continue
        kind, name = key
        if move.ref.startswith("stages/"):
            _, stage, version = layout.split_stage_ref(kind, move.ref)
            if stage in STAGES and stage != INITIAL:
                out.append(("stage-change", Subject(kind, name, version, move.new, stage)))
        else:
            version = layout.split_version_ref(kind, move.ref)[1]
            out.append(("version", Subject(kind, name, version, move.new, "")))
    return out


def require_policy(
    plumbing: pacha.Registry,
    moves: Sequence[Any],
    remote: str,
    fetch: Callable[[list[str]], Any] | None = None,
) -> None:
    """Refuse (CheckFailed, exit 1, nothing moved) a pull bringing a version or stage change not
    signed by a key of a principal allowed to write its name; no-op unless verify.policy is on.

    Raises InvalidInput when gpg or the trusted keyring cannot be used.
    """
    if not enabled(plumbing.config):
        return
    incoming = [m for m in moves if m.new is not None and m.ref.startswith(("attached/", "policies/"))]
    missing = [m.new for m in incoming if not plumbing.objects.has(m.new)]
    if missing and fetch is not None:
        fetch(missing)
    core = Core(plumbing)
    arriving = {m.ref: m.new for m in incoming if m.ref.startswith("attached/")}

    def ids(subject: str) -> list[str]:
        prefix = signatures_prefix(subject)
        here = {i for _, i in plumbing.refs.iter(prefix)}
        return sorted(here | {i for r, i in arriving.items() if r.startswith(prefix)})

    with verifier(trusted_keyring(plumbing.config, plumbing.root)) as check:
        table = _policy_state(core, check, moves, ids, fetch)
        for what, subject in _subjects(moves):
            prefix = signatures_prefix(subject.record_id)
            found = {i for r, i in arriving.items() if r.startswith(prefix)}
            if what == "version":  # a record's signature may have come before; a stage change's
                found = set(ids(subject.record_id))  # must come with it (no replay)
            checks = [check_signature(core, check, subject, i) for i in sorted(found)]
            fits = [c for c in checks if c.what == what]
            if what == "stage-change":
                fits = [c for c in fits if c.statement is not None and c.statement.get("to") == subject.stage]
                about = f"the change of {subject.name}:{subject.version} to {subject.stage}"
            else:
                about = f"{subject.name}:{subject.version}"
            _, problem = judge(signers(plumbing, table, subject.name), about, fits)
            if problem:
                raise CheckFailed(f"pull refused (verify.policy): {problem}; nothing was changed")
