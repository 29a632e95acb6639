"""Registering a version: check -> plan -> store -> commit, from one RegisterRequest.

1. document and check: the kind's card, metrics and lineage edges (versions/kinds.py);
   the name, options and numbers. Nothing has been read or written yet.
2. plan: the version, the card as it will be recorded, the delta base (versions/plan.py).
3. store: the artifact is read once, cut, hashed and stored (only hashed while a
   pre-commit hook has not agreed); a datasheet's facts are read on a thread meanwhile.
4. commit: the record, then one ref transaction (Core.commit) whose invariant, checked
   inside it, is that no version of the same precedence exists (versions/allocate.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec

import pacha
import porcelain.layout as layout
import porcelain.records as records
import porcelain.semver as semver
from pacha.errors import UsageError
from porcelain.core import Core, RefUpdate
from porcelain.errors import CheckFailed, ConcurrentChange, InvalidInput
from porcelain.finite import finite_float, require_finite
from porcelain.lineage.graph import linked_versions
from porcelain.locking import writes_objects
from porcelain.names import check_name
from porcelain.policies.enforce import require
from porcelain.records import commit_subject
from porcelain.results import Registered, Version
from porcelain.runs.update import attach
from porcelain.signatures.attach import (
    check_key,
    registration_rule,
    sign_existing,
    signed_plan,
)
from porcelain.signatures.objects import Made, version_signature
from porcelain.signatures.settings import signing_key
from porcelain.stages.rules import INITIAL
from porcelain.versions.allocate import BUMP_ATTEMPTS, VersionFree, VersionTaken
from porcelain.versions.artifacts import artifact_of, check_still, confirm_listed, weights_info
from porcelain.versions.inputs import artifact_source
from porcelain.versions.kinds import CARD_NAMES, Documented, document
from porcelain.versions.plan import Plan, Source, answer_existing, build_record, plan_version, source_of
from porcelain.versions.request import RegisterRequest
from porcelain.wording import say


@dataclass(frozen=True)
class Stored:
    """The artifact as stored (or only hashed, while a pre-commit hook has not agreed)."""

    artifact: str  # blob or tree id
    artifact_kind: str  # "blob" or "tree"
    size: int  # bytes read
    card: dict[str, Any]  # the plan's card over the defaults read from the artifact


def register(
    core: Core, request: RegisterRequest, *, extra_objects: Iterable[tuple[bytes, str]] = ()
) -> Registered:
    """Store the file or folder request.path as request.name at a new version (in development).

    Args: request: what to register (versions/request.py). extra_objects: (bytes, kind) to store with
    the record (e.g. a recipe's signature, which its card pins).
    Every size, schema and header fact recorded comes from the bytes stored. A model made by a
    tracked run is then listed by the run.
    Returns Registered(version, created): created is False when the same bytes were already
    registered at that version.
    Raises InvalidInput for a bad name, version, path, card, relation or parameter, or a non-finite
    number; UsageError for both version and bump, or a stream without filename; NotFound for an
    unknown parent, run or card reference; VersionExists when the version exists with other bytes;
    CheckFailed when a pre-commit hook refuses; FileChanged when a file changes while it is read.
    """
    documented = document(core, request)
    key = signing_key(core.plumbing.config, request.sign)
    check_key(key)  # before anything is read or written
    registration_rule(core, request.kind, request.name, key)
    result = _register(core, request, documented, list(extra_objects))
    if key is not None and not result.created:  # the same bytes again: signed once by this key
        sign_existing(core, result.version, key)
    if documented.run is not None and result.created:
        attach(core, documented.run.id, kind="model", reference=result.version.ref)
    return result


@writes_objects
def _register(
    core: Core, request: RegisterRequest, documented: Documented, extra_objects: list[tuple[bytes, str]]
) -> Registered:
    metrics = check(request, documented)
    require(core.plumbing, "write", request.name, "register")  # before any byte is stored
    tmp_dir = core.plumbing.objects.tmp_dir
    with artifact_source(request.path, request.filename, tmp_dir) as (target, recorded, streamed):
        source = source_of(core, request, target, recorded, streamed)
        plan = plan_version(core, request, documented, metrics, source)
        if plan.existing is not None:
            return answer_existing(core, plan.kind, plan.name, plan.existing, plan.version, source)
        stored = store(core, plan, source)
        key = signing_key(core.plumbing.config, request.sign)
        return commit(core, plan, stored, source, extra_objects, key)


def check(request: RegisterRequest, documented: Documented) -> dict[str, float]:
    """The options and numbers of a request, before its path is looked at.

    Returns the metrics as finite floats.
    Raises InvalidInput for a bad name, a non-finite number, or a card naming another name;
    UsageError for both version and bump (a usage error is one whatever the path).
    """
    check_name(request.name)
    if request.version and request.bump:
        raise UsageError(say("give -v VERSION or --bump PART, not both", "give version or bump, not both"))
    require_finite(documented.card, CARD_NAMES.get(request.kind, request.kind))
    metrics = {key: finite_float(value, f"metric {key}") for key, value in documented.metrics.items()}
    if documented.card.get("name") not in (None, request.name):
        raise InvalidInput(f"the card is for {documented.card['name']!r}, not {request.name!r}")
    return metrics


def store(core: Core, plan: Plan, source: Source) -> Stored:
    """Read the artifact once: stored (hashed only with a pre-commit hook), card defaults read meanwhile.

    Raises FileChanged if a file changed while it was read (nothing is recorded of it).
    """
    objects = None if plan.hook_first else core.plumbing.objects
    card = plan.card
    facts: dict[str, Any] = {}
    if plan.card_defaults is None:
        artifact, kind, size = artifact_of(
            objects, source.path, plan.base, ignore=source.ignore, listed=source.listed
        )
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="pacha-card") as pool:
            defaults = pool.submit(plan.card_defaults, source.path)
            artifact, kind, size = artifact_of(
                objects, source.path, plan.base, ignore=source.ignore, listed=source.listed
            )
            facts = defaults.result()
            card = {**facts, **card}
    if source.listed is not None:  # after the card's facts were read from it too
        described = any(path == source.path for path, _ in plan.described)

        def read_facts() -> tuple[Any, dict[str, Any]]:
            weights = weights_info(source.path) if described else None
            return weights, plan.card_defaults(source.path) if plan.card_defaults else {}

        recorded = (plan.card.get("weights") if described else None, facts)
        confirm_listed(source.path, source.listed, artifact, read_facts, recorded)
    # a folder's weights headers were read from the bytes stored
    check_still([(path, was) for path, was in plan.described if path != source.path])
    return Stored(artifact, kind, size, card)


def commit(
    core: Core,
    plan: Plan,
    stored: Stored,
    source: Source,
    extra_objects: list[tuple[bytes, str]],
    key: str | None = None,
) -> Registered:
    """The record, then the version's refs (see commit_version); key: sign the record with it."""
    record = build_record(
        core, plan, stored.artifact, stored.artifact_kind, stored.size, source.filename, dict(stored.card),
        created_ns=time.time_ns(),
    )  # fmt: skip
    objects = core.plumbing.objects
    written = not plan.hook_first

    def write_objects(data: bytes) -> None:
        nonlocal written
        if not written:
            again = artifact_of(objects, source.path, plan.base, ignore=source.ignore, listed=source.listed)
            if again[0] != stored.artifact:
                raise CheckFailed(f"{source.path} changed while it was being registered; try again")
        written = True  # the artifact is stored once; a retry of --bump writes only its record
        for extra, extra_kind in extra_objects:
            objects.put_bytes(extra, extra_kind)  # what the card links (e.g. signatures)
        objects.put_bytes(data, "record")

    return commit_version(core, plan.kind, record, plan.message, plan.bump, source, write_objects, key)


def _write_signed(write_objects: Callable[[bytes], None], data: bytes, made: Made | None, core: Core) -> None:
    """The record's objects, then its signature's (if signed)."""
    write_objects(data)
    if made is not None:
        made.store(core.plumbing.objects)


def version_refs(kind: str, name: str, version: str, record_id: str) -> list[RefUpdate]:
    """The refs a new version gets: its version ref and (models, datasets) its initial stage ref."""
    plan = [RefUpdate("create", layout.version_ref(kind, name, version), record_id, None)]
    if kind in layout.STAGED:
        plan.append(RefUpdate("create", layout.stage_ref(kind, name, INITIAL, version), record_id, None))
    return plan


def commit_version(
    core: Core,
    kind: str,
    record: records.VersionRecord,
    message: str,
    bump: str | None,
    source: Source,
    write_objects: Callable[[bytes], None],
    key: str | None = None,
) -> Registered:
    """Commit a new version's refs; the version's rules are checked inside the ref transaction.

    key: an OpenPGP key signing the record; the signature (porcelain.signatures) is stored with
    the record and its ref created in the same transaction (made again if a --bump retry
    rebuilds the record).

    If another writer took the version meanwhile: with bump, plan the next one and commit
    again (at most BUMP_ATTEMPTS times, only the record is rebuilt); without, answer as
    answer_existing does. Raises ConcurrentChange when every attempt lost."""
    name = record.name
    for _ in range(BUMP_ATTEMPTS):
        version = record.version
        data = record.encode()
        record_id = pacha.hash_bytes(data)
        made = version_signature(data, key) if key is not None else None
        try:
            core.commit(
                "register",
                message or f"register {name} {version}",
                version_refs(kind, name, version, record_id) + signed_plan(made),
                commit_subject(kind, name, version, record_id, record, stage=INITIAL),
                index_ops=[
                    (bytes.fromhex(used), bytes.fromhex(record_id)) for used in linked_versions(record)
                ],
                write_objects=functools.partial(_write_signed, write_objects, data, made, core),
                check=VersionFree(kind, name, version),
            )
        except VersionTaken as taken:
            if not bump:  # the version was asked for: answer as if this writer had come second
                return answer_existing(core, kind, name, taken.existing, version, source)
            latest = semver.latest(core.versions_of(kind, name)) or version
            record = msgspec.structs.replace(record, version=semver.bump(latest, bump))
            continue
        return Registered(
            Version(kind, name, version, record_id, record, core.stage_of(kind, name, version)), True
        )
    how = say(f"--bump {bump}", f"bump={bump!r}")
    again = say("run the command again", "call again")
    raise ConcurrentChange(
        f"could not register {name} with {how}: {BUMP_ATTEMPTS} other registrations of "
        f"{name} took each next version meanwhile; nothing was registered: {again}"
    )
