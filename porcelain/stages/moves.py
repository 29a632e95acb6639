"""Moving versions between lifecycle stages (one transaction each, the rules re-checked inside it),
and reading the audit trail back: history and time travel from the reflog."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import porcelain.layout as layout
import porcelain.semver as versions
from pacha.ids import ZERO_ID
from porcelain.core import Core, RefUpdate
from porcelain.errors import CheckFailed, ConcurrentChange, InvalidInput, NotFound
from porcelain.names import check_name
from porcelain.records import commit_subject
from porcelain.resolve import resolve
from porcelain.results import Transition
from porcelain.signatures.attach import signed_change, signed_plan
from porcelain.stages import rules as stages
from porcelain.wording import list_hint


def set_stage(
    core: Core,
    kind: str,
    reference: str,
    target: str,
    *,
    version: str | None = None,
    why: str = "",
    keep_existing: bool = False,
    sign: str | None = None,
) -> list[Transition]:
    """Move a version to target; promoting to production archives the previous one.

    Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
    (with version) or a record id or unique prefix. target: development, staging, production or
    archived. version: the version, if reference is a bare NAME. why: the reason, kept in the audit
    trail. keep_existing: leave the current production version there. sign: an OpenPGP key to sign
    the change with (default: user.signingkey with sign.always); its signature commits in the same
    ref transaction, and a target policy.require_signed lists refuses an unsigned change there.
    Returns the transitions made (the promotion, and any archiving).
    Raises NotFound for an unknown version; InvalidInput for an unknown stage or a move the lifecycle
    does not allow, or a key gpg cannot sign with; CheckFailed when a hook refuses, another promotion
    happened meanwhile, or policy.require_signed is not met.
    """
    if kind not in layout.STAGED:
        raise InvalidInput(f"{kind}s have no lifecycle stages")
    found = resolve(core, kind, reference, version, change=True)  # explicit, registered
    what = f"{found.name}:{found.version}"
    stages.check_transition(found.stage, target, what)
    moves = [(found.version, found.stage, target)]
    if target == stages.PRODUCTION and not keep_existing:
        for other in core.in_stage(kind, found.name, stages.PRODUCTION):
            moves.append((other, stages.PRODUCTION, stages.ARCHIVED))
    message = why or f"{what} to {target}"
    plan: list[RefUpdate] = []
    for ver, old, new in moves:
        record_id = core.plumbing.refs.get(layout.version_ref(kind, found.name, ver))
        if record_id is None:
            raise CheckFailed(f"{found.name}:{ver} lost its version ref; run `pacha fsck`")
        plan.append(RefUpdate("delete", layout.stage_ref(kind, found.name, old, ver), None, record_id))
        plan.append(RefUpdate("create", layout.stage_ref(kind, found.name, new, ver), record_id, None))
    subject = commit_subject(kind, found.name, found.version, found.record_id, found.record)
    subject["transition"] = {"from": found.stage, "to": target}
    subject["moves"] = [{"version": v, "from": o, "to": n} for v, o, n in moves]
    archived = [v for v, _, n in moves[1:]]
    recheck = _StageRules(kind, found.name, found.version, found.stage, target, keep_existing, archived)
    made, signed = signed_change(core, found, target, sign)  # before any hook runs
    entry = core.commit(
        "stage", message, plan + signed_plan(made), subject, check=lambda view: (recheck(view), signed(view)),
        write_objects=functools.partial(made.store, core.plumbing.objects) if made else None,
    )[0]  # fmt: skip
    return [Transition(found.name, v, o, n, entry.who, entry.when_ns, message) for v, o, n in moves]


def history(core: Core, kind: str, name: str) -> list[Transition]:
    """Every stage change of every version of name, in the order they were committed.

    The order is the reflog's (the registry-wide transaction number), never the writers'
    clocks; one transaction's moves of one version form one Transition.

    Args: kind: "model", "dataset" or "recipe". name: the model or dataset name.
    Returns the transitions (who, when, version, from, to, why).
    Raises NotFound if the name has no history.
    """
    check_name(name)
    entries = core.plumbing.refs.reflog_all(layout.stages_prefix(kind, name))
    if not entries:
        raise NotFound(f"no {kind} named {name} has a history; {list_hint(kind)} shows what exists")
    groups: dict[tuple[int, int, str], dict[str, Any]] = {}
    for entry in entries:
        ref_name, stage, ver = layout.split_stage_ref(kind, entry.name)
        if ref_name != name:
            continue
        # one transaction: its number (entries written before it was kept: their shared time); a
        # change replayed from a remote shows when it was made there (made_at)
        group = groups.setdefault((entry.txn, entry.made_at, ver), {"from": None, "to": None, "e": entry})
        if entry.new == ZERO_ID:
            group["from"] = stage
        else:
            group["to"] = stage
    return [
        Transition(name, ver, g["from"], g["to"], g["e"].who, when, g["e"].message)
        for (_, when, ver), g in groups.items()
    ]


def at(core: Core, kind: str, name: str, stage: str, when_ns: int) -> list[str]:
    """The versions that were in stage at a moment (time travel through the reflog).

    The state after every transaction whose stored time is at most when_ns, replayed in
    the reflog's order. Stored times come from the registry's hybrid logical clock, so
    they never go backwards: a writer whose clock ran ahead moves the times of the
    transactions after it forward with it, and no later change is ever replayed before
    an earlier one.

    Args: kind: "model", "dataset" or "recipe". name: the model or dataset name. stage: development,
    staging, production or archived. when_ns: the moment, ns since the epoch (UTC).
    Returns the versions in that stage then, in SemVer order (empty if none).
    Raises InvalidInput for an unknown stage.
    """
    stages.check_stage(stage)
    state: dict[str, bool] = {}
    for entry in core.plumbing.refs.reflog_all(layout.stages_prefix(kind, name, stage)):
        if entry.when_ns > when_ns:
            break
        ref_name, _, ver = layout.split_stage_ref(kind, entry.name)
        if ref_name == name:
            state[ver] = entry.new != ZERO_ID
    return versions.sort(v for v, present in state.items() if present)


def stage_in(view: Any, kind: str, name: str, version: str) -> str | None:
    """The stage a version is in as view sees the refs (RefView or RefStore), None if it has none."""
    for stage in stages.STAGES:
        if view.get(layout.stage_ref(kind, name, stage, version)) is not None:
            return stage
    return None


@dataclass(frozen=True)
class _StageRules:
    """The stage rules of one planned transition, checked again inside its ref transaction.

    The plan (and the pre-commit hook's view of it) was made from refs read earlier; here,
    under LMDB's single writer, the version must still be where it was and, for a promotion,
    production must still hold exactly the versions the plan archives. Otherwise another
    writer got there first and this commit is refused whole (ConcurrentChange, exit 1), so two
    concurrent promotions can never leave two versions in production.
    """

    kind: str
    name: str
    version: str
    stage: str
    target: str
    keep_existing: bool
    archived: list[str]

    def __call__(self, view: Any) -> None:
        what = f"{self.name}:{self.version}"
        if view.get(layout.version_ref(self.kind, self.name, self.version)) is None:
            raise ConcurrentChange(f"{what} was deleted meanwhile by another writer; nothing was changed")
        now = stage_in(view, self.kind, self.name, self.version)
        if now != self.stage:
            where = f"it is now in {now}" if now else "it has no stage ref now (run `pacha fsck`)"
            raise ConcurrentChange(
                f"{what} was moved meanwhile by another writer: {where}, not {self.stage}; "
                "nothing was changed: run the command again if the move is still wanted"
            )
        if self.target != stages.PRODUCTION or self.keep_existing:
            return
        prefix = layout.stages_prefix(self.kind, self.name, stages.PRODUCTION)
        current = versions.sort(
            ref[len(prefix) :] for ref, _ in view.iter(prefix) if "/" not in ref[len(prefix) :]
        )
        if sorted(current) != sorted(self.archived):
            if current:
                verb = "is" if len(current) == 1 else "are"
                raise ConcurrentChange(
                    f"another promotion of {self.name} happened meanwhile: now in production {verb} "
                    f"{', '.join(current)}; nothing was changed: run the command again to promote {what}"
                )
            raise ConcurrentChange(
                f"another change of {self.name} happened meanwhile: nothing is in production now; "
                f"nothing was changed: run the command again to promote {what}"
            )
