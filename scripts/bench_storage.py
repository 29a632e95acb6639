#!/usr/bin/env python3
"""Storage benchmark: Pacha side by side with cp, DVC, Git LFS and git, in one run.

    python scripts/bench_storage.py [--weights-mib 1024] [--csv-mb 200] [--csv-versions 50]
                                    [--small-files 100000] [--only weights,csv,small,sweep]
                                    [--dvc PATH] [--dir DIR]

Data made here (issue 5):
- weights: float32 "weights" (v1); v2 with 2 % of the values changed in scattered
  2.5 MiB regions; v3 = v2 with one contiguous 10 % region changed;
- csv: a CSV of --csv-mb, then versions that each append 1 % rows and edit a few;
- small: a directory of --small-files files of ~4 KiB;
- sweep: new bytes and cutting speed for several average chunk sizes (how
  pacha's AVG_CHUNK was chosen).
For each tool: wall time and peak RSS of the first add, bytes each next version
adds to its store, total store size, time to restore a version. Before each timed
step the page cache is synced, so one tool's writeback does not slow the next.
DVC is looked for on PATH, then in --dvc, then installed into .bench-venv/ here.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _bench import find_dvc, timed_with_rss

MiB = 1 << 20
RESTORE_TRIALS = 2
PACHA = shutil.which("pacha") or sys.exit("pacha is not on PATH: run inside the project's venv")
ROOT = Path(__file__).resolve().parent.parent


# --- tools --------------------------------------------------------------------------


def has_git_lfs() -> bool:
    return subprocess.run(["git", "lfs", "version"], capture_output=True).returncode == 0


def du(path: Path) -> int:
    """Bytes in files under path (apparent sizes)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
    return total


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Time cmd (after syncing), return (seconds, peak RSS bytes)."""
    os.sync()
    seconds, rss, _ = timed_with_rss([str(c) for c in cmd], env=env, cwd=cwd)
    return seconds, rss


def quiet(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, check=True, capture_output=True)


def place(workspace: Path, source: Path) -> None:
    """Put a copy of source at workspace/data, replacing what was there."""
    target = workspace / "data"
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)


@dataclass
class Result:
    tool: str
    first_s: float = 0.0
    first_rss: int = 0
    next_s: list[float] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    total: int = 0
    restore_s: float = 0.0
    max_rss: int = 0

    def note(self, rss: int) -> None:
        self.max_rss = max(self.max_rss, rss)


class Tool:
    """One way of keeping versions of a file or folder: add(path), restore(version, dest)."""

    name = ""

    def __init__(self, work: Path) -> None:
        self.work = work / self.name.replace(" ", "-")
        self.work.mkdir(parents=True)

    def store_size(self) -> int:
        raise NotImplementedError

    def add(self, source: Path, version: int) -> tuple[float, int]:
        raise NotImplementedError

    def restore(self, version: int, dest: Path) -> float:
        raise NotImplementedError


class Cp(Tool):
    name = "cp + fsync"

    def store_size(self) -> int:
        return du(self.work)

    def add(self, source: Path, version: int) -> tuple[float, int]:
        dest = self.work / f"v{version}"
        if source.is_dir():
            return run(["sh", "-c", f'cp -r "{source}" "{dest}" && sync -f "{dest}"'])
        return run(["sh", "-c", f'cp "{source}" "{dest}" && sync "{dest}"'])

    def restore(self, version: int, dest: Path) -> float:
        return run(["cp", "-r", self.work / f"v{version}", dest])[0]


class Pacha(Tool):
    name = "pacha"

    def __init__(self, work: Path, kind: str) -> None:
        super().__init__(work)
        self.kind = kind
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env.update(PACHA_DIR=str(self.work / "registry"), PACHA_NO_PROGRESS="1")
        quiet([PACHA, "init", "-q"], env=self.env)

    def store_size(self) -> int:
        return du(self.work / "registry" / "objects")

    def add(self, source: Path, version: int) -> tuple[float, int]:
        return run([PACHA, self.kind, "register", "bench", source, "-v", f"{version}.0.0"], env=self.env)

    def restore(self, version: int, dest: Path) -> float:
        return run([PACHA, self.kind, "download", f"bench:{version}.0.0", "-o", dest], env=self.env)[0]


class Dvc(Tool):
    name = "dvc add"

    def __init__(self, work: Path, dvc: str) -> None:
        super().__init__(work)
        self.dvc = dvc
        quiet([dvc, "init", "--no-scm", "-q"], cwd=self.work)
        quiet([dvc, "config", "core.analytics", "false"], cwd=self.work)

    def store_size(self) -> int:
        return du(self.work / ".dvc" / "cache")

    def add(self, source: Path, version: int) -> tuple[float, int]:
        place(self.work, source)  # not timed: DVC adds what is in its workspace
        result = run([self.dvc, "add", "-q", "data"], cwd=self.work)
        shutil.copyfile(self.work / "data.dvc", self._saved(version))  # outside: DVC reads every .dvc
        return result

    def _saved(self, version: int) -> Path:
        return self.work.parent / f"dvc-v{version}.dvc"

    def restore(self, version: int, dest: Path) -> float:
        shutil.copyfile(self._saved(version), self.work / "data.dvc")
        target = self.work / "data"
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        return run([self.dvc, "checkout", "-q", "data"], cwd=self.work)[0]


class Git(Tool):
    """git add + commit (plain git, or with LFS tracking every file)."""

    name = "git add"

    def __init__(self, work: Path, lfs: bool = False) -> None:
        self.name = "git lfs" if lfs else "git add"
        super().__init__(work)
        quiet(["git", "init", "-q"], cwd=self.work)
        quiet(["git", "config", "user.email", "bench@example.com"], cwd=self.work)
        quiet(["git", "config", "user.name", "bench"], cwd=self.work)
        if lfs:
            quiet(["git", "lfs", "install", "--local"], cwd=self.work)
            quiet(["git", "lfs", "track", "data", "data/**"], cwd=self.work)
            quiet(["git", "add", ".gitattributes"], cwd=self.work)
            quiet(["git", "commit", "-qm", "lfs"], cwd=self.work)

    def store_size(self) -> int:
        return du(self.work / ".git")

    def add(self, source: Path, version: int) -> tuple[float, int]:
        place(self.work, source)  # not timed: git adds what is in its work tree
        return run(
            ["sh", "-c", f"git add -A data && git commit -qm v{version} && git tag v{version}"], cwd=self.work
        )

    def restore(self, version: int, dest: Path) -> float:
        target = self.work / "data"
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        return run(["git", "checkout", "-q", f"v{version}", "--", "data"], cwd=self.work)[0]


def measure(
    tools: list[Tool], versions: list[Path] | None, make_version=None, count: int = 0
) -> list[Result]:
    """Add each version with each tool (interleaved), then restore version 1 with each."""
    results = {t.name: Result(t.name) for t in tools}
    n = len(versions) if versions is not None else count
    for i in range(1, n + 1):
        source = versions[i - 1] if versions is not None else make_version(i)
        for tool in tools:
            before = tool.store_size()
            seconds, rss = tool.add(source, i)
            res = results[tool.name]
            res.note(rss)
            if i == 1:
                res.first_s, res.first_rss = seconds, rss
            else:
                res.next_s.append(seconds)
                res.added.append(tool.store_size() - before)
        if versions is None:
            source.unlink()
        print(f"  version {i}/{n} added by every tool", flush=True)
    for tool in tools:
        res = results[tool.name]
        res.total = tool.store_size()
    for _ in range(RESTORE_TRIALS):  # the disk's speed varies: best of a few, interleaved
        for tool in tools:
            res = results[tool.name]
            dest = tool.work.parent / f"restored-{tool.work.name}"
            seconds = tool.restore(1, dest)
            res.restore_s = min(res.restore_s or seconds, seconds)
            shutil.rmtree(dest, ignore_errors=True) if dest.is_dir() else dest.unlink(missing_ok=True)
    return list(results.values())


def best_first_add(make_tools, source: Path, scratch: Path, results: list[Result], trials: int) -> None:
    """Replace each result's first add by the best of `trials` adds into fresh, empty stores."""
    by_name = {r.tool: r for r in results}
    for trial in range(trials):
        root = scratch / f"trial-{trial}"
        for tool in make_tools(root):
            seconds, rss = tool.add(source, 1)
            res = by_name[tool.name]
            res.note(rss)
            res.first_s = min(res.first_s, seconds)
        shutil.rmtree(root)


