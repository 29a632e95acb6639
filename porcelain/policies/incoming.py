"""`verify.policy = true`: a pull accepts a version or a stage change only if it is signed by a key
of a principal the access policy allows to write its name.

The pull computes its ref moves first; before the one local transaction applies them, every move
that brings a version record (a version ref created or moved) or puts a version into a stage
other than its first is checked here. A version record's signature may be one the same pull
brings (attached/<record id>/signature-<id>) or one already here; a stage change's must arrive
with it, so an old signed change cannot be replayed. The policies used are this registry's own,
as they are before the pull: a policy change arriving from the remote governs later pulls only
(a first pull into a registry without policies uses the incoming ones). A move that fails
refuses the whole pull, with one line naming the version and why; nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pacha
import porcelain.layout as layout
from porcelain.core import Core
from porcelain.errors import CheckFailed
from porcelain.policies.signed import judge, signers
from porcelain.remotes.rules import name_of
from porcelain.signatures.gpg import verifier
from porcelain.signatures.objects import signatures_prefix
from porcelain.signatures.settings import trusted_keyring
from porcelain.signatures.verify import Subject, check_signature
from porcelain.stages.rules import INITIAL, STAGES

KEY = "verify.policy"


def enabled(config: Any) -> bool:
    """Whether config verify.policy is on (true/false, a TOML boolean or its text)."""
    value = config.get(KEY, False)
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"))


class Table:
    """A ref table (name -> id) read like refs (get)."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = table

    def get(self, name: str) -> str | None:
        return self.table.get(name)


def _policy_table(plumbing: pacha.Registry, moves: Sequence[Any]) -> Table:
    """This registry's policies before the pull; the incoming ones if it has none yet."""
    mine = dict(plumbing.refs.iter("policies/"))
    if mine:
        return Table(mine)
    return Table({m.ref: m.new for m in moves if m.ref.startswith("policies/") and m.new is not None})


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
    subjects = _subjects(moves)
    if not subjects:
        return
    incoming = [m for m in moves if m.new is not None and m.ref.startswith(("attached/", "policies/"))]
    missing = [m.new for m in incoming if not plumbing.objects.has(m.new)]
    if missing and fetch is not None:
        fetch(missing)
    core, table = Core(plumbing), _policy_table(plumbing, moves)
    arriving = {m.ref: m.new for m in incoming if m.ref.startswith("attached/")}
    with verifier(trusted_keyring(plumbing.config, plumbing.root)) as check:
        for what, subject in subjects:
            prefix = signatures_prefix(subject.record_id)
            ids = {i for r, i in arriving.items() if r.startswith(prefix)}
            if what == "version":  # a record's signature may have come before; a stage change's
                ids |= {i for _, i in plumbing.refs.iter(prefix)}  # must come with it (no replay)
            checks = [check_signature(core, check, subject, i) for i in sorted(ids)]
            fits = [c for c in checks if c.what == what]
            if what == "stage-change":
                fits = [c for c in fits if c.statement is not None and c.statement.get("to") == subject.stage]
                about = f"the change of {subject.name}:{subject.version} to {subject.stage}"
            else:
                about = f"{subject.name}:{subject.version}"
            _, problem = judge(signers(plumbing, table, subject.name), about, fits)
            if problem:
                raise CheckFailed(f"pull refused (verify.policy): {problem}; nothing was changed")
