"""Planning a registration before anything is stored: the version, the card as recorded, the delta base.

Everything that can refuse a registration from what it was given is decided here, so
that a refusal stores nothing: the version (explicit, bumped, the card's, or 1.0.0),
every ref it may ever have, the card's references pinned and the weights header read,
the record as it will be (a number JSON cannot hold, a field of the wrong type).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pacha
import porcelain.hooks as hooks
import porcelain.layout as layout
import porcelain.records as records
import porcelain.semver as semver
from pacha.errors import UsageError
from pacha.ids import ZERO_ID
from pacha.ignore import IgnoreRules, refuse_inside_registry
from pacha.store.snapshot import Identity, identity
from porcelain.cards.fields import MODEL_CARD_FIELDS, pin_references
from porcelain.core import Core
from porcelain.errors import InvalidInput, PachaError, VersionExists
from porcelain.lineage.edges import card_reference
from porcelain.preflight import check_version_refs
from porcelain.resolve import resolve
from porcelain.results import Registered
from porcelain.versions.artifacts import hash_file, weights_info
from porcelain.versions.kinds import Documented
from porcelain.versions.request import RegisterRequest
from porcelain.wording import say


@dataclass(frozen=True)
class Source:
    """Where the artifact's bytes are read from, and how."""

    path: Path  # the file or folder read (a stream's copy in the registry's tmp/)
    filename: str  # the name recorded, the default download name
    ignore: IgnoreRules | None  # what a folder leaves out (None for a file)
    listed: Identity | None  # a file's identity before anything read it (pacha.store.snapshot)


@dataclass
class Plan:
    """A registration as decided before its artifact is stored."""

    kind: str
    name: str
    version: str
    bump: str | None  # a lost race with bump plans the next version; without, answers as second
    description: str
    message: str
    card: dict[str, Any]  # references pinned, weights header read; card defaults not yet merged
    metrics: dict[str, float]
    parents: list[records.ParentEdge]
    base: str | None  # the artifact the new one most likely resembles (deltas against it)
    hook_first: bool  # a pre-commit hook must agree before anything is written: hash first
    card_defaults: Callable[[Path], dict[str, Any]] | None = None
    described: list[tuple[Path, Identity]] = field(default_factory=list)  # folder files read for the card
    existing: str | None = None  # a version of the same precedence already registered


def next_version(
    core: Core, kind: str, name: str, version: str | None, bump: str | None, card_version: str | None
) -> str:
    """The version a registration gets: the explicit one, the latest bumped, the card's, or 1.0.0.

    A bump on a name with no version yet starts at the card's version or 1.0.0, so a CI script needs
    no special case for the first run.
    Raises InvalidInput for a bad version or part, or an existing name given neither a version nor a
    bump; UsageError for both version and bump.
    """
    existing = core.versions_of(kind, name)
    if version and bump:
        raise UsageError(say("give -v VERSION or --bump PART, not both", "give version or bump, not both"))
    if version:
        return semver.check(version)
    if bump:
        latest = semver.latest(existing)
        if latest is None:
            semver.bump("0.0.0", bump)  # the part is checked even for a first version
            return semver.check(card_version) if card_version else "1.0.0"
        return semver.bump(latest, bump)
    if card_version:
        return semver.check(card_version)
    if existing:
        raise InvalidInput(
            f"{name} already has versions (latest {semver.latest(existing)}): "
            + say(
                "give -v VERSION, --bump major|minor|patch, or a version in the card",
                'give version="X.Y.Z", bump="major"|"minor"|"patch", or a version in the card',
            )
        )
    return "1.0.0"


