"""Starting, attaching to, listing and re-indexing runs (see runs/records.py for what a run is)."""

from __future__ import annotations

import os
import time
from typing import Any

import msgspec

import pacha
from porcelain.core import Core
from porcelain.errors import CheckFailed, InvalidInput
from porcelain.locking import writes_objects
from porcelain.policies.enforce import require_run
from porcelain.recipes.check import run_parameters
from porcelain.recipes.lookup import recipe_doc
from porcelain.recipes.overrides import check_override_value, coerce_override
from porcelain.recipes.schema import secret_assignments
from porcelain.resolve import resolve
from porcelain.results import Version
from porcelain.runs.live import LIVE, Run
from porcelain.runs.lookup import get_run, run_record
from porcelain.runs.metrics import load_series
from porcelain.runs.records import (
    BY_RECIPE_INDEX,
    NAME_PREFIX,
    RUNNING,
    SUMMARY_MAP,
    RunInfo,
    environment,
    git_state,
    process_start,
    run_ref,
    summary_key,
    summary_value,
)
from porcelain.runs.update import put_run
from porcelain.versions.find import list_versions

NAME_ATTEMPTS = 1000  # short names tried when other processes take them meanwhile


@writes_objects
def start(
    core: Core,
    recipe: str,
    *,
    overrides: dict[str, Any] | list[str] | None = None,
    version: str | None = None,
    command: list[str] | None = None,
    pid: int | None = None,
) -> Run:
    """Start a run of a registered recipe; overrides are type-checked against it.

    Args: recipe: the recipe, NAME:VER (or NAME with version). overrides: hyperparameter name -> value
    (or NAME=VALUE texts), each checked against the recipe's type. version: the recipe version, if
    recipe is a bare NAME. command: the training command line, recorded in the run. pid: the process
    whose exit ends the run (default: this one).
    Returns the live Run (a context manager that finishes it).
    Raises NotFound for an unknown recipe; InvalidInput for a bad override (unknown, wrong type, non-
    finite) or a command line that sets a secret-looking environment variable (it would be stored in
    the run record).
    """
    secrets = secret_assignments(command or [])
    if secrets:
        raise InvalidInput(
            f"the command sets {', '.join(secrets)}, which looks like a secret and would be kept "
            "in the run record; export it in the environment instead"
        )
    found, doc = recipe_doc(core, recipe, version)
    applied = _overrides(doc, overrides)
    record = _new_record(core, found, doc, applied, command or [], pid or os.getpid())
    require_run(core.plumbing, record)  # before the run record is stored
    record_id = _allocate_name(core, record, found)
    return Run(core, RunInfo(record["id"], record["name"], record_id, record))


def _overrides(doc: dict[str, Any], overrides: dict[str, Any] | list[str] | None) -> dict[str, Any]:
    """The overrides checked against the recipe: NAME=VALUE texts (CLI) or typed values (Python)."""
    applied: dict[str, Any] = {}
    if isinstance(overrides, list):
        for assignment in overrides:
            name, value = coerce_override(doc, assignment)
            applied[name] = value
    else:
        for name, value in (overrides or {}).items():
            applied[name] = check_override_value(doc, name, value)
    return applied


def _new_record(
    core: Core, found: Version, doc: dict[str, Any], applied: dict[str, Any], command: list[str], pid: int
) -> dict[str, Any]:
    """A running run's first record: what it runs, with what, where and by whom."""
    record = {
        "id": os.urandom(16).hex(),
        "recipe": found.record_id,
        "recipe_ref": found.ref,
        "params": {**run_parameters(doc), **applied},
        "overrides": applied,
        "seed": doc.get("random_seed"),
        "command": command,
        "status": RUNNING,
        "pid": pid,
        "pid_start": process_start(pid),
        "started_ns": time.time_ns(),
        "git": git_state(),
        "system": dict(environment()),
        "author": core.plumbing.identity(),
    }
    record["host"] = record["system"]["host"]
    return record


def _allocate_name(core: Core, record: dict[str, Any], found: Version) -> str:
    """Give the run the next free short name (run-NNN, by compare-and-swap) and create its refs.

    Returns the record id stored. Raises CheckFailed if no name could be taken."""
    taken = sum(1 for _ in core.plumbing.refs.iter(NAME_PREFIX))
    for number in range(taken + 1, taken + NAME_ATTEMPTS):
        record["name"] = f"run-{number:03d}"
        record_id = put_run(core, record)
        try:
            with core.plumbing.transaction(f"start {record['name']} of {found.ref}") as tx:
                tx.check(lambda view: require_run(core.plumbing, record, view))  # the policy, in the txn
                tx.create(NAME_PREFIX + record["name"], record_id)
                tx.create(run_ref(record["id"]), record_id)
                tx.index_add(BY_RECIPE_INDEX, bytes.fromhex(found.record_id), bytes.fromhex(record["id"]))
                tx.map_set(SUMMARY_MAP, summary_key(record), summary_value(record, record_id))
            return record_id
        except pacha.RefConflict:
            continue  # another process took this name: try the next one
    raise CheckFailed("could not allocate a run name")


