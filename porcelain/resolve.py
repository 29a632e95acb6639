"""One resolver for every reference a command takes: versions, recipes, runs, record ids.

What a user types (see porcelain/references.py) is looked up the same way by every
command, whatever it goes on to do:

    NAME:VER, NAME:latest, NAME@STAGE, NAME -v VER, NAME   a version of a model, dataset or recipe
    run-001, a run id prefix                                a run (where runs are accepted)
    a record id or id prefix (4+ hex digits)                 the record, whatever refs say about it

A reference that names more than one thing (a recipe and a model both called
fraud-mlp, a name that is also an id prefix) is an error that lists every candidate
with the exact command that picks it. A version that is not there any more is
reported from the reflog as what happened to it (deleted or expired, when, by whom)
and what is still known, never as a registry fault.

Commands that change state (delete, stage, lineage add, restore) resolve with
change=True: the version must be named explicitly (NAME:VER, -v VER, NAME:latest or
--latest, NAME@STAGE, or a record id; a bare NAME is refused) and must still be
registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

import porcelain.layout as layout
import porcelain.semver as versions
from pacha.errors import AmbiguousId, ObjectNotFound, a
from pacha.ids import ZERO_ID
from pacha.refs.store import ReflogEntry, iso_time
from porcelain.core import Core
from porcelain.errors import InvalidInput, NotFound, PachaError
from porcelain.names import check_name, name_problem
from porcelain.references import Reference, parse_reference
from porcelain.results import Version
from porcelain.runs.lookup import get_run
from porcelain.wording import list_hint, say

VERSION_KINDS = ("model", "dataset", "recipe")
GONE = "deleted"  # the stage shown for a version found by record id whose refs are gone
RUN_NAME = re.compile(r"run-\d+")


def kind_cli(kind: str) -> str:
    """The CLI group of a kind: model, data, recipe, run."""
    return "data" if kind == "dataset" else kind


@dataclass(frozen=True)
class Target:
    """What a reference names: a version (of a model, dataset or recipe) or a run."""

    kind: str  # model, dataset, recipe or run
    label: str  # name:version, or the run's name
    record_id: str
    version: Version | None = None  # None for runs

    @property
    def ref(self) -> str:
        return self.label


class MissingVersion(NotFound):
    """A name that is (or was) registered, without the version asked for."""


# --- what happened to a version that is not there ------------------------------------
@dataclass(frozen=True)
class Gone:
    """A version whose refs were removed, as the reflog tells it."""

    kind: str
    name: str
    version: str
    record_id: str
    entry: ReflogEntry  # the deletion
    expired: bool  # by `gc --keep-last` (its history stopped keeping objects alive)
    stage: str | None  # the stage it was in when it went
    stored: bool  # its record and artifact are still in the store

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def describe(self) -> str:
        """One line: what happened, when, by whom, what is known, and what can be done."""
        date = iso_time(self.entry.when_ns)[:19].replace("T", " ") + "Z"
        how = f"expired by `{self.entry.message}`" if self.expired else "deleted"
        why = "" if self.expired or not self.entry.message else f" ({self.entry.message})"
        was = f", was in {self.stage}" if self.stage else ""
        known = f"record {self.record_id[:12]}{was}"
        if self.stored:
            how_back = say(
                f"`pacha {kind_cli(self.kind)} restore {self.ref}`", f'restore("{self.kind}", "{self.ref}")'
            )
            after = f"{how_back} brings it back"
        else:
            after = "its objects are gone (removed by gc), so it cannot be restored"
        return f"{self.kind} {self.ref} was {how} on {date} by {self.entry.who}{why} ({known}); {after}"


def gone(core: Core, kind: str, name: str, version: str) -> Gone | None:
    """The deletion of name:version if the reflog shows its version ref was removed, else None."""
    refs = core.plumbing.refs
    ref = layout.version_ref(kind, name, version)
    if refs.get(ref) is not None:
        return None
    log = refs.reflog(ref)
    if not log or log[-1].new != ZERO_ID:
        return None
    last = log[-1]
    expired = refs.expired_through().get(ref) == last.seq
    stage = None
    if kind in layout.STAGED:
        for entry in reversed(refs.reflog_all(layout.stages_prefix(kind, name))):
            _, stage_name, ver = layout.split_stage_ref(kind, entry.name)
            if ver == version and entry.new == ZERO_ID and entry.old == last.old:
                stage = stage_name
                break
    return Gone(kind, name, version, last.old, last, expired, stage, _stored(core, last.old))


def gone_versions(core: Core, kind: str, name: str) -> list[Gone]:
    """Every version of name that was deleted or expired and not registered again, oldest first."""
    prefix = layout.versions_prefix(kind, name)
    seen = set()
    for entry in core.plumbing.refs.reflog_all(prefix):
        ref_name, ver = layout.split_version_ref(kind, entry.name)
        if ref_name == name and "/" not in ver:
            seen.add(ver)
    out = [g for v in versions.sort(seen) if (g := gone(core, kind, name, v)) is not None]
    return out


def _stored(core: Core, record_id: str) -> bool:
    """Are the record and its artifact still readable (not removed by gc)?"""
    objects = core.plumbing.objects
    try:
        if not objects.has(record_id):
            return False
        return bool(objects.has(core.read_record(record_id).artifact))
    except PachaError:
        return False


# --- resolving -------------------------------------------------------------------------
def resolve(
    core: Core,
    kind: str,
    reference: str | Reference,
    version: str | None = None,
    *,
    change: bool = False,
) -> Version:
    """The version of kind that reference names (see the module docstring).

    Raises NotFound (nothing, or a deleted/expired version: the message says which),
    InvalidInput (a malformed reference, an ambiguous one, a bare NAME when change is set).
    """
    target = resolve_target(core, reference, version, kinds=(kind,), change=change)
    assert target.version is not None
    return target.version


def resolve_target(
    core: Core,
    reference: str | Reference,
    version: str | None = None,
    *,
    kinds: Iterable[str] = VERSION_KINDS,
    change: bool = False,
    pick: Callable[[Target], str] | None = None,
) -> Target:
    """What reference names among kinds (model, dataset, recipe, run).

    pick(target) is the command line that would pick one candidate of an ambiguous
    reference (default: `pacha <kind> get NAME:VER`). Raises as resolve() does.
    """
    kinds = tuple(kinds)
    ref = reference if isinstance(reference, Reference) else parse_reference(reference, version)
    if change and ref.implied:
        if ref.object_id is None:
            raise InvalidInput(_implied_message(core, kinds, ref))
        ref = Reference(ref.text, object_id=ref.object_id)  # a bare name is no version: only the id
    found: list[Target] = []
    misses: list[PachaError] = []
    if ref.name is not None:
        for kind in kinds:
            try:
                target = _by_name(core, kind, ref)
            except (NotFound, InvalidInput) as exc:
                if isinstance(exc, InvalidInput) and ref.object_id is None:
                    raise
                misses.append(exc)
                continue
            if target is not None:
                found.append(target)
    id_error: PachaError | None = None
    if ref.object_id is not None:
        try:
            target = _by_id(core, ref.object_id, kinds, ref.text)
            if target is not None and all(t.record_id != target.record_id for t in found):
                found.append(target)
        except (NotFound, InvalidInput) as exc:
            id_error = exc
    if len(found) > 1:
        raise InvalidInput(_ambiguous_message(core, ref.text, found, pick))
    if not found:
        raise _not_found(kinds, ref, misses, id_error)
    target = found[0]
    if change and target.version is not None and target.version.stage == GONE:
        raise NotFound(_gone_by_id_message(core, target.version))
    return target


def _by_name(core: Core, kind: str, ref: Reference) -> Target | None:
    if kind == "run":
        if ref.implied and RUN_NAME.fullmatch(ref.text):
            info = get_run(core, ref.text)
            return Target("run", info.name, info.record_id)
        return None
    name = check_name(ref.name or "")
    if ref.stage is not None:
        in_stage = core.in_stage(kind, name, ref.stage)
        if not in_stage:
            if core.versions_of(kind, name):
                raise MissingVersion(f"no version of {kind} {name} is in {ref.stage}")
            raise _no_name(core, kind, name)
        ver = in_stage[-1]
    elif ref.version == "latest":
        latest = versions.latest(core.versions_of(kind, name))
        if latest is None:
            raise _no_name(core, kind, name)
        ver = latest
    else:
        ver = versions.check(ref.version or "")
    record_id = core.plumbing.refs.get(layout.version_ref(kind, name, ver))
    if record_id is None:
        what = gone(core, kind, name, ver)
        if what is not None:
            raise MissingVersion(what.describe())
        known = core.versions_of(kind, name)
        if not known:
            raise _no_name(core, kind, name, f"{kind} {name}:{ver} not found; ")
        raise MissingVersion(f"{kind} {name}:{ver} not found; known versions: {', '.join(known)}")
    return Target(kind, f"{name}:{ver}", record_id, core.version(kind, name, ver, record_id))


def _no_name(core: Core, kind: str, name: str, lead: str = "") -> NotFound:
    """No version of name is registered: say what happened to those that were."""
    went = gone_versions(core, kind, name)
    if not went:
        return NotFound(f"{lead}no {kind} named {name}; {list_hint(kind)} shows what exists")
    return MissingVersion(
        f"{lead}no version of {kind} {name} is registered any more: " + "; ".join(g.describe() for g in went)
    )


def _by_id(core: Core, prefix: str, kinds: tuple[str, ...], text: str) -> Target | None:
    objects = core.plumbing.objects
    try:
        record_id = objects.find_prefix(prefix)
    except AmbiguousId as exc:
        raise InvalidInput(str(exc)) from None
    except ObjectNotFound:
        runs = _run_by_id(core, prefix) if "run" in kinds else None
        if runs is not None:
            return runs
        went = _gone_by_id(core, prefix.lower(), kinds)
        if went is not None:
            raise MissingVersion(went.describe()) from None
        raise NotFound(f"no record id starts with {prefix}") from None
    with objects.open(record_id) as reader:
        object_kind = reader.kind
        data = reader.read() if object_kind == "record" else b""
    if object_kind != "record":
        raise InvalidInput(f"{text} is a {object_kind}, not a version record")
    doc = msgspec.json.decode(data)
    record_type = doc.get("type")
    kind = next((k for k, t in layout.RECORD_TYPES.items() if t == record_type), None)
    if record_type == "run":
        if "run" not in kinds:
            raise InvalidInput(_wrong_kind(text, "run record", kinds))
        return Target("run", str(doc.get("name", record_id[:12])), record_id)
    if kind is None or kind not in kinds:
        raise InvalidInput(_wrong_kind(text, f"{record_type} record", kinds))
    record = core.read_record(record_id)
    current = core.plumbing.refs.get(layout.version_ref(kind, record.name, record.version))
    if current == record_id:
        found = core.version(kind, record.name, record.version, record_id)
    else:  # deleted, expired or replaced since: the record still says what it was
        found = Version(kind, record.name, record.version, record_id, record, GONE)
    return Target(kind, found.ref, record_id, found)


def _gone_by_id(core: Core, prefix: str, kinds: tuple[str, ...]) -> Gone | None:
    """The deleted or expired version whose record id starts with prefix (from the reflog)."""
    for kind in kinds:
        if kind not in layout.KINDS:
            continue
        for entry in reversed(core.plumbing.refs.reflog_all(layout.plural(kind) + "/")):
            if entry.new == ZERO_ID and entry.old.startswith(prefix):
                name, ver = layout.split_version_ref(kind, entry.name)
                what = gone(core, kind, name, ver)
                if what is not None and what.record_id == entry.old:
                    return what
    return None


def _run_by_id(core: Core, prefix: str) -> Target | None:
    matches = [name for name, _ in core.plumbing.refs.iter("runs/" + prefix.lower())]
    if len(matches) != 1:
        return None
    info = get_run(core, matches[0][len("runs/") :])
    return Target("run", info.name, info.record_id)


def _wrong_kind(text: str, what: str, kinds: tuple[str, ...]) -> str:
    wanted = " or ".join(f"{k} version" if k != "run" else "run" for k in kinds)
    return f"{text} is {a(what)}, not a {wanted}"


def _not_found(
    kinds: tuple[str, ...],
    ref: Reference,
    misses: list[PachaError],
    id_error: PachaError | None,
) -> PachaError:
    """The most telling error: what happened to a known name's version over a generic miss."""
    specific = [m for m in [*misses, id_error] if isinstance(m, MissingVersion)]
    if specific:
        return specific[0]
    if ref.name is None or (ref.object_id is not None and isinstance(id_error, InvalidInput)):
        assert id_error is not None
        return id_error
    what = " or ".join(kinds)
    if ref.object_id is not None:
        return NotFound(f"no {what} named or with id {ref.text!r}")
    if len(misses) == 1:
        return misses[0]
    hints = say("`pacha model list`, `pacha data list`", 'Registry.list("model"), Registry.list("dataset")')
    return NotFound(f"no {what} named {ref.name}; {hints} show what exists")


