"""A live run: the object training code logs metrics and artifacts into (`with reg.start_run(...)`)."""

from __future__ import annotations

import atexit
import contextlib
import os
import time
import weakref
from typing import Any

from porcelain.core import Core
from porcelain.finite import finite_float
from porcelain.policies.enforce import require_run
from porcelain.runs.metrics import (
    FLUSH_POINTS,
    FLUSH_SECONDS,
    METRICS_INDEX,
    POINT,
    check_metric_name,
    metric_key,
)
from porcelain.runs.records import COMPLETED, FAILED, KILLED, RunInfo
from porcelain.runs.update import attach, finish

LIVE: weakref.WeakValueDictionary[str, Run] = weakref.WeakValueDictionary()  # this process's runs


class Run:
    """A live run: log metrics and artifacts, then finish (the context manager does it)."""

    def __init__(self, core: Core, info: RunInfo) -> None:
        self.core = core
        self.id = info.id
        self.name = info.name
        self.params: dict[str, Any] = dict(info.record.get("params", {}))
        self._recipe = {"recipe_ref": info.record.get("recipe_ref", "")}  # whose policy governs it
        self._buffer: list[tuple[bytes, bytes]] = []
        self._last_flush = time.monotonic()
        self._step: dict[str, int] = {}
        self.finished = False
        LIVE[self.id] = self
        atexit.register(self._flush_at_exit)  # a script that just ends must not lose its points

    def _flush_at_exit(self) -> None:
        if self._buffer:
            with contextlib.suppress(Exception):
                self.flush()

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Append one point to the metric's time series (buffered; flushed in batches).

        Args: name: the metric's name. value: a finite number. step: the training step (None: one more
        than this metric's last step).
        Raises InvalidInput for a bad name or a value that is not a finite number.
        """
        check_metric_name(name)
        value = finite_float(value, f"metric {name}")
        if step is None:
            step = self._step.get(name, -1) + 1
        self._step[name] = step
        self._buffer.append((metric_key(self.id, name), POINT.pack(time.time_ns(), int(step), value)))
        if len(self._buffer) >= FLUSH_POINTS or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def log_metrics(self, values: dict[str, float], step: int | None = None) -> None:
        """Append one point to each metric's series: log_metric for each item.

        Args: values: metric name -> finite number. step: the training step of all of them.
        Raises InvalidInput as log_metric.
        """
        for name, value in values.items():
            self.log_metric(name, value, step)

    def flush(self) -> None:
        """Write the buffered metric points (one LMDB transaction).

        Raises PachaError if the registry cannot be written.
        """
        if self._buffer:
            plumbing = self.core.plumbing
            require_run(plumbing, self._recipe)  # refused points are not written (and stay buffered)
            tx = plumbing.transaction(f"metrics of {self.name}")
            tx.check(lambda view: require_run(plumbing, self._recipe, view))
            for key, value in self._buffer:
                tx.index_add(METRICS_INDEX, key, value)
            tx.commit()
            self._buffer.clear()
        self._last_flush = time.monotonic()

    def log_artifact(self, path: str | os.PathLike[str]) -> str:
        """Store a file or folder and attach it to the run.

        Args: path: the file or folder.
        Returns its object id.
        Raises InvalidInput if path does not exist.
        """
        self.flush()
        return attach(self.core, self.id, path=path)

    def link(self, kind: str, reference: str) -> str:
        """Attach a registered model or dataset version (e.g. the model this run produced).

        Args: kind: "model" or "dataset". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with
        version) or a record id or unique prefix.
        Returns the version's record id.
        Raises NotFound for an unknown version.
        """
        return attach(self.core, self.id, kind=kind, reference=reference)

    def finish(
        self, status: str = COMPLETED, exit_code: int | None = None, log: str | None = None
    ) -> RunInfo:
        """Finish the run: flush its points, freeze its series, record its status.

        Args: status: completed, failed or killed. exit_code: the command's exit code, if any. log: id of
        the stored output log, if any.
        Returns the finished runs.RunInfo.
        Raises InvalidInput for an unknown status; CheckFailed if it already finished.
        """
        self.flush()
        self.finished = True
        return finish(self.core, self.id, status, exit_code=exit_code, log_blob=log)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.finished:
            return
        if exc_type is None:
            self.finish(COMPLETED)
        elif exc_type is KeyboardInterrupt:
            self.finish(KILLED)
        else:
            self.finish(FAILED)
