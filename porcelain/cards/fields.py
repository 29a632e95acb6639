"""Model Cards (Mitchell et al. 2019) and Datasheets (Gebru et al. 2021) read from TOML.

References inside a card (training data, recipe, parent models) must name
registered versions; they are pinned to their record ids at registration, so a
card keeps pointing at exactly what it meant.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pacha.documents import load_toml as load
from porcelain.errors import InvalidInput
from porcelain.finite import finite_float
from porcelain.records import is_pinned

# field -> (kind, what it holds)
MODEL_CARD_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("str", "model name (must match the registered name)"),
    "version": ("str", "version to register when -v/--bump is not given"),
    "description": ("str", "what the model does"),
    "training_data": ("ref:dataset", "dataset version the model was trained on"),
    "training_recipe": ("ref:recipe", "recipe version it was trained with"),
    "training_date": ("datetime", "when training finished"),
    "training_duration": ("str", "how long training took, e.g. '3h 20m'"),
    "metrics": ("metrics", "metric name -> value"),
    "evaluation_data": ("ref:dataset", "dataset version the metrics were measured on"),
    "primary_uses": ("list", "intended uses"),
    "out_of_scope_uses": ("list", "uses it is not meant for"),
    "limitations": ("list", "known limitations and biases"),
    "ethical_considerations": ("list", "ethical considerations"),
    "parent_model": ("ref:model", "the model this one was derived from"),
    "derived_from": ("refs:model", "other models it was derived from"),
    "license": ("str", "license of the weights, e.g. apache-2.0"),
    "tags": ("list", "free-form tags (Hugging Face card metadata)"),
    "weights": ("auto", "read from safetensors, GGUF or ONNX headers at registration"),
    "run": ("ref:run", "the tracked run that produced it (set by --run or inside a run)"),
}


def load_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The TOML document at path, read bounded and strictly (pacha.documents); what names it."""
    return load(path, what)


def validate_fields(doc: dict[str, Any], fields: dict[str, tuple[str, str]], what: str) -> dict[str, Any]:
    """Check the types of known fields; unknown fields are refused (typos would be lost)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in fields:
            raise InvalidInput(f"{what}: unknown field {key!r}; known fields: {', '.join(fields)}")
        kind = fields[key][0]
        if kind.startswith("ref:") and is_pinned(value):
            pass
        elif kind in ("str",) or kind.startswith("ref:"):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"{what}: {key} must be a non-empty string")
        elif kind == "list" or kind.startswith("refs:"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"{what}: {key} must be a list of strings")
        elif kind == "metrics":
            if not isinstance(value, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
            ):
                raise InvalidInput(f"{what}: metrics must be a table of numbers, e.g. auc = 0.93")
            value = {k: finite_float(v, f"{what}: metrics.{k}") for k, v in value.items()}
        elif kind == "auto":
            if not isinstance(value, dict):
                raise InvalidInput(f"{what}: {key} must be a table")
        elif kind == "datetime":
            if isinstance(value, dt.datetime | dt.date):
                value = value.isoformat()
            elif not isinstance(value, str):
                raise InvalidInput(f"{what}: {key} must be a date or date-time")
        out[key] = value
    return out


# Datasheets for Datasets (Gebru et al. 2021), grouped as in the paper.
DATASHEET_FIELDS: dict[str, tuple[str, str]] = {
    # motivation
    "purpose": ("str", "why the dataset was created"),
    "creators": ("list", "who created it"),
    "funding": ("str", "who funded it"),
    # composition
    "instance_count": ("count", "number of instances (rows); filled for CSV, TSV and JSON Lines"),
    "feature_schema": ("schema", "column name -> type; filled for CSV, TSV and JSON Lines"),
    "label_schema": ("schema", "label column name -> type"),
    "missing_values": (
        "counts",
        "column name -> number of missing values (empty, NA, N/A, NaN, null, None, ... as pandas "
        "reads them); filled for CSV, TSV and JSON Lines",
    ),
    "missing_values_rows": ("count", "how many rows missing_values was counted over (the first 10,000)"),
    "sensitive_features": ("list", "columns that are sensitive (personal data, protected attributes)"),
    # collection process
    "collection_method": ("str", "how the data was collected"),
    "collection_start": ("datetime", "when collection started"),
    "collection_end": ("datetime", "when collection ended"),
    "preprocessing": ("list", "preprocessing steps, in order"),
    # distribution
    "license": ("str", "license, e.g. CC-BY-4.0"),
    "access_restrictions": ("list", "who may access it and how"),
    # maintenance
    "maintainer": ("str", "who maintains it"),
    "update_frequency": ("str", "how often it is updated"),
    "deprecation_policy": ("str", "how it will be retired"),
    "version": ("str", "version to register when -v/--bump is not given"),
    "name": ("str", "dataset name (must match the registered name)"),
    "generated_by": ("ref:run", "the tracked run that produced it (--generated-by)"),
}


def validate_datasheet(doc: dict[str, Any], what: str) -> dict[str, Any]:
    plain = {
        k: v for k, v in doc.items() if DATASHEET_FIELDS.get(k, ("",))[0] not in ("count", "counts", "schema")
    }
    out = validate_fields(plain, DATASHEET_FIELDS, what)
    for key, value in doc.items():
        kind = DATASHEET_FIELDS.get(key, ("",))[0]
        if kind == "count":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(f"{what}: {key} must be a non-negative integer")
            out[key] = value
        elif kind == "counts":
            if not isinstance(value, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
            ):
                raise InvalidInput(f"{what}: {key} must be a table of column = non-negative integer")
            out[key] = dict(value)
        elif kind == "schema":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise InvalidInput(f'{what}: {key} must be a table of column = "type"')
            out[key] = dict(value)
    return out


def pin_references(card: dict[str, Any], fields: dict[str, tuple[str, str]], resolve: Any) -> dict[str, Any]:
    """Replace each reference by {"ref": "name:version", "id": record id}.

    resolve(kind, text) -> (concrete "name:version", record id); NAME:latest or
    NAME@stage are pinned to the version they name now.
    """

    def pin(kind: str, value: Any) -> Any:
        if is_pinned(value):
            return value
        ref, record_id = resolve(kind, value)
        return {"ref": ref, "id": record_id}

    out = dict(card)
    for key, value in card.items():
        kind = fields.get(key, ("",))[0]
        if kind.startswith("ref:"):
            out[key] = pin(kind[4:], value)
        elif kind.startswith("refs:"):
            out[key] = [pin(kind[5:], v) for v in value]
    return out