def _ambiguous_message(
    core: Core, text: str, found: list[Target], pick: Callable[[Target], str] | None
) -> str:
    def default(t: Target) -> str:
        return f"pacha {kind_cli(t.kind)} get {t.label}"

    how = pick or default
    parts = [f"{t.kind} {t.label} (`{how(t)}`, record {_short(core, t.record_id)})" for t in found]
    return f"{text!r} names more than one thing: " + "; ".join(parts) + "; a record id picks exactly one"


def _short(core: Core, record_id: str) -> str:
    """The shortest of 12, 16 or 64 hex digits that names only this object."""
    for length in (12, 16):
        try:
            if core.plumbing.objects.find_prefix(record_id[:length]) == record_id:
                return record_id[:length]
        except PachaError:
            continue
    return record_id


def _implied_message(core: Core, kinds: tuple[str, ...], ref: Reference) -> str:
    kind = kinds[0]
    latest = None
    if name_problem(ref.text) is None:
        latest = versions.latest(core.versions_of(kind, ref.text))
    now = f" (the latest is {ref.text}:{latest})" if latest else ""
    return f"{ref.text!r} names no version, and this command changes it: give {ref.text}:VERSION, " + say(
        f"-v VERSION or --latest{now}", f'version="VERSION" or {ref.text}:latest{now}'
    )


def _gone_by_id_message(core: Core, found: Version) -> str:
    what = gone(core, found.kind, found.name, found.version)
    if what is not None and what.record_id == found.record_id:
        return what.describe()
    current = core.plumbing.refs.get(layout.version_ref(found.kind, found.name, found.version))
    if current is not None:
        return (
            f"record {found.record_id[:12]} was {found.ref} but that version was registered again "
            f"since (now record {current[:12]}); give {found.ref} to change the current one"
        )
    return f"{found.kind} {found.ref} (record {found.record_id[:12]}) is no longer registered"
