"""What a signature is, how it is made and named.

A signature is two objects, three for a stage change:

- the detached OpenPGP signature, ASCII-armored (RFC 4880 sections 5.2 and 6.2; RFC 9580), a blob;
- for a policy removal, the statement {"target", "ref", "record", "time_ns"} (type
  "policy-removal"); a policy or group record is signed itself (what "policy");
- for a stage change, the signed statement, a record of type "stage-change":
  {"kind", "name", "version", "record", "from", "to", "time_ns", "previous"}, where
  `previous` describes the reflog entry that put the version in its from-stage
  ({"ref", "seq", "txn", "who", "when_ns"}, or null);
- a record of type "signature":
  {"signs": <id of the signed bytes>, "subject": <version, policy or group record id>,
   "what": "version" | "stage-change" | "policy" | "policy-removal", "signature": <blob id>,
   "fingerprint", "signer", "created_ns", "links": [<blob id>, (<statement id>)]}.

A version signature signs the version record's canonical bytes (`signs` = `subject`): since
the record names its artifact and every parent by BLAKE3 id, it covers the artifact's bytes and
the whole ancestry. The signature record is named by the ref
`attached/<version record id>/signature-<signature record id>`: gc keeps refs under
`attached/<id>/` exactly as long as `<id>` is kept and deletes them when it goes (pacha/gc.py),
and push and pull carry them with the version's refs. A stage-change signature's ref is created
in the same ref transaction as the stage ref it accounts for, which is how `verify` tells the
signed change that put a version in its stage from an older statement replayed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pacha
from pacha.hashing import hash_bytes
from porcelain.core import RefUpdate
from porcelain.signatures.gpg import sign_detached

ATTACHED = "attached/"  # pacha.gc.ATTACHED: the plumbing's attachment namespace
SIGNATURE = "signature"  # record type
STATEMENT = "stage-change"  # record type, and "what" of a stage-change signature
VERSION = "version"  # "what" of a version signature
POLICY = "policy"  # "what" of a signature over an access-policy or access-group record
REMOVAL = "policy-removal"  # record type, and "what" of a signed policy removal
REF_PREFIX = "signature-"


def attachment_ref(subject: str, signature_id: str) -> str:
    """The ref naming a signature of subject (a version record id)."""
    return f"{ATTACHED}{subject}/{REF_PREFIX}{signature_id}"


def signatures_prefix(subject: str) -> str:
    """The prefix under which every signature ref of subject lives."""
    return f"{ATTACHED}{subject}/{REF_PREFIX}"


@dataclass(frozen=True)
class Made:
    """A signature ready to store: its objects (bytes, kind), its record id and the ref naming it."""

    objects: list[tuple[bytes, str]]
    record_id: str
    ref: str
    fingerprint: str
    uid: str
    already: bool = False  # the key had signed it before: nothing new to store (objects empty)

    @property
    def signer(self) -> str:
        """'uid (fingerprint)', for people."""
        return f"{self.uid} ({self.fingerprint})"

    def store(self, objects: Any) -> None:
        """Write its objects (inside a commit: Core.commit's write_objects)."""
        for data, kind in self.objects:
            objects.put_bytes(data, kind)

    def ref_update(self) -> RefUpdate:
        """The creation of its ref, for a commit's plan."""
        return RefUpdate("create", self.ref, self.record_id, None)


def _made(subject: str, what: str, signed: bytes, key: str, extra: list[tuple[bytes, str]]) -> Made:
    signature = sign_detached(signed, key)
    blob_id = hash_bytes(signature.armored)
    body = {
        "signs": hash_bytes(signed),
        "subject": subject,
        "what": what,
        "signature": blob_id,
        "fingerprint": signature.fingerprint,
        "signer": signature.uid,
        "created_ns": time.time_ns(),
    }
    links = [blob_id, *(hash_bytes(data) for data, _kind in extra)]
    record = pacha.make_record(SIGNATURE, body, links)
    record_id = hash_bytes(record)
    objects = [(signature.armored, "blob"), *extra, (record, "record")]
    return Made(objects, record_id, attachment_ref(subject, record_id), signature.fingerprint, signature.uid)


def version_signature(record: bytes, key: str) -> Made:
    """A signature over a version record's canonical bytes (record: those bytes)."""
    return _made(hash_bytes(record), VERSION, record, key, [])


def statement(
    kind: str, name: str, version: str, record_id: str, old: str, new: str, previous: dict[str, Any] | None
) -> bytes:
    """The canonical statement of one stage change (a "stage-change" record's bytes)."""
    body = {
        "kind": kind,
        "name": name,
        "version": version,
        "record": record_id,
        "from": old,
        "to": new,
        "time_ns": time.time_ns(),
        "previous": previous,
    }
    said: bytes = pacha.make_record(STATEMENT, body, [])
    return said


def policy_signature(record: bytes, key: str) -> Made:
    """A signature over an access-policy or access-group record's canonical bytes."""
    return _made(hash_bytes(record), POLICY, record, key, [])


def removal_statement(target: str, ref: str, record_id: str) -> bytes:
    """The canonical statement that the policy (or group) record_id at ref is removed."""
    body = {"target": target, "ref": ref, "record": record_id, "time_ns": time.time_ns()}
    said: bytes = pacha.make_record(REMOVAL, body, [])
    return said


def removal_signature(said: bytes, record_id: str, key: str) -> Made:
    """A signature over a removal statement, attached to the record it removes."""
    return _made(record_id, REMOVAL, said, key, [(said, "record")])


def stage_signature(said: bytes, record_id: str, key: str) -> Made:
    """A signature over a stage-change statement (said: its bytes) of the version record_id."""
    return _made(record_id, STATEMENT, said, key, [(said, "record")])
