"""The core every porcelain domain stands on: plumbing, records, versions, stages, one commit path.

A domain (versions, stages, lineage, recipes, runs, retention, ...) is a module of
functions that take a Core and name what they use of it:

- `plumbing`: the pacha registry underneath (objects, refs, transactions, identity);
- `read_record`, `read_document`: a version record, or another typed record, by id;
- `names`, `versions_of`, `in_stage`, `stage_of`, `version`: what the refs say now;
- `commit`: the ONE way porcelain changes refs: pre-commit hook, objects, one ref
  transaction (with the domain's invariant re-checked inside it, under LMDB's single
  writer), post-commit hook.

porcelain.registry.Registry is a Core with the domains' functions as its methods.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Self

import msgspec

import pacha
import porcelain.hooks as hooks
import porcelain.layout as layout
import porcelain.records as records
import porcelain.semver as semver
from pacha.errors import RefConflict, RefNotFound
from pacha.ids import ZERO_ID
from pacha.transport.promisor import install as install_promisor
from porcelain.errors import CheckFailed, ConcurrentChange, InvalidInput
from porcelain.locking import writes_objects
from porcelain.policies.enforce import guard
from porcelain.preflight import check_refs
from porcelain.results import Version
from porcelain.stages.rules import STAGES


class RefUpdate(NamedTuple):
    """One ref change of a commit's plan (old/new None: absent)."""

    op: str  # "create", "update", "delete" or "expire" (a deletion whose history stops keeping objects)
    ref: str
    new: str | None
    old: str | None


# A check run inside the ref transaction (RefTransaction.check): raises to refuse the commit.
Invariant = Callable[[Any], None]


