#!/usr/bin/env python3
"""What a small pull pays after its objects arrive, as the registry grows: before/after, side by side.

    python scripts/bench_pull_growth.py [--packs 10,40,100] [--ids 13000] [--versions 50,200,800]
                                        [--before SRC [--batches 20] [--per-batch 20]]

A pull or clone, once its objects are installed and its refs moved, brings the registry's
derived indices up to date. Before, that cost grew with the registry, not with the pull:
- the reverse lineage index and run summaries (`model used-by`, `run list`) were rebuilt
  from every version record (`pacha reindex`'s work) after each pull; now the entries of the
  records the pull brings are added in the transaction that moves the refs
  (porcelain/remotes/derived.py);
- the multi-pack index was not maintained by pulls at all (their packs stayed outside it),
  and when a registration covered them it rebuilt it from every pack (build_midx); now a pull
  covers its packs as a registration does, extending the index in place (extend_midx).

Measured in CPU seconds of this process (time.process_time; the machine is shared), for a
1-pack arrival (--ids ids, the chunks of a 1 GiB model) into N packs of --ids ids each, and
a 1-version pull into a registry of V versions (each with a parent edge). With --before SRC
(a source tree of the older code: `git archive <commit> | tar -x -C SRC`), also end to end:
`pacha pull` of one version into a registry that pulled --batches times, by both codes, each
on its own copy of the registry, alternating.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pacha  # noqa: E402
from pacha.store.midx import MultiPackIndex, build_midx, extend_midx  # noqa: E402
from pacha.store.pack import Pack  # noqa: E402
from pacha.store.pack_writer import PackWriter  # noqa: E402

FROM_BASE = {"parents": ["base:1.0.0"], "relation": "fine-tuned"}


def cpu(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best CPU time of repeat runs of fn, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def synthetic_pack(root: Path, ids: int) -> Pack:
    """A pack of ids random ids (one byte each: only the index matters here)."""
    writer = PackWriter(root / "pack", root / "tmp")
    for _ in range(ids):
        writer.add(os.urandom(32).hex(), b"x")
    return Pack(writer.finish())


def bench_midx(work: Path, sizes: list[int], ids: int) -> None:
    print(f"multi-pack index, one pack of {ids:,} ids arriving (CPU s):")
    print(f"  {'packs':>6} {'ids':>10} {'rebuilt (before)':>17} {'extended (now)':>15} {'ratio':>6}")
    packs: list[Pack] = []
    for n in sizes:
        while len(packs) < n:
            packs.append(synthetic_pack(work, ids))
        new = synthetic_pack(work, ids)
        (work / "midx").write_bytes(build_midx(packs))
        old = MultiPackIndex(work / "midx")
        before = cpu(lambda new=new: build_midx([*packs, new]))
        after = cpu(lambda old=old, new=new: extend_midx(old, [new]))
        old.close()
        print(f"  {n:>6} {n * ids:>10,} {before:>17.3f} {after:>15.3f} {before / after:>5.1f}x", flush=True)
        new.close()


def bench_derived(work: Path, sizes: list[int]) -> None:
    from porcelain import Registry
    from porcelain.core import Core
    from porcelain.lineage.edges import reindex
    from porcelain.remotes.derived import add_entries
    from porcelain.remotes.refsync import Move
    from porcelain.runs.ops import reindex_runs

    os.environ.setdefault("PACHA_AUTHOR_NAME", "bench")
    os.environ.setdefault("PACHA_AUTHOR_EMAIL", "bench@example.com")
    print("derived indices (used-by, run list), a 1-version pull (CPU s):")
    print(f"  {'versions':>8} {'reindex (before)':>17} {'entries added (now)':>20} {'ratio':>6}")
    pacha.init_registry(work / "reg")
    reg = Registry.open(work / "reg")
    made = 0
    for v in sizes:
        while made < v:
            path = work / f"w{made}.bin"
            path.write_bytes(os.urandom(200))
            if made:
                reg.register_model("m", path, version=f"{made}.0.0", **FROM_BASE)
            else:
                reg.register_model("base", path, version="1.0.0")
            made += 1
        ref = f"models/m/{made - 1}.0.0"

        def rebuilt(ref: str = ref) -> None:  # a registry opened afresh, as each pull process does
            core = Core(pacha.open_registry(work / "reg"))
            reindex(core)
            reindex_runs(core)

        def incremental(ref: str = ref) -> None:
            plumbing = pacha.open_registry(work / "reg")
            record = plumbing.refs.get(ref)
            assert record is not None
            tx = plumbing.transaction("bench")
            add_entries(tx, plumbing, [Move(ref, record, record)])
            tx.commit()

        before = cpu(rebuilt)
        after = cpu(incremental)
        print(f"  {v:>8} {before:>17.3f} {after:>20.4f} {before / after:>5.0f}x", flush=True)


def _pacha(src: Path, registry: Path, *args: str | Path) -> float:
    """Run `pacha ARGS` from the source tree src; returns its CPU seconds (user + sys)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
    env.update(PYTHONPATH=str(src), PACHA_DIR=str(registry), PACHA_NO_PROGRESS="1")
    env.update(PACHA_AUTHOR_NAME="bench", PACHA_AUTHOR_EMAIL="bench@example.com")
    code = "import sys; from porcelain.cli import main; sys.argv[0] = 'pacha'; main()"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-c", code, *map(str, args)]
    subprocess.run(command, env=env, cwd=src, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def bench_pull(work: Path, old_src: Path, batches: int, per_batch: int, rounds: int) -> None:
    """End to end: a registry that pulled `batches` times (versions with a parent edge), then
    a 1-version pull, by the code before (old_src) and now, each on its own copy."""
    from porcelain import Registry

    where = subprocess.run(
        [sys.executable, "-c", "import porcelain; print(porcelain.__file__)"],
        env={**os.environ, "PYTHONPATH": str(old_src)},
        cwd=old_src,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if not where.startswith(str(old_src)):
        raise SystemExit(f"--before {old_src}: the code there is not what runs (got {where.strip()})")
    print(f"end to end: `pacha pull` of 1 version (CPU s of the process), before ({old_src}) and now:")
    ada, remote, now_reg, old_reg = work / "ada", work / "remote", work / "bob-now", work / "bob-before"
    pacha.init_registry(ada)
    reg = Registry.open(ada)
    _pacha(ROOT, ada, "remote", "add", "origin", remote, "--default")
    (work / "base.bin").write_bytes(os.urandom(200))
    reg.register_model("base", work / "base.bin", version="1.0.0")
    _pacha(ROOT, ada, "push")
    _pacha(ROOT, ada, "clone", remote, now_reg)
    made = 0

    def grow(count: int) -> None:
        nonlocal made
        for _ in range(count):
            made += 1
            (work / "v.bin").write_bytes(os.urandom(200))
            reg.register_model("m", work / "v.bin", version=f"{made}.0.0", **FROM_BASE)
        _pacha(ROOT, ada, "push")

    for _ in range(batches):
        grow(per_batch)
        _pacha(ROOT, now_reg, "pull")
    shutil.copytree(now_reg, old_reg, symlinks=True)
    packs = len(list((now_reg / "objects" / "pack").glob("*.idx")))
    print(f"  {made + 1} versions, {packs} packs; {'before':>8} {'now':>8}")
    for _ in range(rounds):
        grow(1)
        before, now = _pacha(old_src, old_reg, "pull"), _pacha(ROOT, now_reg, "pull")
        print(f"  pull: {before:>33.3f} {now:>8.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packs", default="10,40,100", help="pack counts N (comma-separated)")
    ap.add_argument("--ids", type=int, default=13_000, help="ids per pack")
    ap.add_argument("--versions", default="50,200,800", help="version counts V (comma-separated)")
    ap.add_argument("--before", type=Path, help="source tree of the code before (`git archive`): end to end")
    ap.add_argument("--batches", type=int, default=20, help="end to end: pulls made before measuring")
    ap.add_argument("--per-batch", type=int, default=20, help="end to end: versions per pull")
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    with tempfile.TemporaryDirectory(prefix="pacha-bench-growth-") as tmp:
        bench_midx(Path(tmp) / "midx", [int(n) for n in args.packs.split(",")], args.ids)
        bench_derived(Path(tmp) / "derived", [int(n) for n in args.versions.split(",")])
        if args.before is not None:
            bench_pull(Path(tmp) / "e2e", args.before.resolve(), args.batches, args.per_batch, rounds=3)


if __name__ == "__main__":
    main()