def attach_live(core: Core, text: str | None = None) -> Run:
    """Attach to a running run: by name or id, or $PACHA_RUN_ID inside `pacha recipe run`.

    Args: text: the run's name, id or id prefix (None: $PACHA_RUN_ID).
    Returns the live Run to log into.
    Raises InvalidInput if text is None outside a tracked run; NotFound for an unknown run;
    CheckFailed if it already finished.
    """
    text = text or os.environ.get("PACHA_RUN_ID")
    if not text:
        raise InvalidInput("no run given and PACHA_RUN_ID is not set")
    info = get_run(core, text)
    if info.record["status"] != RUNNING:
        raise CheckFailed(f"{info.name} is {info.record['status']}; start a new run")
    return Run(core, info)


def log_metrics(core: Core, text: str, values: dict[str, float], step: int | None) -> None:
    """Log metric points into a running run from another process (the CLI's `run log`).

    Args: text: the run's name, id or id prefix. values: metric name -> finite number. step: the
    training step (None: one more than the metric's last).
    Raises NotFound for an unknown run; InvalidInput for a bad metric name or a non-finite value;
    CheckFailed if the run already finished.
    """
    run = attach_live(core, text)
    run.log_metrics(values, step)
    run.flush()


def list_runs(
    core: Core, recipe: str | None = None, version: str | None = None, status: str | None = None
) -> list[RunInfo]:
    """Runs (all, or of a recipe's versions) from the summary map: one range read each.

    Args: recipe: a recipe NAME or NAME:VER (None: every run). version: the recipe version, if recipe
    is a bare NAME. status: only runs with this status (running, completed, failed, killed, died).
    Returns RunInfo in start order.
    Raises NotFound for an unknown recipe.
    """
    if recipe is None:
        prefixes = [b""]
    elif version is None and ":" not in recipe and "@" not in recipe:
        versions = list_versions(core, "recipe", recipe)
        if not versions:  # no such recipe: said as any lookup says it (not "no runs", "no run has metric")
            resolve(core, "recipe", recipe, None)
        prefixes = [bytes.fromhex(v.record_id) for v in versions]
    else:
        prefixes = [bytes.fromhex(resolve(core, "recipe", recipe, version).record_id)]
    out = []
    for prefix in prefixes:
        for _, value in core.plumbing.refs.map_scan(SUMMARY_MAP, prefix):
            summary = msgspec.json.decode(value)
            info = RunInfo(summary["id"], summary["name"], summary.pop("record_id"), summary)
            if status is None or info.status == status:
                out.append(info)
    out.sort(key=lambda r: int(r.name.split("-")[1]))
    return out


def reindex_runs(core: Core) -> int:
    """Rewrite every run's summary from its current record (the map is derived).

    Returns the number of runs.
    Raises PachaError only for errors of the registry itself (e.g. read-only).
    """
    count = 0
    tx = core.plumbing.transaction("reindex runs")
    for _, record_id in core.plumbing.refs.iter("runs/"):
        record = run_record(core, record_id)
        tx.map_set(SUMMARY_MAP, summary_key(record), summary_value(record, record_id))
        count += 1
    tx.commit()
    return count


def model_card_facts(
    core: Core, info: RunInfo, card: dict[str, Any], metrics: dict[str, float]
) -> tuple[dict[str, Any], dict[str, float]]:
    """What a run tells a Model Card: recipe, training data, duration, final metrics.

    The card's own fields and the metrics given win over the run's.
    Returns (card, metrics) filled in.
    """
    live = LIVE.get(info.id)
    if live is not None:
        live.flush()  # this process's own points first
    record = info.record
    card = dict(card)
    card.setdefault("run", {"ref": info.name, "id": info.record_id})
    card.setdefault("training_recipe", {"ref": record["recipe_ref"], "id": record["recipe"]})
    recipe = core.read_record(record["recipe"])
    if "train_data" in recipe.card:
        card.setdefault("training_data", recipe.card["train_data"])
    if "validation_data" in recipe.card:
        card.setdefault("evaluation_data", recipe.card["validation_data"])
    end = record.get("ended_ns") or time.time_ns()
    card.setdefault("training_duration", f"{(end - record['started_ns']) / 1e9:.0f}s")
    from_run = {name: summary["last"] for name, summary in record.get("metrics", {}).items()}
    if not record.get("metrics"):
        from_run = {
            name: points[-1][2] for name, points in load_series(core, info.id, record).items() if points
        }
    return card, {**from_run, **metrics}
