"""Training recipes: a TOML file that says everything needed to reproduce a run.

The TOML text is stored byte for byte (comments kept) as the version's artifact;
the parsed and checked document, with dataset references pinned to record ids
and the lock file's hash, is the record's card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacha.documents import parse_toml
from pacha.store.snapshot import hash_file
from porcelain.core import Core
from porcelain.errors import InvalidInput, NotFound
from porcelain.finite import HINT, non_finite_path
from porcelain.recipes.schema import env_tables, looks_secret, normalize, secret_assignments, unknown_keys
from porcelain.resolve import resolve

STANDARD_HYPERPARAMETERS = {
    "learning_rate": float,
    "batch_size": int,
    "epochs": int,
    "weight_decay": float,
    "max_grad_norm": float,
    "warmup_steps": int,
}
LOCK_FILES = ("uv.lock", "poetry.lock", "requirements.txt", "Pipfile.lock", "pdm.lock")


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_text(text: str, where: str) -> dict[str, Any]:
    """The TOML document, or InvalidInput pointing at the line of a syntax error (nesting bounded)."""
    return parse_toml(text, where)


def hyperparameters(doc: dict[str, Any]) -> dict[str, Any]:
    """Standard and custom hyperparameters in one flat table (custom under their own names)."""
    table = dict(doc.get("hyperparameters", {}))
    custom = table.pop("custom", {})
    return {**table, **(custom if isinstance(custom, dict) else {})}


def run_parameters(doc: dict[str, Any]) -> dict[str, Any]:
    """What a run of the recipe is parameterized by: its hyperparameters, and its seed."""
    params = hyperparameters(doc)
    if isinstance(doc.get("random_seed"), int) and not {"seed", "random_seed"} & set(params):
        params["seed"] = doc["random_seed"]
    return params


def check(doc: dict[str, Any], core: Core | None = None, pinned: dict[str, Any] | None = None) -> Report:
    """Every rule; with a registry, dataset references are checked (and compared with pins).

    Args: doc: the recipe document as parsed. core: the registry its data references are
    looked up in (None: not checked). pinned: {"train"/"validation": {"ref", "id"}} as
    registered, to report data that changed since.
    Returns the Report (errors refuse a registration; warnings and notes do not).
    """
    report = Report()
    _check_safety(doc, report)
    doc, conflicts = normalize(doc)
    report.errors.extend(conflicts)
    _check_hyperparameters(doc, report)
    _check_reproducibility(doc, report)
    data = doc.get("data", {})
    if not isinstance(data, dict) or not data.get("train"):
        report.warnings.append("data.train is not set: the run's training data will not be pinned")
    elif core is not None:
        for key in ("train", "validation"):
            if data.get(key):
                _check_dataset(core, key, data[key], (pinned or {}).get(key), report.errors.append)
    return report


def _check_safety(doc: dict[str, Any], report: Report) -> None:
    """Numbers JSON can hold, name and version, known keys, no secrets, typed expected metrics."""
    err, warn = report.errors.append, report.warnings.append
    bad_number = non_finite_path(doc)
    if bad_number:
        err(f"{bad_number[0]} is {bad_number[1]}; {HINT}")
    for key in ("name", "version"):
        if not isinstance(doc.get(key), str) or not doc.get(key):
            err(f'{key} is missing: a recipe needs name = "..." and version = "1.0.0"')
    for path in unknown_keys(doc):
        if path.startswith("hyperparameters."):
            warn(
                f"{path} is not a standard hyperparameter (used as one anyway); "
                "put custom ones under [hyperparameters.custom]"
            )
        else:
            warn(f"unknown key {path!r} (kept, but nothing reads it)")
    for where, table in env_tables(doc):
        for name, value in table.items():
            if looks_secret(name):
                err(
                    f"{where}.{name} looks like a secret; recipes must not carry secrets "
                    "(pass it from the environment at run time)"
                )
            elif not isinstance(value, str | int | float | bool):
                err(f"{where}.{name} must be a string (an environment variable's value)")
    expected = doc.get("expected_metrics")
    if expected is not None and not isinstance(expected, dict):
        err("expected_metrics must be a table of metric = number")
    for name, value in (expected or {}).items() if isinstance(expected, dict) else ():
        if isinstance(value, bool) or not isinstance(value, int | float):
            err(f"expected_metrics.{name} must be a number, not {value!r}")
    run_table = doc.get("run")
    if isinstance(run_table, dict) and isinstance(run_table.get("command"), str | list):
        for name in secret_assignments(run_table["command"]):
            err(f"run.command sets {name}, which looks like a secret; pass it from the environment instead")


def _check_hyperparameters(doc: dict[str, Any], report: Report) -> None:
    """The standard hyperparameters present and of their type and range; custom ones typed."""
    err = report.errors.append
    hp = doc.get("hyperparameters")
    if not isinstance(hp, dict):
        err("[hyperparameters] is missing")
        hp = {}
    for name, kind in STANDARD_HYPERPARAMETERS.items():
        if name not in hp:
            if name in ("learning_rate", "batch_size", "epochs"):
                err(f"hyperparameters.{name} is missing")
            continue
        value = hp[name]
        if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            err(f"hyperparameters.{name} must be an integer, not {value!r}")
        elif kind is float and (not isinstance(value, int | float) or isinstance(value, bool)):
            err(f"hyperparameters.{name} must be a number, not {value!r}")
    report.errors.extend(out_of_range(hp))
    custom = hp.get("custom", {})
    if not isinstance(custom, dict):
        err("hyperparameters.custom must be a table")
    else:
        for name, value in custom.items():
            if not _typed_value(value):
                err(f"hyperparameters.custom.{name}: use a float, int, bool, string or list of them")


def out_of_range(hp: dict[str, Any]) -> list[str]:
    """What is wrong with the ranges of the standard hyperparameters in hp (a recipe's
    [hyperparameters], or the values one run overrides: the same rules for both)."""
    wrong = []
    if isinstance(hp.get("learning_rate"), int | float) and hp["learning_rate"] <= 0:
        wrong.append(f"hyperparameters.learning_rate must be positive, not {hp['learning_rate']}")
    for name in ("batch_size", "epochs"):
        if isinstance(hp.get(name), int) and hp[name] <= 0:
            wrong.append(f"hyperparameters.{name} must be at least 1, not {hp[name]}")
    for name in ("weight_decay", "max_grad_norm", "warmup_steps"):
        if isinstance(hp.get(name), int | float) and hp[name] < 0:
            wrong.append(f"hyperparameters.{name} must not be negative")
    return wrong


def _check_reproducibility(doc: dict[str, Any], report: Report) -> None:
    """A seed where determinism is claimed; a lock file and toolchain version to rebuild with."""
    err, warn = report.errors.append, report.warnings.append
    if doc.get("deterministic") is True and "random_seed" not in doc:
        err("deterministic = true needs random_seed = <integer>")
    if "random_seed" in doc and (not isinstance(doc["random_seed"], int) or doc["random_seed"] < 0):
        err("random_seed must be a non-negative integer")
    deps = doc.get("dependencies", {})
    if not isinstance(deps, dict) or not (deps.get("lock_hash") or deps.get("lock_file")):
        warn(
            "no lock file hash: set dependencies.lock_file (uv.lock, poetry.lock, requirements.txt) "
            "so the environment can be rebuilt exactly"
        )
    if isinstance(deps, dict) and not (deps.get("python") or deps.get("rust_version")):
        warn("dependencies.python is not set (nor rust_version): the toolchain version is unknown")


def _typed_value(value: Any) -> bool:
    if isinstance(value, bool | int | float | str):
        return True
    return isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value)


def _check_dataset(core: Core, key: str, ref: str, pinned: dict[str, Any] | None, err: Any) -> None:
    try:
        current = resolve(core, "dataset", ref)
    except NotFound:
        err(f"data.{key} = {ref!r}: no such registered dataset")
        return
    if pinned and pinned["id"] != current.record_id:
        err(
            f"data.{key} = {ref!r} changed since registration: pinned {pinned['id'][:12]}, "
            f"now {current.record_id[:12]}"
        )


def lock_hash(doc: dict[str, Any], base: Path) -> str | None:
    """BLAKE3 of the lock file named in dependencies.lock_file (relative to the recipe)."""
    deps = normalize(doc)[0].get("dependencies", {})
    if deps.get("lock_hash"):
        return str(deps["lock_hash"])
    name = deps.get("lock_file")
    if not name:
        return None
    path = (base / name) if not Path(name).is_absolute() else Path(name)
    if not path.is_file():
        raise InvalidInput(f"dependencies.lock_file {name!r} not found next to the recipe ({path})")
    return hash_file(str(path))


def pin_data(core: Core, doc: dict[str, Any]) -> dict[str, Any]:
    """{"train"/"validation": {"ref", "id"}} for the datasets a recipe names (either spelling)."""
    doc = normalize(doc)[0]
    out = {}
    for key in ("train", "validation"):
        ref = doc.get("data", {}).get(key)
        if ref:
            found = resolve(core, "dataset", ref)
            out[key] = {"ref": found.ref, "id": found.record_id}
    return out
