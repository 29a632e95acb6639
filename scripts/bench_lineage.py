#!/usr/bin/env python3
"""Lineage and lookup speed on a registry with many versions (issue 3: 10,000).

    python scripts/bench_lineage.py [--versions 10000]

Builds families of models: each family is a base model and a fine-tuned chain
with side branches (quantized, distilled), then times the queries people run:
ancestors of the deepest version, descendants of a base, `get NAME:latest`,
`get NAME@production`, and the same through the CLI (one process each).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pacha
from porcelain import Registry


def timed(fn, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--chain", type=int, default=20, help="fine-tuned chain length per family")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pacha-bench-lineage-"))
    try:
        pacha.init_registry(work / "registry")
        reg = Registry.open(work / "registry")
        blob = work / "w.bin"
        per_family = args.chain * 2  # chain plus one side branch per link
        families = max(1, args.versions // per_family)
        start = time.perf_counter()
        count = 0
        deepest = None
        for f in range(families):
            parent = None
            for depth in range(args.chain):
                blob.write_bytes(os.urandom(64))
                name = f"fam{f}/m{depth}"
                if parent is None:
                    v = reg.register_model(name, blob)
                else:
                    v = reg.register_model(name, blob, parents=[parent], relation="fine-tuned")
                count += 1
                blob.write_bytes(os.urandom(64))
                reg.register_model(
                    f"{name}-q8", blob, parents=[v.ref], relation="quantized", params={"quantization": "int8"}
                )
                count += 1
                parent = v.ref
            deepest = parent
        build = time.perf_counter() - start
        reg.stage(deepest, "production")
        print(
            f"registered {count:,} versions in {families} families in {build:.1f} s "
            f"({build / count * 1000:.2f} ms per register)"
        )
        base = "fam0/m0:1.0.0"
        print(
            f"  ancestors of {deepest} (depth {args.chain - 1}):  "
            f"{timed(lambda: reg.lineage(deepest, descendants=False)):.1f} ms"
        )
        print(
            f"  descendants of {base} ({2 * args.chain - 1} versions):  "
            f"{timed(lambda: reg.lineage(base, ancestors=False)):.1f} ms"
        )
        print(f"  get fam0/m5:latest:  {timed(lambda: reg.get_model('fam0/m5:latest')):.2f} ms")
        name = deepest.split(":")[0]
        print(f"  get {name}@production:  {timed(lambda: reg.get_model(name + '@production')):.2f} ms")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PACHA_DIR"] = str(work / "registry")
        pacha_cli = shutil.which("pacha") or "pacha"

        def cli(*a: str) -> None:
            subprocess.run([pacha_cli, *a], env=env, check=True, capture_output=True)

        print(
            f"  CLI model lineage {deepest} --format json:  "
            f"{timed(lambda: cli('model', 'lineage', deepest, '--format', 'json'), 10):.0f} ms"
        )
        print(
            f"  CLI model get {name}@production --json:  "
            f"{timed(lambda: cli('model', 'get', name + '@production', '--json'), 10):.0f} ms"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
