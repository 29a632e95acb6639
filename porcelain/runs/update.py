"""Changing a run: a new record, and runs/<id> moved to it by compare-and-swap.

A run's record is rewritten as it goes (artifacts attached, finished); each rewrite is
a new object and one ref transaction that also updates the run's summary in the map
that `run list` and `run best` read.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pacha
from porcelain.core import Core
from porcelain.errors import CheckFailed, InvalidInput, NotFound
from porcelain.locking import writes_objects
from porcelain.policies.enforce import require_run
from porcelain.resolve import resolve
from porcelain.runs.lookup import get_run, resolve_run, run_record
from porcelain.runs.metrics import load_series, summarize
from porcelain.runs.records import (
    COMPLETED,
    FINAL,
    RUNNING,
    SUMMARY_MAP,
    RunInfo,
    run_ref,
    summary_key,
    summary_value,
)
from porcelain.versions.artifacts import artifact_of

UPDATE_ATTEMPTS = 100  # compare-and-swap retries of one change against concurrent writers


def put_run(core: Core, record: dict[str, Any]) -> str:
    """Store a run record (linking its recipe, artifacts, log and metric blob); its id."""
    links = [record["recipe"], *[a["id"] for a in record.get("artifacts", [])]]
    for key in ("log", "metrics_blob"):
        if record.get(key):
            links.append(record[key])
    body = {k: v for k, v in record.items() if k != "links"}
    record_id: str = core.plumbing.objects.put_bytes(pacha.make_record("run", body, links), "record")
    return record_id


@writes_objects
def update_run(core: Core, run_id: str, change: Callable[[dict[str, Any]], None], why: str) -> RunInfo:
    """Apply change(record) and move runs/<id> by compare-and-swap, retrying on races.

    Raises NotFound for an unknown run; CheckFailed if every attempt lost a race.
    """
    for _ in range(UPDATE_ATTEMPTS):
        current_id = core.plumbing.refs.get(run_ref(run_id))
        if current_id is None:
            raise NotFound(f"run {run_id} not found")
        record = run_record(core, current_id)
        require_run(core.plumbing, record)
        change(record)
        new_id = put_run(core, record)
        try:
            with core.plumbing.transaction(why) as tx:
                tx.check(lambda view, r=record: require_run(core.plumbing, r, view))  # the policy, in the txn
                tx.update(run_ref(run_id), new_id, current_id)
                tx.map_set(SUMMARY_MAP, summary_key(record), summary_value(record, new_id))
            return RunInfo(run_id, record["name"], new_id, record)
        except pacha.RefConflict:
            continue
    raise CheckFailed(f"run {run_id} changes too often to update")


@writes_objects
def attach(
    core: Core,
    text: str,
    *,
    path: str | os.PathLike[str] | None = None,
    kind: str | None = None,
    reference: str | None = None,
) -> str:
    """Attach a stored file or folder, or a registered version, to a run.

    Args: text: the run's name, id or id prefix. path: a file or folder to store and attach. kind and
    reference: instead of path, a registered version ("model", "dataset" or "recipe", and NAME:VER,
    NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique prefix).
    Returns the attached object's id (the artifact's, or the version's record id).
    Raises NotFound for an unknown run or version; InvalidInput if path does not exist.
    """
    run_id = resolve_run(core, text)
    if path is not None:
        target = Path(path)
        if not target.exists():
            raise InvalidInput(f"{target} does not exist")
        object_id, object_kind, size = artifact_of(core.plumbing.objects, target)
        entry = {"path": target.name, "id": object_id, "kind": object_kind, "size": size}
    else:
        found = resolve(core, kind or "model", reference or "")
        entry = {"kind": found.kind, "ref": found.ref, "id": found.record_id}

    def change(record: dict[str, Any]) -> None:
        record["artifacts"] = [*record.get("artifacts", []), entry]

    update_run(core, run_id, change, f"artifact for run {run_id}")
    return str(entry["id"])


@writes_objects
def finish(
    core: Core,
    text: str,
    status: str = COMPLETED,
    *,
    exit_code: int | None = None,
    log_blob: str | None = None,
) -> RunInfo:
    """Freeze the metric series into a blob and record the final status.

    Args: text: the run's name (run-001), id or id prefix. status: completed, failed or killed.
    exit_code: the training command's exit code, if any. log_blob: id of the stored output log, if
    any.
    Returns the finished run (RunInfo).
    Raises NotFound for an unknown run; InvalidInput for an unknown status; CheckFailed if the run
    already finished.
    """
    if status not in FINAL:
        raise InvalidInput(f"unknown run status {status!r}: use {', '.join(FINAL)}")
    run_id = resolve_run(core, text)
    info = get_run(core, run_id)
    if info.record["status"] != RUNNING:
        raise CheckFailed(f"{info.name} already finished ({info.record['status']})")
    series = load_series(core, run_id, info.record)
    blob = core.plumbing.objects.put_bytes(json.dumps(series, separators=(",", ":")).encode())

    def change(record: dict[str, Any]) -> None:
        record.update(status=status, ended_ns=time.time_ns(), metrics_blob=blob, metrics=summarize(series))
        if exit_code is not None:
            record["exit_code"] = exit_code
        if log_blob:
            record["log"] = log_blob

    return update_run(core, run_id, change, f"finish run {info.name}: {status}")
