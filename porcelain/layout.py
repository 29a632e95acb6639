"""Where porcelain keeps things in the ref namespace.

    models/<name>/<version>                    -> model-version record
    datasets/<name>/<version>                  -> dataset-version record
    stages/<models|datasets>/<name>/<stage>/<version> -> the same record

A version is in exactly one stage; moving it is one transaction that deletes
the old stage ref and creates the new one, so the reflog of stages/<kind>/<name>/
is the audit trail of every transition and "who is in production" is one range
read.
"""

from __future__ import annotations

KINDS = {"model": "models", "dataset": "datasets", "recipe": "recipes"}
RECORD_TYPES = {"model": "model-version", "dataset": "dataset-version", "recipe": "recipe-version"}
STAGED = frozenset({"model", "dataset"})  # recipes have versions but no lifecycle stage
NO_STAGE = "-"
# The derived reverse lineage index: key parent record id, values the records that name it
# (kept in step inside each commit, porcelain.core.Core.commit; rebuilt by `pacha reindex`).
LINEAGE_INDEX = "lineage"


def plural(kind: str) -> str:
    return KINDS[kind]


def version_ref(kind: str, name: str, version: str) -> str:
    return f"{plural(kind)}/{name}/{version}"


def versions_prefix(kind: str, name: str) -> str:
    return f"{plural(kind)}/{name}/"


def stage_ref(kind: str, name: str, stage: str, version: str) -> str:
    return f"stages/{plural(kind)}/{name}/{stage}/{version}"


def stages_prefix(kind: str, name: str, stage: str | None = None) -> str:
    base = f"stages/{plural(kind)}/{name}/"
    return base + f"{stage}/" if stage else base


def split_version_ref(kind: str, ref: str) -> tuple[str, str]:
    """models/team/x/1.0.0 -> ("team/x", "1.0.0")."""
    body = ref[len(plural(kind)) + 1 :]
    name, _, version = body.rpartition("/")
    return name, version


def split_stage_ref(kind: str, ref: str) -> tuple[str, str, str]:
    """stages/models/team/x/production/1.0.0 -> ("team/x", "production", "1.0.0")."""
    body = ref[len("stages/") + len(plural(kind)) + 1 :]
    rest, _, version = body.rpartition("/")
    name, _, stage = rest.rpartition("/")
    return name, stage, version
