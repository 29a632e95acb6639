"""Checking a version's signatures: the verification API of `pacha verify`, `pull` and policies.

Every signature attached to a version (objects.py) is checked by gpg against the trusted keys
(gpg.py): a signature over other bytes than the record or statement it claims, by an unknown,
expired or revoked key, or by a key not trusted, is not ok. A stage-change signature is
*current* when its ref was created in the very ref transaction that created the version's
stage ref (a stage change and its signature commit together; a pull applies both in one
transaction too), so an older signed statement cannot be replayed for a later change.
When the version's stage is one that policy.require_signed lists, the change that put it
there must have a current signature that is ok.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

import porcelain.layout as layout
from pacha.errors import PachaError
from pacha.hashing import hash_bytes
from pacha.ids import ZERO_ID
from pacha.refs.reflog import ReflogEntry
from porcelain.core import Core
from porcelain.results import Version
from porcelain.signatures.gpg import Verifier, verifier
from porcelain.signatures.objects import SIGNATURE, STATEMENT, VERSION, signatures_prefix
from porcelain.signatures.settings import required_stages, trusted_keyring
from porcelain.stages.rules import STAGES


class Subject(NamedTuple):
    """What a signature may be about: one version (its record) and the stage it is in."""

    kind: str
    name: str
    version: str
    record_id: str
    stage: str


@dataclass(frozen=True)
class SignatureCheck:
    """One signature of a version, checked (see docs/security.md, "Signatures")."""

    what: str  # "version" or "stage-change"
    signature_id: str  # the signature record's id
    subject: str  # the version record id it is attached to
    fingerprint: str  # the primary key's fingerprint, upper-case hex ("" if unknown)
    uid: str  # "Name <email>" as gpg reports it, else as recorded when signing
    good: bool  # cryptographically valid, the key neither expired nor revoked
    trusted: bool  # by a trusted key (gpg.py)
    reason: str  # "" when ok, else why not
    statement: dict[str, Any] | None  # a stage change's statement
    current: bool  # a stage change made in the transaction that put the version in its stage
    text: str  # one line for people

    @property
    def ok(self) -> bool:
        return self.good and self.trusted

    def as_dict(self) -> dict[str, Any]:
        """The --json shape."""
        out = {k: getattr(self, k) for k in ("what", "signature_id", "subject", "fingerprint", "uid")}
        out.update(good=self.good, trusted=self.trusted, ok=self.ok, reason=self.reason, current=self.current)
        out["statement"] = self.statement
        return out


def subject_of(version: Version) -> Subject:
    """The Subject of a porcelain Version."""
    return Subject(version.kind, version.name, version.version, version.record_id, version.stage)


def entered(core: Core, ref: str) -> ReflogEntry | None:
    """The reflog entry that last created ref (None if the reflog has none)."""
    created = [e for e in core.plumbing.refs.reflog(ref) if e.old == ZERO_ID and e.new != ZERO_ID]
    return created[-1] if created else None


def same_transaction(a: ReflogEntry | None, b: ReflogEntry | None) -> bool:
    """Whether two reflog entries were written by one ref transaction."""
    if a is None or b is None:
        return False
    return a.txn == b.txn if a.txn and b.txn else (a.txn, a.when_ns) == (b.txn, b.when_ns)


def signatures_of(core: Core, version: Version, keyring: Path | None = None) -> list[SignatureCheck]:
    """Every signature attached to version, checked against the trusted keys.

    Args: version: the version (porcelain Version). keyring: a file of public keys to trust
    (default: config sign.keyring, else the user's keyring, full or ultimate validity only).
    Returns one SignatureCheck per signature ref (empty: unsigned; gpg is then not run).
    Raises InvalidInput when gpg is missing or the keyring file cannot be read.
    """
    subject = subject_of(version)
    refs = list(core.plumbing.refs.iter(signatures_prefix(version.record_id)))
    if not refs:
        return []
    stage_entry = None
    if version.kind in layout.STAGED and version.stage in STAGES:
        stage_entry = entered(
            core, layout.stage_ref(version.kind, version.name, version.stage, version.version)
        )
    with verifier(trusted_keyring(core.plumbing.config, core.plumbing.root, keyring)) as check:
        found = [check_signature(core, check, subject, sig_id) for _, sig_id in refs]
    return [
        _with_current(c, same_transaction(entered(core, ref), stage_entry))
        for (ref, _), c in zip(refs, found, strict=True)
    ]


def _with_current(check: SignatureCheck, made_with_stage: bool) -> SignatureCheck:
    return replace(check, current=True) if made_with_stage else check


def record_signers(core: Core, version: Version, keyring: Path | None = None) -> list[SignatureCheck]:
    """The signatures of version's record (what == "version"), checked; see signatures_of."""
    return [c for c in signatures_of(core, version, keyring) if c.what == VERSION]


def stage_signer(core: Core, version: Version, keyring: Path | None = None) -> SignatureCheck | None:
    """The signature of the change that put version in its current stage (an ok one first), or
    None when that change was not signed; see signatures_of. For a version still in the stage
    its registration put it in, that change is the registration: its record signature."""
    current = [c for c in signatures_of(core, version, keyring) if c.current and _enters(c, version.stage)]
    current.sort(key=lambda c: not c.ok)
    return current[0] if current else None


def _enters(check: SignatureCheck, stage: str) -> bool:
    """Whether check signs the change into stage: a statement saying so, or a record signature
    made with the stage ref (only a registration creates a stage ref and signs the record at once)."""
    if check.what == VERSION:
        return check.current
    return check.statement is not None and check.statement.get("to") == stage


def verify_version(
    core: Core, version: Version, keyring: Path | None = None
) -> tuple[list[SignatureCheck], list[str]]:
    """Every signature of version checked, and policy.require_signed for its stage.

    Returns (checks, problems): a problem is one line (a signature that is not ok; a stage the
    policy requires to be entered signed, entered without a current, ok signature).
    Raises InvalidInput when gpg is missing or the keyring file cannot be read.
    """
    checks = signatures_of(core, version, keyring)
    problems = [c.text for c in checks if not c.ok]
    if version.stage in required_stages(core.plumbing.config):
        entering = [c for c in checks if c.current and _enters(c, version.stage)]
        if not any(c.ok for c in entering):
            how = "a change whose signature is not ok"
            if not entering:
                how = (
                    "an unsigned registration"
                    if _registered_there(core, version)
                    else "an unsigned stage change"
                )
            problems.append(
                f"{version.ref} entered {version.stage} by {how}; policy.require_signed requires a change "
                "signed by a trusted key"
            )
    return checks, problems


def _registered_there(core: Core, version: Version) -> bool:
    """Whether the version's stage ref was created by its registration (one transaction)."""
    stage_ref = layout.stage_ref(version.kind, version.name, version.stage, version.version)
    version_ref = layout.version_ref(version.kind, version.name, version.version)
    return same_transaction(entered(core, stage_ref), entered(core, version_ref))


def check_signature(core: Core, check: Verifier, subject: Subject, signature_id: str) -> SignatureCheck:
    """Check one signature record against subject: what it signs, then gpg's verdict.

    Never raises for a bad signature or a missing or malformed object (a check that is not ok);
    InvalidInput only when gpg itself fails.
    """
    try:
        doc = core.read_document(signature_id, SIGNATURE, "a signature record")
        what = str(doc.get("what"))
        signed, said = _signed_bytes(core, doc, subject)
        about = _about(subject, said)
        armored = core.plumbing.objects.read(str(doc["signature"]))
    except (PachaError, KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
        return _bad(subject, signature_id, "", "", f"unreadable signature record ({exc})", None)
    recorded = (str(doc.get("fingerprint", "")), str(doc.get("signer", "")))
    if isinstance(signed, str):  # what it signs does not match
        return _bad(subject, signature_id, *recorded, signed, said, what=what, about=about)
    verdict = check(armored, signed)
    fingerprint, uid = verdict.fingerprint or recorded[0], verdict.uid or recorded[1]
    if not verdict.valid or not verdict.trusted:
        return _bad(subject, signature_id, fingerprint, uid, verdict.reason, said, what=what, about=about,
                    good=verdict.valid)  # fmt: skip
    text = f"good signature on {about} by {uid} ({fingerprint})"
    return SignatureCheck(
        what, signature_id, subject.record_id, fingerprint, uid, True, True, "", said, False, text
    )


def _misplaced_record(data: bytes, subject: Subject) -> str | None:
    """Why a version record cannot stand at subject's ref whoever signed it: it is another
    version's (a signed record moved to another name, version or kind: the signature covers
    the record, name and version included). None when it is subject's own."""
    try:
        record = msgspec.json.decode(data)
        said = (record.get("type"), record.get("name"), record.get("version"))
    except (msgspec.DecodeError, AttributeError):
        return "the record it signs is not a version record"
    if said != (layout.RECORD_TYPES.get(subject.kind), subject.name, subject.version):
        own = f"{subject.name}:{subject.version}"
        return (
            f"the record it signs is {said[1]}:{said[2]}'s ({said[0]}), not {own}'s: a signed record "
            "moved to another version's ref"
        )
    return None


def _signed_bytes(
    core: Core, doc: dict[str, Any], subject: Subject
) -> tuple[bytes | str, dict[str, Any] | None]:
    """(the bytes the signature must cover, the statement) — or (why not, statement) as text."""
    if doc.get("subject") != subject.record_id:
        return f"it is attached to {subject.record_id[:12]} but made for {str(doc.get('subject'))[:12]}", None
    if doc.get("what") == VERSION:
        data = core.plumbing.objects.read(subject.record_id)
        if hash_bytes(data) != doc.get("signs"):
            return "it was made over other bytes", None
        return _misplaced_record(data, subject) or data, None
    if doc.get("what") != STATEMENT:
        return f"it signs an unknown kind of thing ({doc.get('what')!r})", None
    data = core.plumbing.objects.read(str(doc["signs"]))
    said = core.read_document(str(doc["signs"]), STATEMENT, "a stage-change statement")
    mine = {
        "kind": subject.kind,
        "name": subject.name,
        "version": subject.version,
        "record": subject.record_id,
    }
    if any(said.get(k) != v for k, v in mine.items()):
        return f"its statement is about {said.get('name')}:{said.get('version')} ({said.get('record')})", said
    return data, said


def _about(subject: Subject, said: dict[str, Any] | None) -> str:
    what = f"{subject.name}:{subject.version}"
    if said is None:
        return what
    return f"the change of {what} from {said.get('from')} to {said.get('to')}"


def _bad(
    subject: Subject,
    signature_id: str,
    fingerprint: str,
    uid: str,
    reason: str,
    said: dict[str, Any] | None,
    *,
    what: str = "",
    about: str = "",
    good: bool = False,
) -> SignatureCheck:
    about = about or f"{subject.name}:{subject.version}"
    by = f" by {uid} ({fingerprint})" if uid or fingerprint else ""
    word = "untrusted" if good else "bad"
    text = f"{word} signature on {about}{by}: {reason}"
    return SignatureCheck(
        what, signature_id, subject.record_id, fingerprint, uid, good, False, reason, said, False, text
    )
