"""The porcelain API: register, find, stage, download and delete model and dataset versions.

Every write is a commit: immutable objects first (artifact, record), then one
ref transaction that moves every ref it touches together.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

import pacha
from pacha.errors import RefConflict, RefNotFound, UsageError
from pacha.ids import ZERO_ID
from pacha.ignore import IgnoreRules, refuse_inside_registry
from pacha.store.snapshot import changed as file_changed
from pacha.store.snapshot import identity as snapshot_identity
from porcelain import hooks, layout, lineage, records, stages, versions
from porcelain.artifacts import artifact_of, check_still, hash_file, weights_info
from porcelain.downloads import Placed, place
from porcelain.errors import CheckFailed, ConcurrentChange, InvalidInput, PachaError, VersionExists
from porcelain.inputs import artifact_source
from porcelain.lineage_ops import LineageMixin
from porcelain.locking import writes_objects
from porcelain.names import check_name
from porcelain.preflight import check_refs, check_version_refs
from porcelain.recipe_ops import RecipesMixin
from porcelain.records import commit_subject
from porcelain.references import Reference
from porcelain.resolve import Target
from porcelain.restore import RestoreMixin
from porcelain.results import Registered, Transition, Version
from porcelain.retention import RetentionMixin
from porcelain.run_ops import RunsMixin
from porcelain.stage_ops import StagesMixin
from porcelain.training_api import TrainingAPI
from porcelain.version_alloc import BUMP_ATTEMPTS, VersionFree, VersionTaken
from porcelain.wording import say


class Registry(StagesMixin, LineageMixin, RecipesMixin, RunsMixin, RetentionMixin, RestoreMixin, TrainingAPI):
    """Models and datasets on top of a pacha registry."""

    def __init__(self, plumbing: pacha.Registry) -> None:
        self.plumbing = plumbing

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Registry:
        return cls(pacha.open_registry(path))

    # --- finding -----------------------------------------------------------------
    def versions_of(self, kind: str, name: str) -> list[str]:
        """Registered versions of name, oldest to newest (SemVer precedence).

        Args: kind: "model", "dataset" or "recipe". name: the name.
        Returns the versions (empty for an unknown name).
        Raises PachaError only for errors of the registry itself.
        """
        prefix = layout.versions_prefix(kind, name)
        found = [ref[len(prefix) :] for ref, _ in self.plumbing.refs.iter(prefix)]
        return versions.sort(v for v in found if "/" not in v)

    def names(self, kind: str) -> list[str]:
        """Every registered name of a kind.

        Args: kind: "model", "dataset" or "recipe".
        Returns the names, sorted.
        Raises nothing beyond the registry's own errors (PachaError).
        """
        names = set()
        for ref, _ in self.plumbing.refs.iter(layout.plural(kind) + "/"):
            names.add(layout.split_version_ref(kind, ref)[0])
        return sorted(names)

    def read_record(self, record_id: str) -> records.VersionRecord:
        """A model, dataset or recipe version record.

        Args: record_id: the record's full id.
        Returns the decoded records.VersionRecord (a metric stored as null reads as None).
        Raises ObjectNotFound if it is not stored; InvalidInput if it is not a version record.
        """
        with self.plumbing.objects.open(record_id) as reader:
            if reader.kind != "record":
                raise InvalidInput(f"object {record_id} is a {reader.kind}, not a version record")
            return records.decode(reader.read())

    def stage_of(self, kind: str, name: str, version: str) -> str:
        """The stage a version is in now.

        Args: kind: "model", "dataset" or "recipe". name: the name. version: the version.
        Returns development, staging, production or archived ("-" for recipes).
        Raises CheckFailed if the version has lost its stage ref (run fsck).
        """
        if kind not in layout.STAGED:
            return layout.NO_STAGE
        for stage in stages.STAGES:
            if self.plumbing.refs.get(layout.stage_ref(kind, name, stage, version)) is not None:
                return stage
        raise CheckFailed(f"{name}:{version} has no stage ref; run `pacha fsck`")

    def _version(self, kind: str, name: str, version: str, record_id: str) -> Version:
        record = self.read_record(record_id)
        return Version(kind, name, version, record_id, record, self.stage_of(kind, name, version))

    def in_stage(self, kind: str, name: str, stage: str) -> list[str]:
        """The versions of name now in stage.

        Args: kind: "model", "dataset" or "recipe". name: the model or dataset name. stage: development,
        staging, production or archived.
        Returns the versions in SemVer order (empty if none).
        Raises PachaError only for errors of the registry itself.
        """
        prefix = layout.stages_prefix(kind, name, stage)
        return versions.sort(ref[len(prefix) :] for ref, _ in self.plumbing.refs.iter(prefix))

    def get(
        self, kind: str, reference: str | Reference, version: str | None = None, *, change: bool = False
    ) -> Version:
        """Resolve a reference to one version (porcelain/resolve.py).

        Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
        (with version) or a record id or unique prefix. version: the version, if reference is a bare NAME
        (long form of NAME:VER). change: True for delete, stage and lineage add: the version must then be
        explicit and registered.
        Returns the version (name, version, stage, record id and record).
        Raises NotFound if no such version exists (saying what happened to a deleted or expired one);
        InvalidInput for a malformed reference, a reference and a version given together, or (with change)
        a bare NAME.
        """
        from porcelain.resolve import resolve

        return resolve(self, kind, reference, version, change=change)

    def list(self, kind: str, name: str | None = None, stage: str | None = None) -> list[Version]:
        """Registered versions, by name then SemVer order.

        Args: kind: "model", "dataset" or "recipe". name: only this name (None: every name). stage: only
        versions in this stage (models and datasets).
        Returns the versions (empty if none).
        Raises InvalidInput for a bad name or stage.
        """
        out = []
        for each in [check_name(name)] if name else self.names(kind):
            for version in self.versions_of(kind, each):
                record_id = self.plumbing.refs.get(layout.version_ref(kind, each, version))
                if record_id is None:
                    continue
                found = self._version(kind, each, version, record_id)
                if stage is None or found.stage == stage:
                    out.append(found)
        return out

    # --- registering -------------------------------------------------------------
    def next_version(
        self, kind: str, name: str, version: str | None, bump: str | None, card_version: str | None
    ) -> str:
        """The version a registration gets: the explicit one, the latest bumped, the card's, or 1.0.0.

        A bump on a name with no version yet starts at the card's version or 1.0.0, so a CI script needs
        no special case for the first run.
        Args: kind, name: what is registered. version: an explicit SemVer version. bump: major, minor or
        patch. card_version: the version the card names, if any.
        Returns the version (SemVer text).
        Raises InvalidInput for a bad version or part, both version and bump, or an existing name given
        neither a version nor a bump.
        """
        existing = self.versions_of(kind, name)
        if version and bump:
            raise UsageError(
                say("give -v VERSION or --bump PART, not both", "give version or bump, not both")
            )
        if version:
            return versions.check(version)
        if bump:
            latest = versions.latest(existing)
            if latest is None:
                versions.bump("0.0.0", bump)  # the part is checked even for a first version
                return versions.check(card_version) if card_version else "1.0.0"
            return versions.bump(latest, bump)
        if card_version:
            return versions.check(card_version)
        if existing:
            raise InvalidInput(
                f"{name} already has versions (latest {versions.latest(existing)}): "
                + say(
                    "give -v VERSION, --bump major|minor|patch, or a version in the card",
                    'give version="X.Y.Z", bump="major"|"minor"|"patch", or a version in the card',
                )
            )
        return "1.0.0"

    @writes_objects
    def register(
        self,
        kind: str,
        name: str,
        path: str | os.PathLike[str],
        *,
        version: str | None = None,
        bump: str | None = None,
        description: str = "",
        card: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        parents: list[records.ParentEdge] | None = None,
        message: str = "",
        extra_objects: list[tuple[bytes, str]] | None = None,
        card_defaults: Callable[[Path], dict[str, Any]] | None = None,
        filename: str | None = None,
        exclude: Sequence[str] = (),
    ) -> Registered:
        """Store the file or folder at path as name at a new version (in development).

        The low-level form of register_model, register_dataset and register_recipe: the card is stored as
        given (references pinned for models).
        Args: kind: "model", "dataset" or "recipe". name: e.g. fraud-detector or team/fraud-detector.
        path: the file or folder; also "-" (standard input) or a pipe such as /dev/fd/63. version: an
        explicit SemVer version. bump: major, minor or patch from the latest. description: what it is.
        card: Model Card / Datasheet fields. metrics: name -> finite number. parents: typed lineage edges
        (records.ParentEdge). message: why, for the reflog. extra_objects: (bytes, kind) to store with it
        (e.g. a signature). filename: the file name to record (required for "-" or a pipe; by default
        the path's own name). exclude: gitignore patterns a folder leaves out, after its .pachaignore
        (pacha.ignore; the registry's own directory is always left out, and a path inside the registry
        is refused). card_defaults: if given, runs on a thread while the artifact is stored (once every
        check has passed), given the path read: card fields read from the file, such as a datasheet's
        row count, which the card's own fields override.
        Every size, schema and header fact recorded comes from the bytes stored.
        Returns Registered(version, created): created is False when the same bytes were already registered
        at that version.
        Raises InvalidInput for a bad name, version, path, card or a non-finite number; VersionExists when
        the version exists with other bytes; CheckFailed when a pre-commit hook refuses; FileChanged when
        a file changes while it is read.
        """
        check_name(name)
        if version and bump:  # options first: a usage error is one whatever the path
            raise UsageError(
                say("give -v VERSION or --bump PART, not both", "give version or bump, not both")
            )
        from porcelain.finite import finite_float, require_finite

        require_finite(card, {"model": "model card", "dataset": "datasheet"}.get(kind, kind))
        metrics = {key: finite_float(value, f"metric {key}") for key, value in (metrics or {}).items()}
        card = dict(card or {})
        if card.get("name") not in (None, name):
            raise InvalidInput(f"the card is for {card['name']!r}, not {name!r}")
        with artifact_source(path, filename, self.plumbing.objects.tmp_dir) as (target, recorded, streamed):
            if not streamed:
                refuse_inside_registry(target, self.plumbing.root)
            ignore = None
            if target.is_dir():
                ignore = IgnoreRules.for_folder(target, exclude, registry=self.plumbing.root)
            elif exclude:
                raise InvalidInput(f"--exclude applies to folders; {path} is a file")
            return self._register_artifact(
                kind,
                name,
                target,
                recorded,
                ignore,
                version=version,
                bump=bump,
                description=description,
                card=card,
                metrics=metrics,
                parents=parents,
                message=message,
                extra_objects=extra_objects,
                card_defaults=card_defaults,
            )

    def _register_artifact(
        self,
        kind: str,
        name: str,
        target: Path,
        filename: str,
        ignore: IgnoreRules | None,
        *,
        version: str | None,
        bump: str | None,
        description: str,
        card: dict[str, Any],
        metrics: dict[str, float] | None,
        parents: list[records.ParentEdge] | None,
        message: str,
        extra_objects: list[tuple[bytes, str]] | None,
        card_defaults: Callable[[Path], dict[str, Any]] | None,
    ) -> Registered:
        # A file's identity before anything reads it: the bytes stored, their size and every
        # card fact read from them (weights header, schema) must all be of this one file.
        listed = None if ignore is not None else snapshot_identity(os.stat(target))
        described: list[tuple[Path, tuple[int, ...]]] = []  # a folder's files read for the card
        if kind == "model":
            from porcelain.cards import MODEL_CARD_FIELDS, pin_references

            card = pin_references(card, MODEL_CARD_FIELDS, self._resolve_card_reference)
            if "weights" not in card:
                info = weights_info(target, ignore, described)
                if info:
                    card["weights"] = info
        new_version = self.next_version(kind, name, version, bump, card.get("version"))
        check_version_refs(kind, name, new_version)  # before anything is stored
        same_rank = [v for v in self.versions_of(kind, name) if versions.compare(v, new_version) == 0]
        # with a bump the version is new by construction; one registered since was taken by a
        # concurrent bump, and the commit below moves on to the next free version
        if same_rank and not bump:
            return self._existing(kind, name, same_rank[0], new_version, target, ignore)
        # The record as it will be, checked before the artifact is stored (a number JSON cannot
        # hold, a field of the wrong type): only the artifact's facts are placeholders here.
        records.build(
            type=layout.RECORD_TYPES[kind], name=name, version=new_version, artifact=ZERO_ID,
            artifact_kind="blob", size=0, filename=filename, author=self.plumbing.identity(),
            created_ns=0, description=description, message=message,
            card={k: v for k, v in card.items() if k != "metrics"},
            metrics={**card.get("metrics", {}), **(metrics or {})}, parents=parents or [],
        ).encode()  # fmt: skip
        objects = self.plumbing.objects
        # With a pre-commit hook, nothing may be written before it agrees: hash first.
        hook_first = hooks.hook_path(self.plumbing.root, hooks.PRE) is not None
        base = self._delta_base(kind, name, parents or [])
        store_to = None if hook_first else objects
        if card_defaults is None:
            artifact, artifact_kind, size = artifact_of(store_to, target, base, ignore=ignore, listed=listed)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(1, thread_name_prefix="pacha-card") as pool:
                defaults = pool.submit(card_defaults, target)
                artifact, artifact_kind, size = artifact_of(
                    store_to, target, base, ignore=ignore, listed=listed
                )
                card = {**defaults.result(), **card}
        if listed is not None and snapshot_identity(os.stat(target)) != listed:
            raise file_changed(target)  # after the card's facts were read from it too
        check_still(described)  # a folder's weights headers were read from the bytes stored
        merged_metrics = {**card.pop("metrics", {}), **(metrics or {})}
        record = records.build(
            type=layout.RECORD_TYPES[kind],
            name=name,
            version=new_version,
            artifact=artifact,
            artifact_kind=artifact_kind,
            size=size,
            filename=filename,
            author=self.plumbing.identity(),
            created_ns=time.time_ns(),
            description=description or card.get("description", ""),
            message=message,
            card=card,
            metrics=merged_metrics,
            parents=parents or [],
        )
        stored = not hook_first

        def write_objects(data: bytes) -> None:
            nonlocal stored
            if not stored and artifact_of(objects, target, base, ignore=ignore, listed=listed)[0] != artifact:
                raise CheckFailed(f"{target} changed while it was being registered; try again")
            stored = True  # the artifact is stored once; a retry of --bump writes only its record
            for extra, extra_kind in extra_objects or []:
                objects.put_bytes(extra, extra_kind)  # what the card links (e.g. signatures)
            objects.put_bytes(data, "record")

        return self._commit_version(kind, record, message, bump, target, write_objects, ignore)

    def _commit_version(
        self,
        kind: str,
        record: records.VersionRecord,
        message: str,
        bump: str | None,
        target: Path,
        write_objects: Callable[[bytes], None],
        ignore: IgnoreRules | None = None,
    ) -> Registered:
        """Commit a new version's refs; the version's rules are checked inside the ref transaction.

        If another writer took the version meanwhile: with bump, plan the next one and commit
        again (at most BUMP_ATTEMPTS times, only the record is rebuilt); without, answer as
        _existing does. Raises ConcurrentChange when every attempt lost."""
        name = record.name
        for _ in range(BUMP_ATTEMPTS):
            new_version = record.version
            data = record.encode()
            record_id = pacha.hash_bytes(data)
            try:
                self._commit(
                    "register",
                    message or f"register {name} {new_version}",
                    [
                        ("create", layout.version_ref(kind, name, new_version), record_id, None),
                        *(
                            [
                                (
                                    "create",
                                    layout.stage_ref(kind, name, stages.INITIAL, new_version),
                                    record_id,
                                    None,
                                )
                            ]
                            if kind in layout.STAGED
                            else []
                        ),
                    ],
                    commit_subject(kind, name, new_version, record_id, record, stage=stages.INITIAL),
                    [
                        (bytes.fromhex(used), bytes.fromhex(record_id))
                        for used in lineage.linked_versions(record)
                    ],
                    lambda data=data: write_objects(data),
                    check=VersionFree(kind, name, new_version),
                )
            except VersionTaken as taken:
                if not bump:  # the version was asked for: answer as if this writer had come second
                    return self._existing(kind, name, taken.existing, new_version, target, ignore)
                latest = versions.latest(self.versions_of(kind, name)) or new_version
                record = msgspec.structs.replace(record, version=versions.bump(latest, bump))
                continue
            return Registered(
                Version(kind, name, new_version, record_id, record, self.stage_of(kind, name, new_version)),
                True,
            )
        how = say(f"--bump {bump}", f"bump={bump!r}")
        again = say("run the command again", "call again")
        raise ConcurrentChange(
            f"could not register {name} with {how}: {BUMP_ATTEMPTS} other registrations of "
            f"{name} took each next version meanwhile; nothing was registered: {again}"
        )

    def _delta_base(self, kind: str, name: str, parents: list[records.ParentEdge]) -> str | None:
        """The artifact a new version most likely resembles: the latest version, else its first parent.

        The store keeps what changed against it as deltas (chunks it shares cost nothing anyway).
        """
        latest = versions.latest(self.versions_of(kind, name))
        try:
            if latest is not None:
                return self.get(kind, f"{name}:{latest}").record.artifact
            if parents:
                return self.read_record(parents[0].record).artifact
        except PachaError:
            return None  # no usable base: the version is stored without deltas
        return None

    def _existing(
        self, kind: str, name: str, existing: str, wanted: str, target: Path, ignore: IgnoreRules | None
    ) -> Registered:
        found = self.get(kind, f"{name}:{existing}")
        if existing != wanted:
            raise VersionExists(
                f"{name}:{existing} is already registered and {wanted} has the same precedence "
                "(build metadata does not order versions); choose another version"
            )
        # hashed with the same exclusions as when stored: one folder, one id
        artifact = pacha.write_tree(None, target, ignore=ignore) if target.is_dir() else hash_file(target)
        if artifact != found.record.artifact:
            latest = versions.latest(self.versions_of(kind, name))
            bump_hint = say("--bump patch", 'bump="patch"')
            raise VersionExists(
                f"{name}:{existing} is already registered with different content; "
                f"register a new version (latest is {latest}; try {bump_hint})"
            )
        return Registered(found, False)

    def find_any(self, reference: str, version: str | None = None) -> Version:
        """A model, dataset or recipe version, whichever the reference names.

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. version: the version, if reference is a bare NAME.
        Returns the version.
        Raises NotFound if nothing matches; InvalidInput if the reference names more than one (the message
        lists each candidate).
        """
        from porcelain.resolve import resolve_target

        target = resolve_target(self, reference, version)
        assert target.version is not None
        return target.version

    def verify(
        self, kind: str | None, reference: str, version: str | None = None
    ) -> tuple[Version | Target, int, list[str]]:
        """Re-check the record, its artifact and every ancestor and pinned reference, by hash.

        Args: kind: "model", "dataset", "recipe", or None for whatever the reference names (a model,
        dataset or recipe version, or a run). reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with
        version) or a record id or unique prefix. version: the version, if reference is a bare NAME.
        Returns (the version or run target, the number of objects checked, the problems found; empty if
        sound).
        Raises NotFound for an unknown version; InvalidInput for an ambiguous reference.
        """
        from pacha.verify import verify_closure
        from porcelain.resolve import kind_cli, resolve_target

        found: Version | Target
        if kind:
            found = self.get(kind, reference, version)
        else:
            found = resolve_target(
                self,
                reference,
                version,
                kinds=("model", "dataset", "recipe", "run"),
                pick=lambda t: (
                    f"pacha {kind_cli(t.kind)} verify {t.label}"
                    if t.kind != "run"
                    else f"pacha verify {t.record_id[:12]}"
                ),
            )
        count, problems = verify_closure(self.plumbing.objects, [found.record_id])
        return found, count, problems

    # --- getting it back, removing it --------------------------------------------------
    def download(
        self,
        kind: str,
        reference: str,
        dest: str | os.PathLike[str],
        *,
        version: str | None = None,
        force: bool = False,
    ) -> tuple[Version, Path]:
        """Write a version's file or folder at dest, verified as written, all or nothing.

        The rules (porcelain/downloads.py): a folder's dest holds its contents; the same contents already
        there are a no-op; other contents need force (replaced atomically).
        Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
        (with version) or a record id or unique prefix. dest: the file or directory to write. version: the
        version, if reference is a bare NAME. force: replace dest if it holds other contents.
        Returns (the version, the path written: inside dest if dest is a directory and the artifact a
        file).
        Raises NotFound for an unknown version; InvalidInput if dest holds other contents and force is not
        given; a PachaError if a stored object is damaged (nothing is left half written).
        """
        found, placed = self.download_placed(kind, reference, dest, version=version, force=force)
        return found, placed.path

    def download_placed(
        self,
        kind: str,
        reference: str,
        dest: str | os.PathLike[str],
        *,
        version: str | None = None,
        force: bool = False,
    ) -> tuple[Version, Placed]:
        """As download, also saying whether anything was written.

        Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
        (with version) or a record id or unique prefix. dest: the file or directory to write. version: the
        version, if reference is a bare NAME. force: replace dest if it holds other contents.
        Returns (the version, downloads.Placed: path, and written: False when the same contents were
        already there).
        Raises as download.
        """
        found = self.get(kind, reference, version)
        return found, place(self.plumbing.objects, found, dest, force)

    def delete(
        self, kind: str, reference: str, *, version: str | None = None, force: bool = False, why: str = ""
    ) -> Version:
        """Remove a version's refs; its objects and reflog stay, so nothing is erased.

        The version must be explicit (not a bare NAME); restore brings it back.
        Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
        (with version) or a record id or unique prefix. version: the version, if reference is a bare NAME.
        force: also delete a version in production. why: the reason, kept in the reflog.
        Returns the version as it was before deletion.
        Raises NotFound for an unknown version; CheckFailed for a production version without force, or
        when a pre-commit hook refuses.
        """
        found = self.get(kind, reference, version, change=True)
        if found.stage == stages.PRODUCTION and not force:
            raise CheckFailed(
                f"{found.ref} is in production; pass {say('--force', 'force=True')} to delete it anyway"
            )
        subject = commit_subject(
            kind, found.name, found.version, found.record_id, found.record, stage=found.stage
        )
        plan = [("delete", layout.version_ref(kind, found.name, found.version), None, found.record_id)]
        if kind in layout.STAGED:
            plan.append(
                (
                    "delete",
                    layout.stage_ref(kind, found.name, found.stage, found.version),
                    None,
                    found.record_id,
                )
            )
        self._commit("delete", why or f"delete {found.ref}", plan, subject)
        return found

    # --- committing ------------------------------------------------------------------
    @writes_objects
    def _commit(
        self,
        operation: str,
        message: str,
        plan: list[tuple[str, str, str | None, str | None]],
        subject: dict[str, Any],
        index_ops: list[tuple[bytes, bytes]] | None = None,
        write_objects: Any = None,
        check: Callable[[Any], None] | None = None,
    ) -> list[Any]:
        """Hooks around one transaction: pre-commit, objects, refs (and index), post-commit.

        check, if given, runs inside the ref transaction (see RefTransaction.check): the
        rules it enforces hold against every concurrent writer. A compare-and-swap that
        fails because another writer moved a ref meanwhile raises ConcurrentChange."""
        check_refs(ref for _, ref, _, _ in plan)  # before the hooks and the objects
        zero = ZERO_ID
        payload = {
            "operation": operation,
            "message": message,
            "who": self.plumbing.identity(),
            "updates": [{"ref": ref, "old": old or zero, "new": new or zero} for _, ref, new, old in plan],
            **subject,
        }
        hooks.run(self.plumbing.root, hooks.PRE, payload)
        if write_objects is not None:
            write_objects()
        tx = self.plumbing.transaction(message)
        for op, ref, new, old in plan:
            if op == "create":
                tx.create(ref, new)  # type: ignore[arg-type]
            elif op == "update":
                tx.update(ref, new, old)  # type: ignore[arg-type]
            elif op == "expire":
                tx.delete(ref, old, expire=True)
            else:
                tx.delete(ref, old)
        for key, value in index_ops or []:
            tx.index_add(lineage.INDEX, key, value)
        if check is not None:
            tx.check(check)
        try:
            entries = tx.commit()
        except (RefConflict, RefNotFound) as exc:
            raise ConcurrentChange(
                f"another writer changed the registry meanwhile ({exc}); nothing was changed: "
                "run the command again"
            ) from None
        hooks.run(self.plumbing.root, hooks.POST, payload)
        return entries


__all__ = ["Registered", "Registry", "Transition", "Version"]
