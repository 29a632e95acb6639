"""The porcelain API: register, find, stage, download and delete model and dataset versions.

Every write is a commit: immutable objects first (artifact, record), then one
ref transaction that moves every ref it touches together.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pacha
from pacha.errors import ObjectNotFound
from porcelain import hooks, layout, lineage, records, stages, versions
from porcelain.errors import CheckFailed, InvalidInput, NotFound, VersionExists
from porcelain.names import check_name
from porcelain.references import Reference, parse_reference


@dataclass(frozen=True)
class Version:
    """One registered version, as found through its refs."""

    kind: str
    name: str
    version: str
    record_id: str
    record: records.VersionRecord
    stage: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Registered:
    version: Version
    created: bool  # False: the same bytes were already registered under this version


@dataclass(frozen=True)
class Transition:
    """One stage change of one version (from_stage None: registration)."""

    name: str
    version: str
    from_stage: str | None
    to_stage: str | None  # None: deleted
    who: str
    when_ns: int
    why: str


class Registry:
    """Models and datasets on top of a pacha registry."""

    def __init__(self, plumbing: pacha.Registry) -> None:
        self.plumbing = plumbing

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Registry:
        return cls(pacha.open_registry(path))

    # --- finding -----------------------------------------------------------------
    def versions_of(self, kind: str, name: str) -> list[str]:
        """Registered versions of name, oldest to newest (SemVer precedence)."""
        prefix = layout.versions_prefix(kind, name)
        found = [ref[len(prefix) :] for ref, _ in self.plumbing.refs.iter(prefix)]
        return versions.sort(v for v in found if "/" not in v)

    def names(self, kind: str) -> list[str]:
        names = set()
        for ref, _ in self.plumbing.refs.iter(layout.plural(kind) + "/"):
            names.add(layout.split_version_ref(kind, ref)[0])
        return sorted(names)

    def read_record(self, record_id: str) -> records.VersionRecord:
        with self.plumbing.objects.open(record_id) as reader:
            if reader.kind != "record":
                raise InvalidInput(f"object {record_id} is a {reader.kind}, not a version record")
            return records.decode(reader.read())

    def stage_of(self, kind: str, name: str, version: str) -> str:
        for stage in stages.STAGES:
            if self.plumbing.refs.get(layout.stage_ref(kind, name, stage, version)) is not None:
                return stage
        raise CheckFailed(f"{name}:{version} has no stage ref; run `pacha fsck`")

    def _version(self, kind: str, name: str, version: str, record_id: str) -> Version:
        record = self.read_record(record_id)
        return Version(kind, name, version, record_id, record, self.stage_of(kind, name, version))

    def in_stage(self, kind: str, name: str, stage: str) -> list[str]:
        prefix = layout.stages_prefix(kind, name, stage)
        return versions.sort(ref[len(prefix) :] for ref, _ in self.plumbing.refs.iter(prefix))

    def get(self, kind: str, reference: str | Reference, version: str | None = None) -> Version:
        """Resolve name:1.2.0, name:latest, name@stage, name -v VER or a record id."""
        ref = reference if isinstance(reference, Reference) else parse_reference(reference, version)
        if ref.name is not None and (ref.object_id is None or self.versions_of(kind, ref.name)):
            return self._by_name(kind, ref)
        assert ref.object_id is not None
        try:
            record_id = self.plumbing.objects.find_prefix(ref.object_id)
        except ObjectNotFound:
            raise NotFound(f"no {kind} named or with id {ref.text!r}") from None
        record = self.read_record(record_id)
        if record.type != layout.RECORD_TYPES[kind]:
            raise InvalidInput(f"{ref.text} is a {record.type} record, not a {kind} version")
        return self._version(kind, record.name, record.version, record_id)

    def _by_name(self, kind: str, ref: Reference) -> Version:
        name = check_name(ref.name or "")
        if ref.stage is not None:
            found = self.in_stage(kind, name, ref.stage)
            if not found:
                raise NotFound(f"no version of {kind} {name} is in {ref.stage}")
            version = found[-1]
        elif ref.version == "latest":
            latest = versions.latest(self.versions_of(kind, name))
            if latest is None:
                raise NotFound(f"no {kind} named {name}; `pacha {kind_cli(kind)} list` shows what exists")
            version = latest
        else:
            version = versions.check(ref.version or "")
        record_id = self.plumbing.refs.get(layout.version_ref(kind, name, version))
        if record_id is None:
            known = self.versions_of(kind, name)
            hint = f"known versions: {', '.join(known)}" if known else f"no {kind} named {name}"
            raise NotFound(f"{kind} {name}:{version} not found; {hint}")
        return self._version(kind, name, version, record_id)

    def list(self, kind: str, name: str | None = None, stage: str | None = None) -> list[Version]:
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
        existing = self.versions_of(kind, name)
        if version and bump:
            raise InvalidInput("give -v VERSION or --bump PART, not both")
        if version:
            return versions.check(version)
        if bump:
            latest = versions.latest(existing)
            if latest is None:
                raise InvalidInput(f"cannot --bump: {name} has no version yet; give -v VERSION")
            return versions.bump(latest, bump)
        if card_version:
            return versions.check(card_version)
        if existing:
            raise InvalidInput(
                f"{name} already has versions (latest {versions.latest(existing)}): "
                "give -v VERSION, --bump major|minor|patch, or a version in the card"
            )
        return "1.0.0"

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
    ) -> Registered:
        """Store the file or folder at path as name at a new version (in development)."""
        check_name(name)
        card = dict(card or {})
        if card.get("name") not in (None, name):
            raise InvalidInput(f"the card is for {card['name']!r}, not {name!r}")
        target = Path(path)
        if not target.exists():
            raise InvalidInput(f"{target} does not exist")
        if kind == "model":
            from porcelain.cards import MODEL_CARD_FIELDS, pin_references

            card = pin_references(card, MODEL_CARD_FIELDS, self._resolve_card_reference)
            if "weights" not in card:
                info = _weights_info(target)
                if info:
                    card["weights"] = info
        new_version = self.next_version(kind, name, version, bump, card.get("version"))
        same_rank = [v for v in self.versions_of(kind, name) if versions.compare(v, new_version) == 0]
        if same_rank:
            return self._existing(kind, name, same_rank[0], new_version, target)
        objects = self.plumbing.objects
        # With a pre-commit hook, nothing may be written before it agrees: hash first.
        hook_first = hooks.hook_path(self.plumbing.root, hooks.PRE) is not None
        artifact, artifact_kind, size = _artifact(None if hook_first else objects, target)
        merged_metrics = {**card.pop("metrics", {}), **(metrics or {})}
        record = records.build(
            type=layout.RECORD_TYPES[kind],
            name=name,
            version=new_version,
            artifact=artifact,
            artifact_kind=artifact_kind,
            size=size,
            filename=target.resolve().name,
            author=self.plumbing.identity(),
            created_ns=time.time_ns(),
            description=description or card.get("description", ""),
            message=message,
            card=card,
            metrics=merged_metrics,
            parents=parents or [],
        )
        data = record.encode()
        record_id = pacha.hash_bytes(data)

        def write_objects() -> None:
            if hook_first and _artifact(objects, target)[0] != artifact:
                raise CheckFailed(f"{target} changed while it was being registered; try again")
            objects.put_bytes(data, "record")

        self._commit(
            "register",
            message or f"register {name} {new_version}",
            [
                ("create", layout.version_ref(kind, name, new_version), record_id, None),
                ("create", layout.stage_ref(kind, name, stages.INITIAL, new_version), record_id, None),
            ],
            _subject(kind, name, new_version, record_id, record, stage=stages.INITIAL),
            [(bytes.fromhex(e.record), bytes.fromhex(record_id)) for e in record.parents],
            write_objects,
        )
        return Registered(Version(kind, name, new_version, record_id, record, stages.INITIAL), True)

    def _existing(self, kind: str, name: str, existing: str, wanted: str, target: Path) -> Registered:
        found = self.get(kind, f"{name}:{existing}")
        if existing != wanted:
            raise VersionExists(
                f"{name}:{existing} is already registered and {wanted} has the same precedence "
                "(build metadata does not order versions); choose another version"
            )
        artifact = pacha.write_tree(None, target) if target.is_dir() else _hash_file(target)
        if artifact != found.record.artifact:
            latest = versions.latest(self.versions_of(kind, name))
            raise VersionExists(
                f"{name}:{existing} is already registered with different content; "
                f"register a new version (latest is {latest}; try --bump patch)"
            )
        return Registered(found, False)

    # --- stages ------------------------------------------------------------------
    def set_stage(
        self,
        kind: str,
        reference: str,
        target: str,
        *,
        version: str | None = None,
        why: str = "",
        keep_existing: bool = False,
    ) -> list[Transition]:
        """Move a version to target; promoting to production archives the previous one."""
        found = self.get(kind, reference, version)
        what = f"{found.name}:{found.version}"
        stages.check_transition(found.stage, target, what)
        moves = [(found.version, found.stage, target)]
        if target == stages.PRODUCTION and not keep_existing:
            for other in self.in_stage(kind, found.name, stages.PRODUCTION):
                moves.append((other, stages.PRODUCTION, stages.ARCHIVED))
        message = why or f"{what} to {target}"
        plan = []
        for ver, old, new in moves:
            record_id = self.plumbing.refs.get(layout.version_ref(kind, found.name, ver))
            if record_id is None:
                raise CheckFailed(f"{found.name}:{ver} lost its version ref; run `pacha fsck`")
            plan.append(("delete", layout.stage_ref(kind, found.name, old, ver), None, record_id))
            plan.append(("create", layout.stage_ref(kind, found.name, new, ver), record_id, None))
        subject = _subject(kind, found.name, found.version, found.record_id, found.record)
        subject["transition"] = {"from": found.stage, "to": target}
        subject["moves"] = [{"version": v, "from": o, "to": n} for v, o, n in moves]
        entry = self._commit("stage", message, plan, subject)[0]
        return [Transition(found.name, v, o, n, entry.who, entry.when_ns, message) for v, o, n in moves]

    def history(self, kind: str, name: str) -> list[Transition]:
        """Every stage change of every version of name, oldest first (from the reflog)."""
        check_name(name)
        entries = self.plumbing.refs.reflog_all(layout.stages_prefix(kind, name))
        groups: dict[tuple[int, str], dict[str, Any]] = {}
        for entry in entries:
            ref_name, stage, ver = layout.split_stage_ref(kind, entry.name)
            if ref_name != name:
                continue
            group = groups.setdefault((entry.when_ns, ver), {"from": None, "to": None, "e": entry})
            if entry.new == pacha_zero():
                group["from"] = stage
            else:
                group["to"] = stage
        out = [
            Transition(name, ver, g["from"], g["to"], g["e"].who, when, g["e"].message)
            for (when, ver), g in groups.items()
        ]
        out.sort(key=lambda t: t.when_ns)
        return out

    def at(self, kind: str, name: str, stage: str, when_ns: int) -> list[str]:
        """The versions that were in stage at a moment (time travel through the reflog)."""
        stages.check_stage(stage)
        state: dict[str, bool] = {}
        for entry in self.plumbing.refs.reflog_all(layout.stages_prefix(kind, name, stage)):
            if entry.when_ns > when_ns:
                break
            ref_name, _, ver = layout.split_stage_ref(kind, entry.name)
            if ref_name == name:
                state[ver] = entry.new != pacha_zero()
        return versions.sort(v for v, present in state.items() if present)

    def find_any(self, reference: str, version: str | None = None) -> Version:
        """A model or dataset version, whichever the reference names (ambiguity is an error)."""
        found = []
        for kind in layout.KINDS:
            try:
                found.append(self.get(kind, reference, version))
            except NotFound:
                continue
        if not found:
            raise NotFound(f"no model or dataset version {reference!r}")
        if len({f.record_id for f in found}) > 1:
            raise InvalidInput(
                f"{reference!r} names both a model and a dataset; use `pacha model ...` or "
                "`pacha data ...`, or the ref models/NAME/VER"
            )
        return found[0]

    def verify(
        self, kind: str | None, reference: str, version: str | None = None
    ) -> tuple[Version, int, list[str]]:
        """Re-check the record, its artifact and every ancestor and pinned reference, by hash."""
        from pacha.fsck import verify_closure

        found = self.get(kind, reference, version) if kind else self.find_any(reference, version)
        count, problems = verify_closure(self.plumbing.objects, [found.record_id])
        return found, count, problems

    # --- lineage -----------------------------------------------------------------
    def read_edge(self, edge_id: str) -> dict[str, Any]:
        import msgspec

        doc = msgspec.json.decode(self.plumbing.objects.read(edge_id))
        if doc.get("type") != "lineage-edge":
            raise InvalidInput(f"object {edge_id} is not a lineage edge")
        return doc

    def node(self, record_id: str) -> lineage.Node:
        record = self.read_record(record_id)
        kind = next(k for k, t in layout.RECORD_TYPES.items() if t == record.type)
        current = self.plumbing.refs.get(layout.version_ref(kind, record.name, record.version))
        state = self.stage_of(kind, record.name, record.version) if current == record_id else "deleted"
        return lineage.Node(record_id, kind, record.name, record.version, state)

    def resolve_parents(self, kind: str, references: list[str]) -> list[str]:
        return [self.get(kind, ref).record_id for ref in references]

    def add_lineage(
        self,
        kind: str,
        child_ref: str,
        parent_refs: list[str],
        relation: str,
        params: dict[str, str],
        why: str = "",
    ) -> list[lineage.Edge]:
        """Record edges from an existing version to its parents after the fact (no cycles)."""
        child = self.get(kind, child_ref)
        parent_ids = self.resolve_parents(kind, parent_refs)
        edges = lineage.build_edges(kind, relation, parent_ids, params, self.recipe_resolver())
        for edge in edges:
            if edge.record == child.record_id or child.record_id in lineage.ancestors(self, edge.record):
                parent = self.node(edge.record)
                raise InvalidInput(
                    f"{child.ref} cannot be {relation} from {parent.label}: "
                    f"{parent.label} already descends from {child.ref} (lineage must stay acyclic)"
                )
        existing = {(e.parent, e.relation) for e in lineage.parents_of(self, child.record_id)}
        added, plan, index_ops, blobs = [], [], [], []
        for edge in edges:
            if (edge.record, edge.relation) in existing:
                continue
            doc = {
                "child": child.record_id,
                "parent": edge.record,
                "relation": edge.relation,
                "params": dict(edge.params),
                "author": self.plumbing.identity(),
                "created_ns": time.time_ns(),
                "why": why,
            }
            data = pacha.make_record("lineage-edge", doc, [child.record_id, edge.record])
            edge_id = pacha.hash_bytes(data)
            blobs.append(data)
            prefix = lineage.edge_ref_prefix(kind, child.name, child.version)
            plan.append(("create", prefix + edge_id[:16], edge_id, None))
            index_ops.append((bytes.fromhex(edge.record), bytes.fromhex(child.record_id)))
            added.append(
                lineage.Edge(child.record_id, edge.record, edge.relation, dict(edge.params), edge_id)
            )
        if not added:
            raise InvalidInput(f"{child.ref} already has this {relation} edge")
        subject = _subject(kind, child.name, child.version, child.record_id, child.record)
        subject["edges"] = [{"parent": e.parent, "relation": e.relation, "params": e.params} for e in added]

        def write_objects() -> None:
            for data in blobs:
                self.plumbing.objects.put_bytes(data, "record")

        self._commit(
            "lineage", why or f"lineage {child.ref} {relation}", plan, subject, index_ops, write_objects
        )
        return added

    def lineage_graph(
        self,
        kind: str,
        reference: str,
        *,
        ancestors: bool = True,
        descendants: bool = True,
        depth: int | None = None,
        version: str | None = None,
    ) -> lineage.Graph:
        found = self.get(kind, reference, version)
        return lineage.walk(self, found.record_id, ancestors, descendants, depth)

    def _resolve_card_reference(self, kind: str, text: str) -> tuple[str, str]:
        if kind == "recipe":
            pinned = self.recipe_resolver()(text)
            return pinned["ref"], pinned["id"]
        try:
            found = self.get(kind, text)
            return found.ref, found.record_id
        except NotFound as exc:
            raise NotFound(f"the card names {kind} {text!r}, which is not registered: {exc}") from None

    def recipe_resolver(self) -> Any:
        def resolve(text: str) -> dict[str, str]:
            name, _, ver = text.partition(":")
            record_id = self.plumbing.refs.get(f"recipes/{name}/{ver or 'latest'}")
            if record_id is None:
                raise NotFound(f"recipe {text!r} is not registered; register it first")
            return {"ref": text, "id": record_id}

        return resolve

    def reindex(self) -> int:
        """Rebuild the derived lineage index from records and lineage refs."""

        def pairs() -> Any:
            for kind in layout.KINDS:
                for _, record_id in self.plumbing.refs.iter(layout.plural(kind) + "/"):
                    for edge in lineage.parents_of(self, record_id):
                        yield bytes.fromhex(edge.parent), bytes.fromhex(record_id)

        return self.plumbing.refs.index_rebuild(lineage.INDEX, pairs())

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
        found = self.get(kind, reference, version)
        target = Path(dest)
        if target.is_dir() and found.record.artifact_kind == "blob":
            target = target / found.record.filename
        pacha.checkout(self.plumbing.objects, found.record.artifact, target, force=force)
        return found, target

    def delete(
        self, kind: str, reference: str, *, version: str | None = None, force: bool = False, why: str = ""
    ) -> Version:
        """Remove a version's refs (its objects stay until gc); production needs force."""
        found = self.get(kind, reference, version)
        if found.stage == stages.PRODUCTION and not force:
            raise CheckFailed(f"{found.ref} is in production; pass --force to delete it anyway")
        subject = _subject(kind, found.name, found.version, found.record_id, found.record, stage=found.stage)
        plan = [
            ("delete", layout.version_ref(kind, found.name, found.version), None, found.record_id),
            ("delete", layout.stage_ref(kind, found.name, found.stage, found.version), None, found.record_id),
        ]
        self._commit("delete", why or f"delete {found.ref}", plan, subject)
        return found

    # --- for training code: the short names -------------------------------------------
    def register_model(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        version: str | None = None,
        bump: str | None = None,
        description: str = "",
        card: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        parents: list[str] | None = None,
        relation: str | None = None,
        params: dict[str, Any] | None = None,
        message: str = "",
    ) -> Version:
        """Register a model file or folder; parents (NAME:VER) with relation record lineage."""
        from porcelain.cards import MODEL_CARD_FIELDS, validate_fields

        edges = []
        if parents or relation:
            raw = {
                k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in (params or {}).items()
            }
            edges = lineage.build_edges(
                "model",
                relation or "",
                self.resolve_parents("model", parents or []),
                raw,
                self.recipe_resolver(),
            )
        fields = validate_fields(card or {}, MODEL_CARD_FIELDS, "card")
        return self.register(
            "model",
            name,
            path,
            version=version,
            bump=bump,
            description=description,
            card=fields,
            metrics=metrics,
            parents=edges,
            message=message,
        ).version

    def register_dataset(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        version: str | None = None,
        bump: str | None = None,
        purpose: str = "",
        datasheet: dict[str, Any] | None = None,
        derived_from: list[str] | None = None,
        transform: str | None = None,
        message: str = "",
    ) -> Version:
        """Register a data file or folder; schema and row count are filled for CSV/TSV/JSONL."""
        from porcelain.cards import validate_datasheet
        from porcelain.schema_infer import infer

        sheet = infer(Path(path)) or {}
        sheet.update(validate_datasheet(datasheet or {}, "datasheet"))
        if purpose:
            sheet["purpose"] = purpose
        edges = []
        if derived_from or transform:
            if not derived_from or not transform:
                raise InvalidInput("derived_from and transform go together")
            edges = [
                e
                for source in self.resolve_parents("dataset", derived_from)
                for e in lineage.build_edges("dataset", "derived", [source], {"transform": transform})
            ]
        return self.register(
            "dataset",
            name,
            path,
            version=version,
            bump=bump,
            description=sheet.get("purpose", ""),
            card=sheet,
            parents=edges,
            message=message,
        ).version

    def get_model(self, reference: str, version: str | None = None) -> Version:
        return self.get("model", reference, version)

    def get_dataset(self, reference: str, version: str | None = None) -> Version:
        return self.get("dataset", reference, version)

    def stage(
        self,
        reference: str,
        to: str,
        *,
        kind: str = "model",
        version: str | None = None,
        why: str = "",
        keep_existing: bool = False,
    ) -> list[Transition]:
        return self.set_stage(kind, reference, to, version=version, why=why, keep_existing=keep_existing)

    def lineage(
        self,
        reference: str,
        *,
        kind: str = "model",
        ancestors: bool = True,
        descendants: bool = True,
        depth: int | None = None,
    ) -> lineage.Graph:
        return self.lineage_graph(kind, reference, ancestors=ancestors, descendants=descendants, depth=depth)

    # --- committing ------------------------------------------------------------------
    def _commit(
        self,
        operation: str,
        message: str,
        plan: list[tuple[str, str, str | None, str | None]],
        subject: dict[str, Any],
        index_ops: list[tuple[bytes, bytes]] | None = None,
        write_objects: Any = None,
    ) -> list[Any]:
        """Hooks around one transaction: pre-commit, objects, refs (and index), post-commit."""
        zero = pacha_zero()
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
            else:
                tx.delete(ref, old)
        for key, value in index_ops or []:
            tx.index_add(lineage.INDEX, key, value)
        entries = tx.commit()
        hooks.run(self.plumbing.root, hooks.POST, payload)
        return entries


