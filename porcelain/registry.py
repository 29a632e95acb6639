"""The porcelain Python API (`from porcelain import Registry`): a Core with every domain's functions
as methods. Each method is one call into the domain module that holds (and documents) it:

    versions   porcelain/versions/   register (RegisterRequest), get, list, download, delete, restore, verify
    stages     porcelain/stages/     set_stage, stage, history, at
    lineage    porcelain/lineage/    add_lineage, lineage, lineage_graph, node, reindex
    recipes    porcelain/recipes/    register_recipe, validate_recipe, recipe_doc, recipe_text
    runs       porcelain/runs/       start_run, run, get_run, list_runs, run_attach, finish_run, ...
    retention  porcelain/retention.py  beyond_keep_last, expire_versions

Every write goes through Core.commit (porcelain/core.py): hooks around one ref
transaction whose invariants are checked inside it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from porcelain.core import Core
from porcelain.documented import documented_by
from porcelain.errors import InvalidInput
from porcelain.lineage import edges, graph
from porcelain.recipes import lookup as recipe_lookup
from porcelain.recipes import register as recipe_register
from porcelain.recipes.check import Report
from porcelain.references import Reference
from porcelain.resolve import Gone, Target
from porcelain.results import Registered, Transition, Version
from porcelain.retention import beyond_keep_last, expire_versions
from porcelain.runs import lookup as run_lookup
from porcelain.runs import ops as run_ops
from porcelain.runs import update as run_update
from porcelain.runs.live import Run
from porcelain.runs.records import COMPLETED, RunInfo
from porcelain.signatures import attach as signing
from porcelain.signatures.objects import Made
from porcelain.stages import moves
from porcelain.versions import delete as deleting
from porcelain.versions import download as downloading
from porcelain.versions import find
from porcelain.versions import restore as restoring
from porcelain.versions.download import Placed
from porcelain.versions.register import register
from porcelain.versions.request import RegisterRequest


class Registry(Core):
    """Models, datasets, recipes and runs on top of a pacha registry."""

    # --- versions: registering ------------------------------------------------------------
    def register(self, request: RegisterRequest) -> Registered:
        """Register request.path as request.name at a new version (in development).

        Args: request: what to register and what is known about it (versions/request.py).
        Returns Registered(version, created): created is False when the same bytes were already
        registered at that version.
        Raises as versions.register.register: InvalidInput, UsageError, NotFound, VersionExists,
        CheckFailed (a hook refused), FileChanged.
        """
        return register(self, request)

    def register_model(self, name: str, path: str | os.PathLike[str], **fields: Any) -> Registered:
        """Register a model file or folder as a new model version (in development).

        Args: name: e.g. fraud-detector. path: the file or folder ("-": standard input). fields:
        RegisterRequest's: version, bump, description, card (Model Card fields), metrics, parents
        (NAME:VER) with relation (fine-tuned, distilled, merged, quantized, pruned) and its params,
        run (default: $PACHA_RUN_ID inside a tracked run: fills the card from the run, which then
        lists the model), message, filename, exclude.
        Returns Registered(version, created): .version.ref is "name:version".
        Raises TypeError for an unknown field; otherwise as versions.register.register.
        """
        return register(self, RegisterRequest(kind="model", name=name, path=os.fspath(path), **fields))

    def register_dataset(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        purpose: str = "",
        datasheet: dict[str, Any] | None = None,
        derived_from: list[str] | None = None,
        transform: str | None = None,
        generated_by: str | None = None,
        **fields: Any,
    ) -> Registered:
        """Register a data file or folder as a new dataset version (in development).

        Schema, row count and missing values are filled for CSV/TSV/JSON Lines (read on a thread from
        the very file stored; for "-" or a pipe, the format is told by filename's suffix); the
        datasheet's own fields override them.
        Args: name: e.g. transactions. path: the file or folder ("-": standard input).
        purpose: why the dataset was created. datasheet: Datasheet fields (Gebru et al.).
        derived_from: source dataset versions, with transform: how it was derived. generated_by: the
        run that produced it. fields: RegisterRequest's version, bump, message, filename, exclude.
        Returns Registered(version, created).
        Raises InvalidInput for derived_from without transform (or the reverse); otherwise as
        versions.register.register.
        """
        if (derived_from or transform) and not (derived_from and transform):
            raise InvalidInput("derived_from and transform go together (the source and how it was made)")
        request = RegisterRequest(
            kind="dataset", name=name, path=os.fspath(path), description=purpose, card=datasheet or {},
            parents=derived_from or [], relation="derived" if derived_from else None,
            params={"transform": transform} if transform else {}, run=generated_by, **fields,
        )  # fmt: skip
        return register(self, request)

    @documented_by(recipe_register.register_recipe)
    def register_recipe(self, path: str | Path, *, message: str = "", sign: str | None = None) -> Registered:
        return recipe_register.register_recipe(self, path, message=message, sign=sign)

    # --- versions: finding, getting back, removing ---------------------------------------
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
        return find.readable(self, kind, reference, version, change=change)

    def get_model(self, reference: str, version: str | None = None) -> Version:
        """A model version: get("model", reference, version).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. version: the version, if reference is a bare NAME.
        Returns the version. Raises NotFound if it does not exist.
        """
        return find.readable(self, "model", reference, version)

    def get_dataset(self, reference: str, version: str | None = None) -> Version:
        """A dataset version: get("dataset", reference, version).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. version: the version, if reference is a bare NAME.
        Returns the version. Raises NotFound if it does not exist.
        """
        return find.readable(self, "dataset", reference, version)

    @documented_by(find.verify)
    def verify(
        self, kind: str | None, reference: str, version: str | None = None
    ) -> tuple[Version | Target, int, list[str]]:
        return find.verify(self, kind, reference, version)

    @documented_by(signing.sign_version)
    def sign(
        self, reference: str, key: str | None = None, version: str | None = None
    ) -> tuple[Version, Made]:
        return signing.sign_version(self, reference, key, version)

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

        The rules (versions/download.py): a folder's dest holds its contents; the same contents already
        there are a no-op; other contents need force (replaced atomically).
        Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
        (with version) or a record id or unique prefix. dest: the file or directory to write. version: the
        version, if reference is a bare NAME. force: replace dest if it holds other contents.
        Returns (the version, the path written: inside dest if dest is a directory and the artifact a
        file).
        Raises NotFound for an unknown version; InvalidInput if dest holds other contents and force is not
        given; a PachaError if a stored object is damaged (nothing is left half written).
        """
        found, placed = downloading.download(self, kind, reference, dest, version=version, force=force)
        return found, placed.path

    @documented_by(downloading.download)
    def download_placed(
        self,
        kind: str,
        reference: str,
        dest: str | os.PathLike[str],
        *,
        version: str | None = None,
        force: bool = False,
    ) -> tuple[Version, Placed]:
        return downloading.download(self, kind, reference, dest, version=version, force=force)

    @documented_by(deleting.delete)
    def delete(
        self, kind: str, reference: str, *, version: str | None = None, force: bool = False, why: str = ""
    ) -> Version:
        return deleting.delete(self, kind, reference, version=version, force=force, why=why)

    @documented_by(restoring.restore)
    def restore(
        self, kind: str, reference: str, *, version: str | None = None, why: str = ""
    ) -> tuple[Version, Gone]:
        return restoring.restore(self, kind, reference, version=version, why=why)

    # --- stages ----------------------------------------------------------------------------
    @documented_by(moves.set_stage)
    def set_stage(
        self,
        kind: str,
        reference: str,
        target: str,
        *,
        version: str | None = None,
        why: str = "",
        keep_existing: bool = False,
        sign: str | None = None,
    ) -> list[Transition]:
        return moves.set_stage(
            self, kind, reference, target, version=version, why=why, keep_existing=keep_existing, sign=sign
        )

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
        """Move a version (a model by default) to another stage: set_stage(kind, reference, to, ...).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. to: development, staging, production or archived. kind: "model" or "dataset". version: the
        version, if reference is a bare NAME. why: the reason, kept in the audit trail. keep_existing:
        leave the current production version there.
        Returns the transitions made.
        Raises NotFound, InvalidInput or CheckFailed as set_stage.
        """
        return moves.set_stage(
            self, kind, reference, to, version=version, why=why, keep_existing=keep_existing
        )

    @documented_by(moves.history)
    def history(self, kind: str, name: str) -> list[Transition]:
        return moves.history(self, kind, name)

    @documented_by(moves.at)
    def at(self, kind: str, name: str, stage: str, when_ns: int) -> list[str]:
        return moves.at(self, kind, name, stage, when_ns)

    # --- lineage ---------------------------------------------------------------------------
    @documented_by(graph.node)
    def node(self, record_id: str) -> graph.Node:
        return graph.node(self, record_id)

    @documented_by(edges.add_lineage)
    def add_lineage(
        self,
        kind: str,
        child_ref: str,
        parent_refs: list[str],
        relation: str,
        params: dict[str, str],
        why: str = "",
    ) -> list[graph.Edge]:
        return edges.add_lineage(self, kind, child_ref, parent_refs, relation, params, why)

    @documented_by(edges.lineage_graph)
    def lineage_graph(
        self,
        kind: str,
        reference: str,
        *,
        ancestors: bool = True,
        descendants: bool = True,
        depth: int | None = None,
        version: str | None = None,
    ) -> graph.Graph:
        return edges.lineage_graph(
            self, kind, reference, ancestors=ancestors, descendants=descendants, depth=depth, version=version
        )

    def lineage(
        self,
        reference: str,
        *,
        kind: str = "model",
        ancestors: bool = True,
        descendants: bool = True,
        depth: int | None = None,
    ) -> graph.Graph:
        """The lineage graph around a version, a model by default: lineage_graph(kind, reference, ...).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. kind: "model" or "dataset". ancestors: include where it came from. descendants: include
        what was made from it. depth: at most this many edges away.
        Returns a lineage.graph.Graph (nodes and typed edges).
        Raises NotFound for an unknown version.
        """
        return edges.lineage_graph(
            self, kind, reference, ancestors=ancestors, descendants=descendants, depth=depth
        )

    @documented_by(edges.reindex)
    def reindex(self) -> int:
        return edges.reindex(self)

    # --- recipes ---------------------------------------------------------------------------
    @documented_by(recipe_register.validate_recipe)
    def validate_recipe(self, reference: str, version: str | None = None) -> tuple[str, Report]:
        return recipe_register.validate_recipe(self, reference, version)

    @documented_by(recipe_lookup.recipe_doc)
    def recipe_doc(self, reference: str, version: str | None = None) -> tuple[Version, dict[str, Any]]:
        return recipe_lookup.recipe_doc(self, reference, version)

    @documented_by(recipe_lookup.recipe_text)
    def recipe_text(self, found: Version) -> str:
        return recipe_lookup.recipe_text(self, found)

    # --- runs ------------------------------------------------------------------------------
    @documented_by(run_ops.start)
    def start_run(
        self,
        recipe: str,
        *,
        overrides: dict[str, Any] | list[str] | None = None,
        version: str | None = None,
        command: list[str] | None = None,
        pid: int | None = None,
    ) -> Run:
        return run_ops.start(self, recipe, overrides=overrides, version=version, command=command, pid=pid)

    @documented_by(run_ops.attach_live)
    def run(self, text: str | None = None) -> Run:
        return run_ops.attach_live(self, text)

    @documented_by(run_lookup.get_run)
    def get_run(self, text: str) -> RunInfo:
        return run_lookup.get_run(self, text)

    @documented_by(run_ops.list_runs)
    def list_runs(
        self, recipe: str | None = None, version: str | None = None, status: str | None = None
    ) -> list[RunInfo]:
        return run_ops.list_runs(self, recipe, version, status)

    @documented_by(run_update.attach)
    def run_attach(
        self,
        text: str,
        *,
        path: str | os.PathLike[str] | None = None,
        kind: str | None = None,
        reference: str | None = None,
    ) -> str:
        return run_update.attach(self, text, path=path, kind=kind, reference=reference)

    @documented_by(run_update.finish)
    def finish_run(
        self, text: str, status: str = COMPLETED, *, exit_code: int | None = None, log_blob: str | None = None
    ) -> RunInfo:
        return run_update.finish(self, text, status, exit_code=exit_code, log_blob=log_blob)

    @documented_by(run_ops.log_metrics)
    def log_metrics_cli(self, text: str, values: dict[str, float], step: int | None) -> None:
        run_ops.log_metrics(self, text, values, step)

    @documented_by(run_ops.reindex_runs)
    def reindex_runs(self) -> int:
        return run_ops.reindex_runs(self)

    # --- retention -------------------------------------------------------------------------
    @documented_by(beyond_keep_last)
    def beyond_keep_last(self, keep_last: int) -> list[Version]:
        return beyond_keep_last(self, keep_last)

    @documented_by(expire_versions)
    def expire_versions(self, found: list[Version], why: str) -> None:
        expire_versions(self, found, why)

    # last: inside the class body, `list` names this method from here on
    @documented_by(find.list_versions)
    def list(self, kind: str, name: str | None = None, stage: str | None = None) -> list[Version]:
        return find.list_versions(self, kind, name, stage)


__all__ = ["RegisterRequest", "Registered", "Registry", "Transition", "Version"]
