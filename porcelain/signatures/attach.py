"""Signing: a version's record (`pacha sign`, `register --sign`) and a stage change
(`stage --sign`), each signature committed through the one commit path (Core.commit).

register (objects.version_signature, signed_plan) and stage (signed_change, signed_plan) add
the signature to their own commit, so a signed registration or stage change is one ref
transaction: never a version or a promotion without the signature that was asked for.
"""

from __future__ import annotations

from pathlib import Path

import porcelain.layout as layout
from pacha.errors import PachaError
from pacha.hashing import hash_bytes
from porcelain.core import Core, RefUpdate
from porcelain.errors import CheckFailed
from porcelain.records import commit_subject
from porcelain.resolve import kind_cli, resolve_target
from porcelain.results import Version
from porcelain.signatures.gpg import secret_key, verifier
from porcelain.signatures.objects import (
    SIGNATURE,
    VERSION,
    Made,
    signatures_prefix,
    stage_signature,
    statement,
    version_signature,
)
from porcelain.signatures.settings import default_key, required_stages, signing_key, trusted_keyring
from porcelain.signatures.verify import entered
from porcelain.stages.rules import INITIAL


def sign_version(
    core: Core, reference: str, key: str | None = None, version: str | None = None
) -> tuple[Version, Made]:
    """Sign the record of the model, dataset or recipe version reference names (`pacha sign`).

    Args: reference: NAME:VER, NAME@STAGE, NAME:latest, NAME (with version) or a record id.
    key: an OpenPGP key id, fingerprint or email (default: user.signingkey).
    Returns (the version, the signature made and attached).
    Raises NotFound for an unknown or deleted version; InvalidInput for an ambiguous reference,
    no key, or a key gpg cannot sign with; HookRefused when pre-commit says no.
    """
    target = resolve_target(
        core, reference, version, kinds=("model", "dataset", "recipe"), change=True,
        pick=lambda t: f"pacha sign {t.record_id[:12]}  # {kind_cli(t.kind)} {t.label}",
    )  # fmt: skip
    assert target.version is not None
    found = target.version
    key = default_key(core.plumbing.config, key)
    record = core.plumbing.objects.read(found.record_id)
    earlier = already_signed(core, found.record_id, VERSION, record, key)
    if earlier is not None:
        return found, earlier
    made = version_signature(record, key)
    subject = commit_subject(found.kind, found.name, found.version, found.record_id, found.record)
    subject["signature"] = {"id": made.record_id, "fingerprint": made.fingerprint, "signer": made.uid}
    objects = core.plumbing.objects
    core.commit(
        "sign", f"sign {found.ref} by {made.signer}", [made.ref_update()], subject,
        write_objects=lambda: made.store(objects),
    )  # fmt: skip
    return found, made


def already_signed(core: Core, subject: str, what: str, signed: bytes, key: str) -> Made | None:
    """The signature key (its secret key's fingerprint) already made on subject's bytes signed
    (what: VERSION or a policy kind), as a Made with already=True; None if it has none.

    Only a signature gpg finds good (valid, by that very key, over these bytes) counts, so a
    forged signature record naming the key never stops the real one being made.
    Raises InvalidInput if key cannot sign (gpg.secret_key).
    """
    fingerprint = str(secret_key(key)["fingerprint"])
    candidates = []
    for ref, signature_id in core.plumbing.refs.iter(signatures_prefix(subject)):
        try:
            doc = core.read_document(signature_id, SIGNATURE, "a signature record")
            if doc.get("what") == what and doc.get("fingerprint") == fingerprint:
                candidates.append((ref, signature_id, doc, core.plumbing.objects.read(str(doc["signature"]))))
        except (PachaError, KeyError):
            continue
    if not candidates:
        return None
    with verifier(None) as check:  # the signer's own keyring holds its public key
        for ref, signature_id, doc, armored in candidates:
            verdict = check(armored, signed)
            same = doc.get("signs") == hash_bytes(signed)
            if verdict.valid and verdict.fingerprint == fingerprint and same:
                uid = verdict.uid or str(doc.get("signer", ""))
                return Made([], signature_id, ref, fingerprint, uid, already=True)
    return None


def sign_existing(core: Core, found: Version, key: str) -> Made | None:
    """register --sign of bytes already registered at that version: sign the version unless key
    already signed its record (so a CI job run twice ends signed once). Returns what was made."""
    made = sign_version(core, found.record_id, key)[1]
    return None if made.already else made