def plan_version(
    core: Core, request: RegisterRequest, documented: Documented, metrics: dict[str, float], source: Source
) -> Plan:
    """Decide everything about a registration that does not need the artifact stored.

    Raises InvalidInput for a bad version, an unregistrable name:version or a record that could not
    be stored; NotFound for a card reference to an unknown version.
    """
    kind, name = request.kind, request.name
    card = dict(documented.card)
    described: list[tuple[Path, Identity]] = []
    if kind == "model":
        card = pin_references(card, MODEL_CARD_FIELDS, functools.partial(card_reference, core))
        if "weights" not in card:
            info = weights_info(source.path, source.ignore, described)
            if info:
                card["weights"] = info
                if source.listed is not None:  # a file's facts are checked with its bytes
                    described.append((source.path, source.listed))
    version = next_version(core, kind, name, request.version, request.bump, card.get("version"))
    check_version_refs(kind, name, version)  # before anything is stored
    plan = Plan(
        kind, name, version, request.bump, documented.description, request.message, card, metrics,
        documented.parents, None, False, documented.card_defaults, described,
    )  # fmt: skip
    same_rank = [v for v in core.versions_of(kind, name) if semver.compare(v, version) == 0]
    # with a bump the version is new by construction; one registered since was taken by a
    # concurrent bump, and the commit moves on to the next free version
    if same_rank and not request.bump:
        plan.existing = same_rank[0]
        return plan
    # The record as it will be, checked before the artifact is stored: only the artifact's
    # facts are placeholders here.
    placeholder = dict(card)
    build_record(core, plan, ZERO_ID, "blob", 0, source.filename, placeholder, created_ns=0).encode()
    # With a pre-commit hook, nothing may be written before it agrees: hash first.
    plan.hook_first = hooks.hook_path(core.plumbing.root, hooks.PRE) is not None
    plan.base = delta_base(core, kind, name, plan.parents)
    return plan


def build_record(
    core: Core,
    plan: Plan,
    artifact: str,
    artifact_kind: str,
    size: int,
    filename: str,
    card: dict[str, Any],
    *,
    created_ns: int,
) -> records.VersionRecord:
    """The version record of plan: the card's metrics joined by the ones given (which win).

    card is consumed (its "metrics" taken out)."""
    metrics = {**card.pop("metrics", {}), **plan.metrics}
    return records.build(
        type=layout.RECORD_TYPES[plan.kind], name=plan.name, version=plan.version, artifact=artifact,
        artifact_kind=artifact_kind, size=size, filename=filename, author=core.plumbing.identity(),
        created_ns=created_ns, description=plan.description or card.get("description", ""),
        message=plan.message, card=card, metrics=metrics, parents=plan.parents,
    )  # fmt: skip


def delta_base(core: Core, kind: str, name: str, parents: list[records.ParentEdge]) -> str | None:
    """The artifact a new version most likely resembles: the latest version, else its first parent.

    The store keeps what changed against it as deltas (chunks it shares cost nothing anyway).
    """
    latest = semver.latest(core.versions_of(kind, name))
    try:
        if latest is not None:
            return resolve(core, kind, f"{name}:{latest}").record.artifact
        if parents:
            return core.read_record(parents[0].record).artifact
    except PachaError:
        return None  # no usable base: the version is stored without deltas
    return None


def answer_existing(
    core: Core, kind: str, name: str, existing: str, wanted: str, source: Source
) -> Registered:
    """A version of the same precedence is registered: the same bytes are no change, others refused.

    Raises VersionExists for other bytes, or a version differing only in build metadata.
    """
    found = resolve(core, kind, f"{name}:{existing}")
    if existing != wanted:
        raise VersionExists(
            f"{name}:{existing} is already registered and {wanted} has the same precedence "
            "(build metadata does not order versions); choose another version"
        )
    # hashed with the same exclusions as when stored: one folder, one id
    target = source.path
    artifact = pacha.write_tree(None, target, ignore=source.ignore) if target.is_dir() else hash_file(target)
    if artifact != found.record.artifact:
        latest = semver.latest(core.versions_of(kind, name))
        bump_hint = say("--bump patch", 'bump="patch"')
        raise VersionExists(
            f"{name}:{existing} is already registered with different content; "
            f"register a new version (latest is {latest}; try {bump_hint})"
        )
    return Registered(found, False)


def source_of(core: Core, request: RegisterRequest, target: Path, filename: str, streamed: bool) -> Source:
    """The Source of a request's path: a folder's exclusions, a file's identity before it is read.

    Raises InvalidInput for a path inside the registry, or --exclude given for a file.
    """
    if not streamed:
        refuse_inside_registry(target, core.plumbing.root)
    ignore = None
    if target.is_dir():
        ignore = IgnoreRules.for_folder(target, request.exclude, registry=core.plumbing.root)
    elif request.exclude:
        raise InvalidInput(f"--exclude applies to folders; {request.path} is a file")
    # A file's identity before anything reads it: the bytes stored, their size and every
    # card fact read from them (weights header, schema) must all be of this one file.
    listed = None if ignore is not None else identity(os.stat(target))
    return Source(target, filename, ignore, listed)
