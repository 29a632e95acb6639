"""Starting, updating, finding and finishing runs in the registry (see porcelain/runs/records.py)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import msgspec

import pacha
from porcelain.errors import CheckFailed, InvalidInput, NotFound
from porcelain.locking import writes_objects
from porcelain.recipes import check as recipes
from porcelain.runs import records as runs

NAME_PREFIX = "run-names/"


class RunsMixin:
    """start_run, run, get_run, list_runs, finish_run, run_attach."""

    # --- reading ---------------------------------------------------------------------
    def _run_record(self, record_id: str) -> dict[str, Any]:
        doc = msgspec.json.decode(self.plumbing.objects.read(record_id))  # type: ignore[attr-defined]
        if doc.get("type") != "run":
            raise InvalidInput(f"object {record_id} is not a run")
        return doc

    def resolve_run(self, text: str) -> str:
        """A run id from its id, id prefix (4+ hex) or short name (run-001).

        Args: text: the run's name, id or id prefix.
        Returns the run's id (32 hex digits).
        Raises NotFound for an unknown run; InvalidInput for an ambiguous prefix.
        """
        refs = self.plumbing.refs  # type: ignore[attr-defined]
        if re.fullmatch(r"run-\d+", text):
            record_id = refs.get(NAME_PREFIX + text)
            if record_id is None:
                from porcelain.wording import say

                raise NotFound(
                    f"no run named {text}; {say('`pacha run list`', 'Registry.list_runs()')} shows the runs"
                )
            return str(self._run_record(record_id)["id"])
        if re.fullmatch(r"[0-9a-fA-F]{4,32}", text):
            matches = [name[len("runs/") :] for name, _ in refs.iter("runs/" + text.lower())]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidInput(f"run id prefix {text} is ambiguous: give more characters or the run name")
        raise NotFound(f"no run {text!r}; use its name (run-001) or id")

    def get_run(self, text: str) -> runs.RunInfo:
        """A run by name, id or id prefix.

        Args: text: run-001, the run's id, or a unique prefix of it (4+ hex digits).
        Returns runs.RunInfo (id, name, record id, record; .status says died for a running run whose
        process is gone).
        Raises NotFound for an unknown run; InvalidInput for an ambiguous prefix.
        """
        run_id = self.resolve_run(text)
        record_id = self.plumbing.refs.get(runs.run_ref(run_id))  # type: ignore[attr-defined]
        if record_id is None:
            raise NotFound(f"run {text} not found")
        record = self._run_record(record_id)
        return runs.RunInfo(run_id, record["name"], record_id, record)

    def list_runs(
        self, recipe: str | None = None, version: str | None = None, status: str | None = None
    ) -> list[runs.RunInfo]:
        """Runs (all, or of a recipe's versions) from the summary map: one range read each.

        Args: recipe: a recipe NAME or NAME:VER (None: every run). version: the recipe version, if recipe
        is a bare NAME. status: only runs with this status (running, completed, failed, killed, died).
        Returns runs.RunInfo in start order.
        Raises NotFound for an unknown recipe.
        """
        refs = self.plumbing.refs  # type: ignore[attr-defined]
        if recipe is None:
            prefixes = [b""]
        elif version is None and ":" not in recipe and "@" not in recipe:
            prefixes = [bytes.fromhex(v.record_id) for v in self.list("recipe", recipe)]  # type: ignore[attr-defined]
        else:
            prefixes = [bytes.fromhex(self.get("recipe", recipe, version).record_id)]  # type: ignore[attr-defined]
        out = []
        for prefix in prefixes:
            for _, value in refs.map_scan(runs.SUMMARY_MAP, prefix):
                summary = msgspec.json.decode(value)
                info = runs.RunInfo(summary["id"], summary["name"], summary.pop("record_id"), summary)
                if status is None or info.status == status:
                    out.append(info)
        out.sort(key=lambda r: int(r.name.split("-")[1]))
        return out

    def reindex_runs(self) -> int:
        """Rewrite every run's summary from its current record (the map is derived).

        Returns the number of runs.
        Raises PachaError only for errors of the registry itself (e.g. read-only).
        """
        refs = self.plumbing.refs  # type: ignore[attr-defined]
        count = 0
        tx = self.plumbing.transaction("reindex runs")  # type: ignore[attr-defined]
        for _, record_id in refs.iter("runs/"):
            record = self._run_record(record_id)
            tx.map_set(runs.SUMMARY_MAP, runs.summary_key(record), runs.summary_value(record, record_id))
            count += 1
        tx.commit()
        return count

    # --- writing ---------------------------------------------------------------------
    @writes_objects
    def start_run(
        self,
        recipe: str,
        *,
        overrides: dict[str, Any] | list[str] | None = None,
        version: str | None = None,
        command: list[str] | None = None,
        pid: int | None = None,
    ) -> runs.Run:
        """Start a run of a registered recipe; overrides are type-checked against it.

        Args: recipe: the recipe, NAME:VER (or NAME with version). overrides: hyperparameter name -> value
        (or NAME=VALUE texts), each checked against the recipe's type. version: the recipe version, if
        recipe is a bare NAME. command: the training command line, recorded in the run. pid: the process
        whose exit ends the run (default: this one).
        Returns the live runs.Run (a context manager that finishes it).
        Raises NotFound for an unknown recipe; InvalidInput for a bad override (unknown, wrong type, non-
        finite) or a command line that sets a secret-looking environment variable (it would be stored in
        the run record).
        """
        from porcelain.recipes.schema import secret_assignments

        secrets = secret_assignments(command or [])
        if secrets:
            raise InvalidInput(
                f"the command sets {', '.join(secrets)}, which looks like a secret and would be kept "
                "in the run record; export it in the environment instead"
            )
        found, doc = self.recipe_doc(recipe, version)  # type: ignore[attr-defined]
        params = recipes.run_parameters(doc)
        applied: dict[str, Any] = {}
        if isinstance(overrides, list):
            for assignment in overrides:
                name, value = recipes.coerce_override(doc, assignment)
                applied[name] = value
        else:
            for name, value in (overrides or {}).items():
                applied[name] = recipes.check_override_value(doc, name, value)
        params.update(applied)
        run_id = os.urandom(16).hex()
        pid = pid or os.getpid()
        record = {
            "id": run_id,
            "recipe": found.record_id,
            "recipe_ref": found.ref,
            "params": params,
            "overrides": applied,
            "seed": doc.get("random_seed"),
            "command": command or [],
            "status": runs.RUNNING,
            "pid": pid,
            "pid_start": runs.process_start(pid),
            "started_ns": time.time_ns(),
            "git": runs.git_state(),
            "system": dict(runs.environment()),
            "author": self.plumbing.identity(),  # type: ignore[attr-defined]
        }
        record["host"] = record["system"]["host"]
        taken = sum(1 for _ in self.plumbing.refs.iter(NAME_PREFIX))  # type: ignore[attr-defined]
        for number in range(taken + 1, taken + 1000):
            record["name"] = f"run-{number:03d}"
            record_id = self._put_run(record)
            try:
                with self.plumbing.transaction(f"start {record['name']} of {found.ref}") as tx:  # type: ignore[attr-defined]
                    tx.create(NAME_PREFIX + record["name"], record_id)
                    tx.create(runs.run_ref(run_id), record_id)
                    tx.index_add(runs.BY_RECIPE_INDEX, bytes.fromhex(found.record_id), bytes.fromhex(run_id))
                    tx.map_set(
                        runs.SUMMARY_MAP, runs.summary_key(record), runs.summary_value(record, record_id)
                    )
                break
            except pacha.RefConflict:
                continue  # another process took this name: try the next one
        else:
            raise CheckFailed("could not allocate a run name")
        return runs.Run(self, runs.RunInfo(run_id, record["name"], record_id, record))  # type: ignore[arg-type]

    def run(self, text: str | None = None) -> runs.Run:
        """Attach to a running run: by name or id, or $PACHA_RUN_ID inside `pacha recipe run`.

        Args: text: the run's name, id or id prefix (None: $PACHA_RUN_ID).
        Returns the live runs.Run to log into.
        Raises InvalidInput if text is None outside a tracked run; NotFound for an unknown run;
        CheckFailed if it already finished.
        """
        text = text or os.environ.get("PACHA_RUN_ID")
        if not text:
            raise InvalidInput("no run given and PACHA_RUN_ID is not set")
        info = self.get_run(text)
        if info.record["status"] != runs.RUNNING:
            raise CheckFailed(f"{info.name} is {info.record['status']}; start a new run")
        return runs.Run(self, info)  # type: ignore[arg-type]

    def _put_run(self, record: dict[str, Any]) -> str:
        links = [record["recipe"], *[a["id"] for a in record.get("artifacts", [])]]
        for key in ("log", "metrics_blob"):
            if record.get(key):
                links.append(record[key])
        body = {k: v for k, v in record.items() if k != "links"}
        return self.plumbing.objects.put_bytes(pacha.make_record("run", body, links), "record")  # type: ignore[attr-defined, no-any-return]

    @writes_objects
    def _update_run(self, run_id: str, change: Any, why: str) -> runs.RunInfo:
        """Apply change(record) and move runs/<id> by compare-and-swap, retrying on races."""
        for _ in range(100):
            current_id = self.plumbing.refs.get(runs.run_ref(run_id))  # type: ignore[attr-defined]
            if current_id is None:
                raise NotFound(f"run {run_id} not found")
            record = self._run_record(current_id)
            change(record)
            new_id = self._put_run(record)
            try:
                with self.plumbing.transaction(why) as tx:  # type: ignore[attr-defined]
                    tx.update(runs.run_ref(run_id), new_id, current_id)
                    tx.map_set(runs.SUMMARY_MAP, runs.summary_key(record), runs.summary_value(record, new_id))
                return runs.RunInfo(run_id, record["name"], new_id, record)
            except pacha.RefConflict:
                continue
        raise CheckFailed(f"run {run_id} changes too often to update")

    @writes_objects
    def run_attach(
        self,
        text: str,
        *,
        path: str | os.PathLike[str] | None = None,
        kind: str | None = None,
        reference: str | None = None,
    ) -> str:
        """Attach a stored file or folder, or a registered version, to a run.

        Args: text: the run's name, id or id prefix. path: a file or folder to store and attach. kind and
        reference: instead of path, a registered version ("model", "dataset" or "recipe". and NAME:VER,
        NAME:latest, NAME@STAGE, NAME (with version) or a record id or unique prefix.)
        Returns the attached object's id (the artifact's, or the version's record id).
        Raises NotFound for an unknown run or version; InvalidInput if path does not exist.
        """
        run_id = self.resolve_run(text)
        if path is not None:
            target = Path(path)
            if not target.exists():
                raise InvalidInput(f"{target} does not exist")
            from porcelain.versions.artifacts import artifact_of

            object_id, object_kind, size = artifact_of(self.plumbing.objects, target)  # type: ignore[attr-defined]
            entry = {"path": target.name, "id": object_id, "kind": object_kind, "size": size}
        else:
            found = self.get(kind or "model", reference or "")  # type: ignore[attr-defined]
            entry = {"kind": found.kind, "ref": found.ref, "id": found.record_id}

        def change(record: dict[str, Any]) -> None:
            record["artifacts"] = [*record.get("artifacts", []), entry]

        self._update_run(run_id, change, f"artifact for run {run_id}")
        return str(entry["id"])

    def log_metrics_cli(self, text: str, values: dict[str, float], step: int | None) -> None:
        """Log metric points into a running run from another process (the CLI's `run log`).

        Args: text: the run's name, id or id prefix. values: metric name -> finite number. step: the
        training step (None: one more than the metric's last).
        Raises NotFound for an unknown run; InvalidInput for a bad metric name or a non-finite value;
        CheckFailed if the run already finished.
        """
        run = self.run(text)
        run.log_metrics(values, step)
        run.flush()

    @writes_objects
    def finish_run(
        self,
        text: str,
        status: str = runs.COMPLETED,
        *,
        exit_code: int | None = None,
        log_blob: str | None = None,
    ) -> runs.RunInfo:
        """Freeze the metric series into a blob and record the final status.

        Args: text: the run's name (run-001), id or id prefix. status: completed, failed or killed.
        exit_code: the training command's exit code, if any. log_blob: id of the stored output log, if
        any.
        Returns the finished run (runs.RunInfo).
        Raises NotFound for an unknown run; InvalidInput for an unknown status; CheckFailed if the run
        already finished.
        """
        if status not in runs.FINAL:
            raise InvalidInput(f"unknown run status {status!r}: use {', '.join(runs.FINAL)}")
        run_id = self.resolve_run(text)
        info = self.get_run(run_id)
        if info.record["status"] != runs.RUNNING:
            raise CheckFailed(f"{info.name} already finished ({info.record['status']})")
        series = runs.load_series(self, run_id, info.record)  # type: ignore[arg-type]
        blob = self.plumbing.objects.put_bytes(json.dumps(series, separators=(",", ":")).encode())  # type: ignore[attr-defined]

        def change(record: dict[str, Any]) -> None:
            record.update(
                status=status, ended_ns=time.time_ns(), metrics_blob=blob, metrics=runs.summarize(series)
            )
            if exit_code is not None:
                record["exit_code"] = exit_code
            if log_blob:
                record["log"] = log_blob

        return self._update_run(run_id, change, f"finish run {info.name}: {status}")