def kind_cli(kind: str) -> str:
    return "model" if kind == "model" else "data"


def pacha_zero() -> str:
    from pacha.ids import ZERO_ID

    return ZERO_ID


def _hash_file(path: Path) -> str:
    from pacha.blocks import hash_file

    return hash_file(str(path))


def _artifact(objects: pacha.ObjectStore | None, target: Path) -> tuple[str, str, int]:
    """(id, kind, size) of a file or folder; stored when objects is given, else only hashed."""
    from pacha.trees import write_tree_sized

    if target.is_dir():
        tree_id, size = write_tree_sized(objects, target)
        return tree_id, "tree", size
    try:
        blob_id = objects.put_file(target) if objects is not None else _hash_file(target)
        return blob_id, "blob", target.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {target}: {exc.strerror}") from None


def _weights_info(target: Path) -> dict[str, Any] | None:
    """Header facts of the weights files in a file or folder (summed over a folder's files)."""
    from porcelain.weights_info import describe

    if target.is_file():
        return describe(target)
    found = [info for p in sorted(target.rglob("*")) if (info := describe(p))]
    if not found:
        return None
    out: dict[str, Any] = {
        "format": ", ".join(sorted({i["format"] for i in found})),
        "files": len(found),
        "tensor_count": sum(i["tensor_count"] for i in found),
        "parameter_count": sum(i["parameter_count"] for i in found),
        "dtypes": sorted({d for i in found for d in i.get("dtypes", [])}),
    }
    quantizations = sorted({i["quantization"] for i in found if "quantization" in i})
    if quantizations:
        out["quantization"] = ", ".join(quantizations)
    return out


def _subject(
    kind: str,
    name: str,
    version: str,
    record_id: str,
    record: records.VersionRecord,
    stage: str | None = None,
) -> dict[str, Any]:
    import msgspec

    out = {
        "kind": kind,
        "name": name,
        "version": version,
        "record_id": record_id,
        "record": msgspec.to_builtins(record),
    }
    if stage is not None:
        out["stage"] = stage
    return out


__all__ = ["Registered", "Registry", "Transition", "Version"]