def report(title: str, results: list[Result], size: int, per_version: bool) -> None:
    base = next(r for r in results if r.tool == "cp + fsync")
    print(f"\n{title}")
    head = f"  {'tool':<11} {'first add':>10} {'vs cp':>6} {'peak RSS':>9}"
    head += "  per-version adds (s, MB)" if per_version else f" {'next adds':>10} {'added/version':>15}"
    print(head + f" {'store total':>12} {'vs one':>7} {'restore v1':>10}")
    for r in results:
        line = f"  {r.tool:<11} {r.first_s:9.2f}s {r.first_s / base.first_s:5.2f}x {r.max_rss / MiB:7.0f}MB"
        if per_version:
            pairs = zip(r.next_s, r.added, strict=True)
            adds = ", ".join(f"{s:.2f}s/{a / 1e6:.1f}MB ({a / size:.1%})" for s, a in pairs)
            line += f"  [{adds}]"
        elif r.added:
            mean_added = sum(r.added) / len(r.added)
            line += (
                f" {sum(r.next_s) / len(r.next_s):9.2f}s {mean_added / 1e6:8.1f}MB {mean_added / size:5.1%}"
            )
        line += f" {r.total / 1e6:10.0f}MB {r.total / size:6.2f}x {r.restore_s:9.2f}s"
        print(line)


