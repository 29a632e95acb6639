"""The short names training code uses: register_model, get_model, stage, lineage, ..."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from porcelain import lineage
from porcelain.errors import InvalidInput

if TYPE_CHECKING:
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
        message: str = "",
    ) -> Registered:
        """Register a model file or folder; parents (NAME:VER) with relation record lineage."""
        from porcelain.cards import MODEL_CARD_FIELDS, validate_fields

        edges = []
        if parents or relation or params:
            if not relation:
                raise InvalidInput(
                    "--from needs --relation (fine-tuned, distilled, merged, quantized, pruned)"
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
        )

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
    ) -> Registered:
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
                raise InvalidInput(
                    "--derived-from and --transform go together (the source and how it was made)"
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
        )

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