def check_key(key: str | None) -> None:
    """Fail early (before anything is stored) when key cannot sign: InvalidInput, one line."""
    if key is not None:
        secret_key(key)


def stage_change_signature(core: Core, found: Version, target: str, key: str) -> Made:
    """The signed statement of moving found to target, ready to commit with the stage change.

    Its `previous` is the reflog entry that put the version in its current stage.
    Raises InvalidInput when gpg cannot sign; CheckFailed when target is a stage that
    policy.require_signed lists and the key is not a trusted one (sign.keyring, or full or
    ultimate validity in the user's keyring).
    """
    entry = entered(core, layout.stage_ref(found.kind, found.name, found.stage, found.version))
    previous = None
    if entry is not None:
        previous = {
            "ref": entry.name,
            "seq": entry.seq,
            "txn": entry.txn,
            "who": entry.who,
            "when_ns": entry.when_ns,
        }
    said = statement(found.kind, found.name, found.version, found.record_id, found.stage, target, previous)
    made = stage_signature(said, found.record_id, key)
    if target in required_stages(core.plumbing.config):
        _require_trusted(core, found, target, made)
    return made


def _require_trusted(core: Core, found: Version, target: str, made: Made) -> None:
    require_trusted(core, f"moving {found.ref} to {target}", made, made.objects[1][0])


def require_trusted(core: Core, what: str, made: Made, signed: bytes) -> None:
    """Refuse (CheckFailed, before anything is written) a signature, made for a change that
    policy.require_signed covers, whose key the registry does not trust (settings.trusted_keyring).

    Args: what: the change, for the message ("moving m:1.0.0 to production"). made: the signature.
    signed: the bytes it signs.
    """
    keyring: Path | None = trusted_keyring(core.plumbing.config, core.plumbing.root)
    with verifier(keyring) as check:
        verdict = check(made.objects[0][0], signed)
    if not verdict.valid or not verdict.trusted:
        raise CheckFailed(
            f"{what} requires a change signed by a trusted key (policy.require_signed); "
            f"{made.signer}: {verdict.reason}; nothing was changed"
        )


def registration_rule(core: Core, kind: str, name: str, key: str | None) -> None:
    """policy.require_signed listing the stage a new version starts in (development): refuse
    registering name (CheckFailed, before anything is read or written) unsigned or with a key
    the registry does not trust (a probe statement is signed and checked to find out)."""
    if kind not in layout.STAGED or INITIAL not in required_stages(core.plumbing.config):
        return
    if key is None:
        raise CheckFailed(
            f"registering {name} requires a signed record (policy.require_signed lists {INITIAL}): "
            "give --sign KEYID, or set user.signingkey and sign.always; nothing was registered"
        )
    probe = statement(kind, name, "", "", "", INITIAL, None)  # never stored
    require_trusted(core, f"registering {name}", stage_signature(probe, "0" * 64, key), probe)


class RequireSigned:
    """policy.require_signed, checked inside the stage change's ref transaction: a move into a
    listed stage must create its signature ref in that same transaction."""

    def __init__(self, what: str, target: str, required: list[str], signature_ref: str | None) -> None:
        self.what, self.target, self.required, self.signature_ref = what, target, required, signature_ref

    def __call__(self, view: object) -> None:
        if self.target in self.required and self.signature_ref is None:
            raise CheckFailed(
                f"moving {self.what} to {self.target} requires a signed stage change "
                "(policy.require_signed): give --sign KEYID, or set user.signingkey and sign.always; "
                "nothing was changed"
            )


def signed_change(
    core: Core, found: Version, target: str, sign: str | None
) -> tuple[Made | None, RequireSigned]:
    """The signature a stage change of found to target carries (--sign, else user.signingkey with
    sign.always; None: unsigned) and the policy check to run inside its transaction.

    Raises CheckFailed at once for an unsigned move into a stage policy.require_signed lists (before
    any hook or gpg runs); InvalidInput or CheckFailed as stage_change_signature.
    """
    config = core.plumbing.config
    key, required = signing_key(config, sign), required_stages(config)
    if key is None:
        rule = RequireSigned(found.ref, target, required, None)
        rule(None)
        return None, rule
    made = stage_change_signature(core, found, target, key)
    return made, RequireSigned(found.ref, target, required, made.ref)


def signed_plan(made: Made | None) -> list[RefUpdate]:
    """The ref a signature adds to a commit's plan (none when unsigned)."""
    return [made.ref_update()] if made is not None else []
