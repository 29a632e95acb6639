"""The short names training code uses: register_model, get_model, stage, lineage, ..."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from porcelain.errors import InvalidInput
from porcelain.lineage import graph as lineage
from porcelain.wording import say

if TYPE_CHECKING:
    from collections.abc import Sequence

    from porcelain.results import Registered, Transition, Version


class TrainingAPI:
    """Keyword-friendly wrappers over register, get, set_stage and lineage_graph."""

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
        run: str | None = None,
        message: str = "",
        filename: str | None = None,
        exclude: Sequence[str] = (),
    ) -> Registered:
        """Register a model file or folder as a new model version (in development).

        Args: name: e.g. fraud-detector. path: the file or folder. version: an explicit SemVer version.
        bump: major, minor or patch from the latest (a new name starts at the card's version or 1.0.0).
        filename: the file name to record (required when path is "-",
        standard input, or a pipe). exclude: gitignore patterns a folder leaves out (see Registry.register).
        description: what the model does. card: Model Card fields. metrics: name -> finite number.
        parents: the versions it was made from (NAME:VER), with relation (fine-tuned, distilled, merged,
        quantized, pruned) and its params (e.g. {"temperature": 2}). run: the tracked run that produced it
        (default: $PACHA_RUN_ID inside a tracked run): fills the card from the run (recipe, training data,
        duration, final metrics) and the run then lists the model. message: why, for the reflog.
        Returns Registered(version, created): .version.ref is "name:version".
        Raises InvalidInput for a bad name, version, path, card, relation or parameter, or a non-finite
        number; NotFound for an unknown parent or run; VersionExists when the version exists with other
        bytes; CheckFailed when a hook refuses.
        """
        from porcelain.cards.fields import MODEL_CARD_FIELDS, validate_fields

        edges = []
        if parents or relation or params:
            if not relation:
                raise InvalidInput(
                    say("--from needs --relation", "parents need relation=")
                    + " (fine-tuned, distilled, merged, quantized, pruned)"
                )
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
        card = dict(card or {})
        run = run or os.environ.get("PACHA_RUN_ID")
        run_info = self.get_run(run) if run else None  # type: ignore[attr-defined]
        if run_info is not None:
            card, metrics = self._card_from_run(run_info, card, metrics)
        fields = validate_fields(card, MODEL_CARD_FIELDS, "card")
        result = self.register(
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
            filename=filename,
            exclude=exclude,
        )
        if run_info is not None and result.created:
            self.run_attach(run_info.id, kind="model", reference=result.version.ref)  # type: ignore[attr-defined]
        return result

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
        generated_by: str | None = None,
        message: str = "",
        filename: str | None = None,
        exclude: Sequence[str] = (),
    ) -> Registered:
        """Register a data file or folder as a new dataset version (in development).

        Schema, row count and missing values are filled for CSV/TSV/JSON Lines (worked out on a thread
        from the very file stored; for "-" or a pipe, the format is told by filename's suffix); the
        datasheet's own fields override them.
        Args: name: e.g. transactions. path: the file or folder. version: an explicit SemVer version.
        bump: major, minor or patch from the latest (a new name starts at 1.0.0). filename: the file name to
        record (required when path is "-" or a pipe). exclude: gitignore patterns a folder leaves out.
        purpose: why the dataset was created. datasheet: Datasheet fields (Gebru et al.).
        derived_from: source dataset versions (with transform). transform: how it was derived.
        generated_by: the run that produced it. message: why, for the reflog.
        Returns Registered(version, created).
        Raises InvalidInput for a bad name, version, path or datasheet, or derived_from without transform;
        NotFound for an unknown source or run; VersionExists when the version exists with other bytes;
        CheckFailed when a hook refuses.
        """
        from porcelain.cards.fields import validate_datasheet
        from porcelain.cards.schema_infer import infer

        sheet = validate_datasheet(datasheet or {}, "datasheet")
        if purpose:
            sheet["purpose"] = purpose
        if generated_by:
            info = self.get_run(generated_by)  # type: ignore[attr-defined]
            sheet["generated_by"] = {"ref": info.name, "id": info.record_id}
        edges = []
        if derived_from or transform:
            if not derived_from or not transform:
                raise InvalidInput(
                    say("--derived-from and --transform", "derived_from and transform")
                    + " go together (the source and how it was made)"
                )
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
            card_defaults=lambda target: infer(target) or {},
            filename=filename,
            exclude=exclude,
        )

    def _card_from_run(
        self, info: Any, card: dict[str, Any], metrics: dict[str, float] | None
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """What a run tells a Model Card: recipe, training data, duration, final metrics."""
        from porcelain.runs.records import LIVE

        live = LIVE.get(info.id)
        if live is not None:
            live.flush()  # this process's own points first
        record = info.record
        card.setdefault("run", {"ref": info.name, "id": info.record_id})
        card.setdefault("training_recipe", {"ref": record["recipe_ref"], "id": record["recipe"]})
        recipe = self.read_record(record["recipe"])  # type: ignore[attr-defined]
        if "train_data" in recipe.card:
            card.setdefault("training_data", recipe.card["train_data"])
        if "validation_data" in recipe.card:
            card.setdefault("evaluation_data", recipe.card["validation_data"])
        end = record.get("ended_ns") or time.time_ns()
        card.setdefault("training_duration", f"{(end - record['started_ns']) / 1e9:.0f}s")
        from_run = {name: summary["last"] for name, summary in record.get("metrics", {}).items()}
        if not record.get("metrics"):
            from porcelain.runs.records import load_series

            from_run = {
                name: points[-1][2] for name, points in load_series(self, info.id, record).items() if points
            }
        return card, {**from_run, **(metrics or {})}

    def get_model(self, reference: str, version: str | None = None) -> Version:
        """A model version: get("model", reference, version).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. version: the version, if reference is a bare NAME.
        Returns the version. Raises NotFound if it does not exist.
        """
        return self.get("model", reference, version)

    def get_dataset(self, reference: str, version: str | None = None) -> Version:
        """A dataset version: get("dataset", reference, version).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. version: the version, if reference is a bare NAME.
        Returns the version. Raises NotFound if it does not exist.
        """
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
        """Move a version to another stage: set_stage(kind, reference, to, ...).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. to: development, staging, production or archived. kind: "model" or "dataset". version: the
        version, if reference is a bare NAME. why: the reason, kept in the audit trail. keep_existing:
        leave the current production version there.
        Returns the transitions made.
        Raises NotFound, InvalidInput or CheckFailed as set_stage.
        """
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
        """The lineage graph around a version (models by default).

        Args: reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique
        prefix. kind: "model" or "dataset". ancestors: include where it came from. descendants: include
        what was made from it. depth: at most this many edges away.
        Returns a lineage.Graph (nodes and typed edges).
        Raises NotFound for an unknown version.
        """
        return self.lineage_graph(kind, reference, ancestors=ancestors, descendants=descendants, depth=depth)
