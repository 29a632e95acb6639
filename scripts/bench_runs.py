#!/usr/bin/env python3
"""Experiment tracking at scale (issue 4): many runs of one recipe, many metrics each.

    python scripts/bench_runs.py [--runs 10000] [--metrics 20] [--points 5]

Prints: the cost of 100,000 log_metric calls in one run (target < 5 s); the time to
build the runs; `pacha run list` and `pacha run best` on all of them (target < 1 s
each, as commands a person types); and MLflow's file store doing the same if
mlflow is installed in this environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pacha
from porcelain import Registry

RECIPE = """name = "bench"
version = "1.0.0"
random_seed = 1
[hyperparameters]
learning_rate = 0.001
batch_size = 32
epochs = 3
[dependencies]
python = "3.11"
lock_hash = "0"
"""


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--points", type=int, default=5, help="points per metric per run")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pacha-bench-runs-"))
    try:
        pacha.init_registry(work / "registry")
        (work / "recipe.toml").write_text(RECIPE)
        reg = Registry.open(work / "registry")
        reg.register_recipe(work / "recipe.toml")

        with reg.start_run("bench:1.0.0") as run:
            t = seconds(lambda: [run.log_metric("loss", 1.0 / (i + 1), step=i) for i in range(100_000)])
        print(f"100,000 log_metric calls in one run: {t:.2f} s (target < 5 s)")

        names = [f"m{k:02d}" for k in range(args.metrics)]
        start = time.perf_counter()
        for r in range(args.runs):
            with reg.start_run("bench:1.0.0", overrides={"learning_rate": 0.001 * (1 + r % 50)}) as run:
                for step in range(args.points):
                    for k, name in enumerate(names):
                        run.log_metric(name, (r * 7919 + k * 104729 + step) % 1000 / 1000, step=step)
        build = time.perf_counter() - start
        print(
            f"built {args.runs:,} runs x {args.metrics} metrics x {args.points} points in {build:.0f} s "
            f"({build / args.runs * 1000:.1f} ms per run)"
        )

        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PACHA_DIR"] = str(work / "registry")
        exe = shutil.which("pacha") or "pacha"
        for label, argv in [
            ("pacha run list bench:1.0.0 --json", ["run", "list", "bench:1.0.0", "--json"]),
            ("pacha run best bench -m m07", ["run", "best", "bench", "-m", "m07"]),
            ("pacha run best bench -m m07 --minimize", ["run", "best", "bench", "-m", "m07", "--minimize"]),
        ]:
            subprocess.run([exe, *argv], env=env, capture_output=True, check=True)  # warm the page cache
            t = seconds(lambda a=argv: subprocess.run([exe, *a], env=env, capture_output=True, check=True))
            print(f"  {label:<42} {t:6.2f} s (target < 1 s)")
        try:
            import mlflow
        except ImportError:
            print("  MLflow: not installed in this environment (pip install mlflow to compare)")
            return
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        try:  # MLflow 3 prefers a database store; fall back to its file store
            store = f"sqlite:///{work / 'mlflow.db'}"
            client = MlflowClient(tracking_uri=store)
        except Exception:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
            store = f"file:{work / 'mlruns'}"
            client = MlflowClient(tracking_uri=store)
        experiment = client.create_experiment("bench")
        start = time.perf_counter()
        for r in range(args.runs):
            run = client.create_run(experiment, tags={})
            now = int(time.time() * 1000)
            points = [
                Metric(name, (r * 7919 + k * 104729 + step) % 1000 / 1000, now, step)
                for step in range(args.points)
                for k, name in enumerate(names)
            ]
            params = [Param("learning_rate", str(0.001 * (1 + r % 50)))]
            client.log_batch(run.info.run_id, metrics=points, params=params)
            client.set_terminated(run.info.run_id)
        build_ml = time.perf_counter() - start
        kind = store.split(":")[0]
        print(
            f"  MLflow {mlflow.__version__} {kind} store: built the same runs in {build_ml:.0f} s",
            "(log_batch)",
        )
        t = seconds(lambda: client.search_runs([experiment], order_by=["metrics.m07 DESC"], max_results=1))
        print(f"  {'MLflow search_runs, best by m07':<42} {t:6.2f} s")
        t = seconds(lambda: client.search_runs([experiment], max_results=50_000))
        print(f"  {'MLflow search_runs, list all':<42} {t:6.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
