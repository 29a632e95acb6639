"""A run's metric series: points logged into an LMDB index, frozen into a blob when it ends.

    index:run-metrics   key <run id 16 bytes><metric name>, values <ts_ns u64><step i64><value f64>

Points go to the index in batches (cheap to log); when the run finishes every series
is written as one JSON blob that the final record links (metrics_blob), so the index
can be rebuilt from objects.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from porcelain.core import Core
from porcelain.errors import InvalidInput

METRICS_INDEX = "run-metrics"
POINT = struct.Struct(">Qqd")  # ts_ns, step, value: sorts by time
FLUSH_POINTS = 5000
FLUSH_SECONDS = 2.0


def metric_key(run_id: str, name: str) -> bytes:
    return bytes.fromhex(run_id) + name.encode("utf-8")


def check_metric_name(name: str) -> str:
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"metric name {name!r} is invalid: 1-200 printable characters")
    return name


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


def load_series(core: Core, run_id: str, record: dict[str, Any]) -> dict[str, list[list[float]]]:
    """Every metric series of a run: [[step, ts_ns, value], ...] in time order.

    Args: core: the registry. run_id: the run's id. record: its current record.
    Returns metric name -> points (the frozen blob of a finished run, else the index).
    Raises ObjectNotFound if the frozen blob is not stored.
    """
    if record.get("metrics_blob"):
        frozen: dict[str, list[list[float]]] = json.loads(core.plumbing.objects.read(record["metrics_blob"]))
        return frozen
    prefix = bytes.fromhex(run_id)
    out: dict[str, list[list[float]]] = {}
    for key, values in core.plumbing.refs.index_scan(METRICS_INDEX, prefix):
        name = key[len(prefix) :].decode("utf-8")
        points = [POINT.unpack(v) for v in values]
        # a NaN or infinity logged before they were refused is a missing point
        kept = [[step, ts, value] for ts, step, value in points if math.isfinite(value)]
        if kept:
            out[name] = kept
    return out