class Core:
    """Porcelain's view of a pacha registry: records, versions, stages and the commit path."""

    def __init__(self, plumbing: pacha.Registry) -> None:
        self.plumbing = plumbing

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Self:
        """The registry at path, or found as the CLI finds it (pacha.open_registry).

        Raises RegistryNotFound if there is none. A lazy registry fetches what it reads and lacks
        (pacha.transport.promisor).
        """
        install_promisor()
        return cls(pacha.open_registry(path))

    # --- records -----------------------------------------------------------------------
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

    def read_document(self, object_id: str, record_type: str, what: str) -> dict[str, Any]:
        """A record of another type (run, lineage-edge, signature) as a dict.

        Args: object_id: the record's id. record_type: its expected "type" field. what: how to
        name it in the error ("a run").
        Returns the decoded record.
        Raises ObjectNotFound if it is not stored; InvalidInput if it is of another type.
        """
        doc = msgspec.json.decode(self.plumbing.objects.read(object_id))
        if not isinstance(doc, dict) or doc.get("type") != record_type:
            raise InvalidInput(f"object {object_id} is not {what}")
        return doc

    # --- what the refs say now ------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Every registered name of a kind.

        Args: kind: "model", "dataset" or "recipe".
        Returns the names, sorted.
        Raises nothing beyond the registry's own errors (PachaError).
        """
        found = set()
        for ref, _ in self.plumbing.refs.iter(layout.plural(kind) + "/"):
            found.add(layout.split_version_ref(kind, ref)[0])
        return sorted(found)

    def versions_of(self, kind: str, name: str) -> list[str]:
        """Registered versions of name, oldest to newest (SemVer precedence).

        Args: kind: "model", "dataset" or "recipe". name: the name.
        Returns the versions (empty for an unknown name).
        Raises PachaError only for errors of the registry itself.
        """
        prefix = layout.versions_prefix(kind, name)
        found = [ref[len(prefix) :] for ref, _ in self.plumbing.refs.iter(prefix)]
        return semver.sort(v for v in found if "/" not in v)

    def in_stage(self, kind: str, name: str, stage: str) -> list[str]:
        """The versions of name now in stage.

        Args: kind: "model" or "dataset". name: the name. stage: development, staging, production or
        archived.
        Returns the versions in SemVer order (empty if none).
        Raises PachaError only for errors of the registry itself.
        """
        prefix = layout.stages_prefix(kind, name, stage)
        return semver.sort(ref[len(prefix) :] for ref, _ in self.plumbing.refs.iter(prefix))

    def stage_of(self, kind: str, name: str, version: str) -> str:
        """The stage a version is in now.

        Args: kind: "model", "dataset" or "recipe". name: the name. version: the version.
        Returns development, staging, production or archived ("-" for recipes).
        Raises CheckFailed if the version has lost its stage ref (run fsck).
        """
        if kind not in layout.STAGED:
            return layout.NO_STAGE
        for stage in STAGES:
            if self.plumbing.refs.get(layout.stage_ref(kind, name, stage, version)) is not None:
                return stage
        raise CheckFailed(f"{name}:{version} has no stage ref; run `pacha fsck`")

    def version(self, kind: str, name: str, version: str, record_id: str) -> Version:
        """The Version a version ref names: its record read, its stage looked up.

        Args: kind: "model", "dataset" or "recipe". name, version: the version. record_id: the record
        its version ref names.
        Returns the Version.
        Raises ObjectNotFound if the record is not stored; CheckFailed if the stage ref is lost.
        """
        return Version(
            kind, name, version, record_id, self.read_record(record_id), self.stage_of(kind, name, version)
        )

    # --- the one commit path ----------------------------------------------------------------
    @writes_objects
    def commit(
        self,
        operation: str,
        message: str,
        plan: Iterable[RefUpdate],
        subject: dict[str, Any],
        *,
        index_ops: Iterable[tuple[bytes, bytes]] = (),
        write_objects: Callable[[], None] | None = None,
        check: Invariant | None = None,
    ) -> list[Any]:
        """Hooks around one transaction: pre-commit, objects, refs (and lineage index), post-commit.

        Args: operation: register, stage, delete, expire, restore, lineage or policy (PACHA_OPERATION).
        message: the reflog message. plan: the ref changes, applied all or none. subject: what hooks
        are told about the version (records.commit_subject). index_ops: (parent id, child id) pairs
        added to the reverse lineage index. write_objects: stores the commit's objects once the
        pre-commit hook agreed. check: the domain's invariant, run inside the ref transaction
        (RefTransaction.check), so it holds against every concurrent writer, as does the access
        policy of subject's "name" or "target" (porcelain.policies; also checked before writing).
        Returns the reflog entries written.
        Raises InvalidInput for a ref name that would be invalid (before anything is written);
        PolicyRefused, HookRefused when the policy or pre-commit says no; ConcurrentChange when a
        compare-and-swap fails because another writer moved a ref meanwhile; whatever check raises.
        """
        plan = list(plan)
        check_refs(update.ref for update in plan)  # before the hooks and the objects
        allowed = guard(self.plumbing, operation, subject.get("name", subject.get("target")))
        payload = {
            "operation": operation,
            "message": message,
            "who": self.plumbing.identity(),
            "updates": [{"ref": u.ref, "old": u.old or ZERO_ID, "new": u.new or ZERO_ID} for u in plan],
            **subject,
        }
        hooks.run(self.plumbing.root, hooks.PRE, payload)
        if write_objects is not None:
            write_objects()
        tx = _planned(self.plumbing.transaction(message), plan)
        for key, value in index_ops:
            tx.index_add(layout.LINEAGE_INDEX, key, value)
        for invariant in filter(None, (allowed, check)):
            tx.check(invariant)
        try:
            entries = tx.commit()
        except (RefConflict, RefNotFound) as exc:
            raise ConcurrentChange(
                f"another writer changed the registry meanwhile ({exc}); nothing was changed: "
                "run the command again"
            ) from None
        hooks.run(self.plumbing.root, hooks.POST, payload)
        return entries


def _planned(tx: Any, plan: list[RefUpdate]) -> Any:
    """tx with plan's ref changes added."""
    for update in plan:
        if update.op in ("create", "update"):
            assert update.new is not None, update
            if update.op == "create":
                tx.create(update.ref, update.new)
            else:
                tx.update(update.ref, update.new, update.old)
        else:
            tx.delete(update.ref, update.old, expire=update.op == "expire")
    return tx
