"""policy.require_signed on what a pull brings: a stage change into a listed stage that arrives
from a remote must carry, in the same pull, a stage-change signature by a trusted key.

The pull computes its ref moves first; before the one local transaction applies them, every
move that puts a version into a required stage is checked here: among the signature refs the
same pull creates for that version's record (attached/<record id>/signature-<id>), one must
be a good signature by a trusted key (sign.keyring, or full/ultimate validity in the user's
keyring) over a statement naming that version, its record and the stage, and, when this
registry has the version, the stage it leaves. Otherwise the pull is refused whole (one line
naming the version and why; no local ref moves), since moving the other refs alone could
leave the version without a stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pacha
import porcelain.layout as layout
from porcelain.core import Core
from porcelain.errors import CheckFailed
from porcelain.signatures.gpg import verifier
from porcelain.signatures.objects import VERSION, signatures_prefix
from porcelain.signatures.settings import required_stages, trusted_keyring
from porcelain.signatures.verify import SignatureCheck, Subject, check_signature
from porcelain.stages.rules import INITIAL, STAGES


def require_signed(
    plumbing: pacha.Registry,
    moves: Sequence[Any],
    remote: str,
    fetch: Callable[[list[str]], Any] | None = None,
) -> None:
    """Refuse a pull whose moves put a version into a required stage without a trusted signature.

    Args: moves: the pull's ref moves (.ref, .old, .new: None when absent). remote: its name, for
    the message. fetch: fetches object ids this registry lacks (a lazy pull has not fetched the
    signatures yet).
    Raises CheckFailed (exit 1), one line naming the version and why; InvalidInput when gpg or the
    trusted keyring cannot be used.
    """
    required = required_stages(plumbing.config)
    entering = []
    for m in moves:
        where = _stage_of(m.ref) if m.new is not None else None
        if where is not None and where[2] in required:
            entering.append((m, where))
    if not entering:
        return
    core = Core(plumbing)
    created = [m for m in moves if m.old is None and m.new is not None]
    needed = [m.new for m in created if m.ref.startswith("attached/")]
    missing = [i for i in needed if not plumbing.objects.has(i)]
    if missing and fetch is not None:
        fetch(missing)
    keyring = trusted_keyring(plumbing.config, plumbing.root)
    with verifier(keyring) as check:
        for move, (kind, name, stage, version) in entering:
            subject = Subject(kind, name, version, move.new, stage)
            left = _left_stage(moves, kind, name, version, stage)
            signatures = [m.new for m in created if m.ref.startswith(signatures_prefix(move.new))]
            checks = [check_signature(core, check, subject, sig) for sig in signatures]
            version_ref = layout.version_ref(kind, name, version)
            new = any(m.ref == version_ref and m.old is None and m.new == move.new for m in moves)
            _judge(subject, left, checks, remote, registered=new)


def _stage_of(ref: str) -> tuple[str, str, str, str] | None:
    """(kind, name, stage, version) of a stage ref, else None."""
    head, _, rest = ref.partition("/")
    plural = rest.partition("/")[0]
    kinds = [k for k in layout.STAGED if layout.plural(k) == plural]
    if head != "stages" or not kinds or rest.count("/") < 3:
        return None
    name, stage, version = layout.split_stage_ref(kinds[0], ref)
    return (kinds[0], name, stage, version) if stage in STAGES else None


def _left_stage(moves: Iterable[Any], kind: str, name: str, version: str, entered: str) -> str | None:
    """The local stage the version leaves in this pull (None: new here)."""
    for move in moves:
        where = _stage_of(move.ref) if move.new is None else None
        if where is not None and where[0:2] == (kind, name) and where[3] == version and where[2] != entered:
            return where[2]
    return None


def _judge(
    subject: Subject, left: str | None, checks: list[SignatureCheck], remote: str, *, registered: bool
) -> None:
    """Refuse unless a check that fits the change is ok. registered: the version is new here, and
    this is the stage its registration put it in: its record signature (what "version") fits."""
    what = f"{subject.name}:{subject.version}"
    fits = [c for c in checks if c.statement is not None and c.statement.get("to") == subject.stage]
    fits = [c for c in fits if left is None or c.statement is None or c.statement.get("from") == left]
    if registered and subject.stage == INITIAL:
        fits += [c for c in checks if c.what == VERSION]
    if any(c.ok for c in fits):
        return
    if not fits:
        why = (
            "an unsigned registration"
            if registered and subject.stage == INITIAL
            else "an unsigned stage change"
        )
        if checks:
            why = "a stage change whose signature is about another change"
    else:
        why = fits[0].text
    raise CheckFailed(
        f"pull refused: {what} entered {subject.stage} on {remote} by {why}; policy.require_signed "
        f"requires a change signed by a trusted key (sign.keyring); nothing was changed"
    )
