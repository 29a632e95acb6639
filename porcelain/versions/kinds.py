"""What each kind adds to a registration before it is stored: its documentation and sources.

A model's card is checked against the Model Card fields and filled from the run that
produced it; its --from versions become typed lineage edges. A dataset's datasheet is
checked against the Datasheet fields (schema, row count and missing values are read
from the file while it is stored); its sources become "derived" edges. A recipe comes
with its card already built from the TOML (porcelain/recipes/register.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from porcelain.cards.fields import MODEL_CARD_FIELDS, validate_datasheet, validate_fields
from porcelain.cards.schema_infer import infer
from porcelain.core import Core
from porcelain.errors import InvalidInput
from porcelain.finite import require_finite
from porcelain.lineage.edges import recipe_pin, resolve_parents
from porcelain.lineage.graph import build_edges
from porcelain.records import ParentEdge
from porcelain.runs.lookup import get_run
from porcelain.runs.ops import model_card_facts
from porcelain.runs.records import RunInfo
from porcelain.versions.request import KINDS, RegisterRequest

CARD_NAMES = {"model": "model card", "dataset": "datasheet"}  # how errors name a kind's card


@dataclass
class Documented:
    """A request's documentation, checked: what the record will say besides the artifact's facts."""

    card: dict[str, Any]
    metrics: dict[str, float]
    description: str
    parents: list[ParentEdge]
    # card fields read from the artifact while it is stored (a datasheet's schema); the card's own win
    card_defaults: Callable[[Path], dict[str, Any]] | None = None
    run: RunInfo | None = None  # a model's run: it lists the model once registered


def document(core: Core, request: RegisterRequest) -> Documented:
    """The card, metrics and lineage edges of a request, checked and resolved.

    Raises InvalidInput for an unknown kind, a number JSON cannot hold anywhere in the card, a bad
    card or datasheet field, relation or parameter; NotFound for an unknown parent or run.
    """
    require_finite(request.card, CARD_NAMES.get(request.kind, request.kind))
    if request.kind == "model":
        return _model(core, request)
    if request.kind == "dataset":
        return _dataset(core, request)
    if request.kind not in KINDS:
        raise InvalidInput(f"unknown kind {request.kind!r}: use {', '.join(KINDS)}")
    return Documented(dict(request.card), dict(request.metrics), request.description, [])


def _model(core: Core, request: RegisterRequest) -> Documented:
    edges: list[ParentEdge] = []
    if request.parents or request.relation or request.params:
        if not request.relation:
            raise InvalidInput("parents need relation= (fine-tuned, distilled, merged, quantized, pruned)")
        raw = {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in request.params.items()}
        parent_ids = resolve_parents(core, "model", request.parents)
        edges = build_edges("model", request.relation, parent_ids, raw, recipe_pin(core))
    card, metrics = dict(request.card), dict(request.metrics)
    run_text = request.run or os.environ.get("PACHA_RUN_ID")
    run = get_run(core, run_text) if run_text else None
    if run is not None:
        card, metrics = model_card_facts(core, run, card, metrics)
    fields = validate_fields(card, MODEL_CARD_FIELDS, "card")
    return Documented(fields, metrics, request.description, edges, run=run)


def _dataset(core: Core, request: RegisterRequest) -> Documented:
    sheet = validate_datasheet(request.card, "datasheet")
    if request.description:
        sheet["purpose"] = request.description
    if request.run:
        info = get_run(core, request.run)
        sheet["generated_by"] = {"ref": info.name, "id": info.record_id}
    edges: list[ParentEdge] = []
    if request.parents or request.relation or request.params:
        relation = request.relation or "derived"
        raw = {k: str(v) for k, v in request.params.items()}
        sources = resolve_parents(core, "dataset", request.parents)
        if not sources:
            build_edges("dataset", relation, [], raw)  # refuses: an edge needs its source
        # one edge per source, each with the same transform
        edges = [e for source in sources for e in build_edges("dataset", relation, [source], raw)]
    return Documented(
        sheet, dict(request.metrics), sheet.get("purpose", ""), edges, card_defaults=_table_facts
    )


def _table_facts(target: Path) -> dict[str, Any]:
    """A datasheet's facts read from a CSV, TSV or JSON Lines file (none for other files)."""
    return infer(target) or {}
