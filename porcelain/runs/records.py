"""Experiment runs: one execution of a recipe, with its parameters, environment, metrics and log.

Refs and indices (see docs/porcelain.md):
    runs/<run id>          -> the run's latest record (moved by compare-and-swap)
    run-names/run-NNN      -> the run's first record: the short name, allocated by CAS
    index:run-metrics      key <run id 16 bytes><metric name>, values <ts_ns u64><step i64><value f64>
    index:runs-by-recipe   key <recipe record id 32 bytes>, values <run id 16 bytes>

Metric points go to LMDB in batches (cheap to log); when the run finishes, every
series is frozen into a blob that the final record links, so the index can be
rebuilt from objects.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import math
import os
import platform
import socket
import struct
import subprocess
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from porcelain.errors import InvalidInput

if TYPE_CHECKING:
    from porcelain.registry import Registry

METRICS_INDEX = "run-metrics"
SUMMARY_MAP = "runs"  # key <recipe record id 32><run id 16> -> JSON summary (what list and best read)
SUMMARY_KEYS = (
    "id",
    "name",
    "status",
    "pid",
    "pid_start",
    "host",
    "recipe",
    "recipe_ref",
    "started_ns",
    "ended_ns",
    "params",
    "overrides",
    "metrics",
    "exit_code",
)
BY_RECIPE_INDEX = "runs-by-recipe"
POINT = struct.Struct(">Qqd")  # ts_ns, step, value: sorts by time
RUNNING, COMPLETED, FAILED, KILLED, DIED = "running", "completed", "failed", "killed", "died"
FINAL = (COMPLETED, FAILED, KILLED)
FLUSH_POINTS = 5000
FLUSH_SECONDS = 2.0


def run_ref(run_id: str) -> str:
    return f"runs/{run_id}"


def metric_key(run_id: str, name: str) -> bytes:
    return bytes.fromhex(run_id) + name.encode("utf-8")


def check_metric_name(name: str) -> str:
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"metric name {name!r} is invalid: 1-200 printable characters")
    return name


@functools.cache
def environment() -> dict[str, Any]:
    """Where the run happens: host, Python, CPU, RAM, GPU (best effort; once per process)."""
    env: dict[str, Any] = {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    with contextlib.suppress(ValueError, OSError, AttributeError):
        env["ram_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        gpus = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        env["gpu"] = gpus or None
    except (OSError, subprocess.SubprocessError):
        env["gpu"] = None
    return env


def git_state(cwd: str | None = None) -> dict[str, Any] | None:
    """Commit and dirty state of the working tree the run starts in (None outside git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=cwd, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=cwd, timeout=30
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def process_start(pid: int) -> int | None:
    """The start time of a process (clock ticks since boot), to tell a reused pid from ours."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def alive(record: dict[str, Any]) -> bool | None:
    """Is the process that owns a running run still there? None when it ran on another host."""
    if record.get("host") != socket.gethostname():
        return None
    pid = record.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = record.get("pid_start")
    return started is None or process_start(pid) == started


def effective_status(record: dict[str, Any]) -> str:
    if record["status"] == RUNNING and alive(record) is False:
        return DIED
    return str(record["status"])


@dataclass
class RunInfo:
    id: str
    name: str
    record_id: str
    record: dict[str, Any]

    @property
    def status(self) -> str:
        return effective_status(self.record)


def summary_key(record: dict[str, Any]) -> bytes:
    return bytes.fromhex(record["recipe"]) + bytes.fromhex(record["id"])


def summary_value(record: dict[str, Any], record_id: str) -> bytes:
    import msgspec

    doc = {k: record[k] for k in SUMMARY_KEYS if k in record}
    doc["record_id"] = record_id
    return msgspec.json.encode(doc)


def summarize(series: dict[str, list[list[float]]]) -> dict[str, dict[str, float]]:
    out = {}
    for name, points in series.items():
        values = [p[2] for p in points]
        out[name] = {
            "last": values[-1],
            "min": min(values),
            "max": max(values),
            "count": len(values),
            "last_step": points[-1][0],
        }
    return out


LIVE: weakref.WeakValueDictionary[str, Run] = weakref.WeakValueDictionary()  # this process's runs


class Run:
    """A live run: log metrics and artifacts, then finish (the context manager does it)."""

    def __init__(self, reg: Registry, info: RunInfo) -> None:
        self.reg = reg
        self.id = info.id
        self.name = info.name
        self.params: dict[str, Any] = dict(info.record.get("params", {}))
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
        from porcelain.finite import finite_float

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
            tx = self.reg.plumbing.transaction(f"metrics of {self.name}")
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
        return self.reg.run_attach(self.id, path=path)

    def link(self, kind: str, reference: str) -> str:
        """Attach a registered model or dataset version (e.g. the model this run produced).

        Args: kind: "model" or "dataset". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME (with
        version) or a record id or unique prefix.
        Returns the version's record id.
        Raises NotFound for an unknown version.
        """
        return self.reg.run_attach(self.id, kind=kind, reference=reference)

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
        return self.reg.finish_run(self.id, status, exit_code=exit_code, log_blob=log)

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


def load_series(reg: Registry, run_id: str, record: dict[str, Any]) -> dict[str, list[list[float]]]:
    """Every metric series of a run: [[step, ts_ns, value], ...] in time order."""
    if record.get("metrics_blob"):
        return json.loads(reg.plumbing.objects.read(record["metrics_blob"]))
    prefix = bytes.fromhex(run_id)
    out: dict[str, list[list[float]]] = {}
    for key, values in reg.plumbing.refs.index_scan(METRICS_INDEX, prefix):
        name = key[len(prefix) :].decode("utf-8")
        points = [POINT.unpack(v) for v in values]
        # a NaN or infinity logged before they were refused is a missing point
        kept = [[step, ts, value] for ts, step, value in points if math.isfinite(value)]
        if kept:
            out[name] = kept
    return out
