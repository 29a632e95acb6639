"""Experiment runs: one execution of a recipe, with its parameters, environment, metrics and log.

This module holds what a run record is (its refs, status, environment, summary); the
metric series are in runs/metrics.py, a live run in runs/live.py, reading runs back in
runs/lookup.py, changing them in runs/update.py and runs/ops.py.

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

import contextlib
import functools
import os
import platform
import socket
import subprocess
from dataclasses import dataclass
from typing import Any

import msgspec

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
RUNNING, COMPLETED, FAILED, KILLED, DIED = "running", "completed", "failed", "killed", "died"
FINAL = (COMPLETED, FAILED, KILLED)
NAME_PREFIX = "run-names/"  # run-names/run-NNN -> the run's first record


def run_ref(run_id: str) -> str:
    return f"runs/{run_id}"


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
    doc = {k: record[k] for k in SUMMARY_KEYS if k in record}
    doc["record_id"] = record_id
    return msgspec.json.encode(doc)