# --- data ---------------------------------------------------------------------------
def weights_versions(work: Path, size: int) -> list[Path]:
    import numpy as np

    rng = np.random.default_rng(1)
    n = size // 4
    values = rng.standard_normal(n, dtype=np.float32) * 0.02
    paths = [work / "weights-v1.bin", work / "weights-v2.bin", work / "weights-v3.bin"]
    values.tofile(paths[0])
    region = (5 * MiB // 2) // 4
    for start in rng.choice(n - region, max(1, int(n * 0.02 / region)), replace=False):
        values[start : start + region] += rng.standard_normal(region, dtype=np.float32) * 1e-3
    values.tofile(paths[1])
    start = n // 3
    values[start : start + n // 10] = rng.standard_normal(n // 10, dtype=np.float32) * 0.02
    values.tofile(paths[2])
    return paths


class CsvVersions:
    """A CSV that grows by 1 % of its rows per version, with a few rows edited each time."""

    def __init__(self, work: Path, size: int) -> None:
        self.work = work
        self.rng = random.Random(2)
        self.rows: list[bytes] = []
        total = 0
        while total < size:
            row = self._row(len(self.rows))
            self.rows.append(row)
            total += len(row)
        self.header = b"id,timestamp,user,amount,category,comment\n"

    def _row(self, i: int) -> bytes:
        r = self.rng
        words = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
        day = f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        when = f"{day}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}"
        return (
            f"{i},{when},user{r.randint(1, 50000)},{r.uniform(1, 5000):.2f},{r.choice(words)},"
            f"{' '.join(r.choice(words) for _ in range(3))}\n"
        ).encode()

    def make(self, version: int) -> Path:
        if version > 1:
            for _ in range(max(1, len(self.rows) // 100)):
                self.rows.append(self._row(len(self.rows)))
            for _ in range(5):
                i = self.rng.randrange(len(self.rows))
                self.rows[i] = self._row(i)
        path = self.work / f"data-v{version}.csv"
        with open(path, "wb") as f:
            f.write(self.header)
            f.writelines(self.rows)
        return path


def small_files(work: Path, count: int) -> Path:
    root = work / "small"
    rng = random.Random(3)
    for i in range(count):
        folder = root / f"{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"{i:06d}.txt").write_bytes(rng.randbytes(rng.randint(2000, 6000)))
    return root


# --- chunk-size sweep ---------------------------------------------------------------------
def sweep(paths: list[Path], csv: CsvVersions | None) -> None:
    import blake3
    from pyfastcdc import FastCDC

    print("\nChunk size sweep (pyfastcdc average parameter; mean chunk = avg + min):")
    columns = ("chunks/GiB", "cut+hash", "w v2 new", "w v3 new", "csv v2 new")
    print(f"  {'avg':>6} {'mean':>7} " + " ".join(f"{c:>10}" for c in columns))
    data = [p.read_bytes() for p in paths]
    csv_pair = None
    if csv is not None:
        first = csv.make(1).read_bytes()
        second = csv.make(2).read_bytes()
        csv_pair = (first, second)
    for avg in (16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20):
        cutter = FastCDC(avg)

        def ids(buf: bytes, cutter: FastCDC = cutter) -> dict[bytes, int]:
            return {blake3.blake3(c.data).digest(): c.length for c in cutter.cut_buf(buf)}

        start = time.perf_counter()
        v1 = ids(data[0])
        speed = len(data[0]) / (time.perf_counter() - start) / 1e9
        new = []
        for later in data[1:]:
            found = ids(later)
            new.append(sum(n for k, n in found.items() if k not in v1) / len(later))
        csv_new = ""
        if csv_pair:
            old = ids(csv_pair[0])
            found = ids(csv_pair[1])
            csv_new = f"{sum(n for k, n in found.items() if k not in old) / len(csv_pair[1]):9.2%}"
        mean = len(data[0]) / len(v1)
        print(
            f"  {avg >> 10:>5}K {mean / 1024:6.0f}K {(1 << 30) / mean:10.0f} {speed:6.2f}GB/s "
            f"{new[0]:10.2%} {new[1] if len(new) > 1 else 0:10.2%} {csv_new:>10}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights-mib", type=int, default=1024)
    ap.add_argument("--csv-mb", type=int, default=200)
    ap.add_argument("--csv-versions", type=int, default=50)
    ap.add_argument("--small-files", type=int, default=100_000)
    ap.add_argument("--only", default="weights,csv,small,sweep")
    ap.add_argument("--dvc", default=None, help="path to a dvc executable")
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="pacha-bench-storage-", dir=args.dir))
    dvc = find_dvc(args.dvc) if parts - {"sweep"} else None
    lfs = has_git_lfs()
    print(f"Scratch: {work}; dvc: {dvc or 'absent'}; git lfs: {'yes' if lfs else 'absent'}")
    try:
        weights = None
        if parts & {"weights", "sweep"}:
            weights = weights_versions(work, args.weights_mib * MiB)
        if "weights" in parts:
            print(
                f"\nWeights: {args.weights_mib} MiB float32; v2: 2 % changed, scattered; v3: +10 % contiguous"
            )

            def weight_tools(root: Path) -> list[Tool]:
                tools: list[Tool] = [Cp(root), Pacha(root, "model")]
                tools += [Dvc(root, dvc)] if dvc else []
                return tools + ([Git(root, lfs=True)] if lfs else [])

            results = measure(weight_tools(work / "w"), weights)
            best_first_add(weight_tools, weights[0], work, results, trials=2)
            report(
                "Weights (first add: best of 3, each into an empty store)",
                results,
                args.weights_mib * MiB,
                True,
            )
            shutil.rmtree(work / "w")
        if "csv" in parts:
            print(f"\nCSV: {args.csv_mb} MB, {args.csv_versions} versions (+1 % rows, 5 rows edited each)")
            csv = CsvVersions(work, args.csv_mb * 1_000_000)
            tools = [Cp(work / "c"), Pacha(work / "c", "data")]
            tools += [Dvc(work / "c", dvc)] if dvc else []
            tools += [Git(work / "c", lfs=True)] if lfs else []
            tools += [Git(work / "c")]
            results = measure(tools, None, csv.make, args.csv_versions)
            report("CSV", results, args.csv_mb * 1_000_000, per_version=False)
            git_dir = next(t for t in tools if t.name == "git add").work
            start = time.perf_counter()
            quiet(["git", "gc", "-q"], cwd=git_dir)
            packed = du(git_dir / ".git") / 1e6
            print(f"  (git gc afterwards: {time.perf_counter() - start:.1f}s, .git {packed:.0f}MB)")
            shutil.rmtree(work / "c")
        if "small" in parts:
            print(f"\nSmall files: {args.small_files} files of 2-6 KiB")
            folder = small_files(work, args.small_files)
            tools = [Cp(work / "s"), Pacha(work / "s", "data")]
            tools += [Dvc(work / "s", dvc)] if dvc else []
            tools += [Git(work / "s")]
            results = measure(tools, [folder])
            report("Small files", results, du(folder), per_version=False)
            shutil.rmtree(work / "s")
        if "sweep" in parts and weights is not None:
            sweep(weights, CsvVersions(work, args.csv_mb * 1_000_000) if "csv" in parts else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
