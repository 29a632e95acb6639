#!/usr/bin/env python3
"""Plumbing benchmark: Pacha side by side with b3sum, git and cp, in one run.

    python scripts/bench_plumbing.py [--size-gib 1] [--big-gib 0] [--ids 100000]

Prints, on the same data:
- hashing a file: pacha hash-object vs b3sum vs git hash-object
- storing it: pacha hash-object -w vs cp (and cp + fsync, since pacha fsyncs)
- cold start: pacha cat-object -t vs python3 -c pass vs git cat-file -t
- cat-object --batch-check throughput vs git cat-file --batch-check
- the same over many packs (--packs, half the ids missing), with and without the
  multi-pack index, vs git with and without its multi-pack-index
- peak RSS of each pacha run (and of a --big-gib file, e.g. 4, if asked)
Targets (issue 2): hash <= 1.5x b3sum; store <= 2x cp; cold start <= 6x python;
batch-check >= 50k ids/s; storing stays under 200 MB peak RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import timed_with_rss

PACHA = shutil.which("pacha") or sys.exit("pacha is not on PATH: run inside the project's venv")
MiB = 1 << 20


def best(cmd: list[str], repeat: int = 3, setup=None, **kw) -> tuple[float, int, bytes]:
    results = []
    for _ in range(repeat):
        if setup:
            setup()
        results.append(timed_with_rss(cmd, **kw))
    return min(results, key=lambda r: r[0])


def median_ms(cmd: list[str], n: int = 40, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def make_file(path: Path, size: int) -> None:
    rng = random.Random(1)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 * MiB)
            f.write(rng.randbytes(n))
            left -= n


def many_packs(work: Path, env: dict[str, str], git: str | None, packs: int, per_pack: int, n: int) -> None:
    """--batch-check of n ids, half of them missing, over `packs` packs: a miss searches
    every pack unless a multi-pack index says which pack holds what."""
    import hashlib

    import pacha

    print(f"\ncat-object --batch-check over {packs} packs of {per_pack:,} objects, {n:,} ids (half missing):")
    root = work / "many"
    subprocess.run([PACHA, "--registry", str(root), "init", "-q"], env=env, check=True)
    store = pacha.open_registry(root).objects
    contents = [[f"pack {p} object {i}\n".encode() for i in range(per_pack)] for p in range(packs)]
    for group in contents:
        with store.batch():
            for c in group:
                store.put_bytes(c)
    rng = random.Random(3)
    flat = [c for group in contents for c in group]
    present = [rng.choice(flat) for _ in range(n // 2)]
    missing = [f"missing {i}\n".encode() for i in range(n - n // 2)]
    query = [*present, *missing]
    rng.shuffle(query)
    pquery = "".join(pacha.hash_bytes(c) + "\n" for c in query).encode()
    many_env = {**env, "PACHA_DIR": str(root)}
    for label in ("without multi-pack index", "with multi-pack index"):
        if label.startswith("with "):
            write = [PACHA, "multi-pack-index", "write"]
            subprocess.run(write, env=many_env, check=True, capture_output=True)
        t, _, out = best([PACHA, "cat-object", "--batch-check"], stdin_data=pquery, env=many_env)
        assert out.count(b"missing") == len(missing)
        print(f"  {'pacha ' + label:<38} {t * 1000:9.1f} ms  {n / t:10,.0f} ids/s")
    if not git:
        return
    repo = work / "many-git"
    subprocess.run([git, "init", "-q", str(repo)], check=True)
    for group in contents:  # one fast-import, one pack
        stream = b"".join(b"blob\ndata %d\n%s\n" % (len(c), c) for c in group)
        subprocess.run([git, "-C", str(repo), "fast-import", "--quiet"], input=stream, check=True)

    def git_id(c: bytes) -> bytes:
        return hashlib.sha1(b"blob %d\0" % len(c) + c).hexdigest().encode()

    gquery = b"".join(git_id(c) + b"\n" for c in query)
    for label in ("without multi-pack-index", "with multi-pack-index"):
        if label.startswith("with "):
            subprocess.run([git, "-C", str(repo), "multi-pack-index", "write"], check=True)
        t, _, out = best([git, "-C", str(repo), "cat-file", "--batch-check"], stdin_data=gquery)
        assert out.count(b"missing") == len(missing)
        print(f"  {'git ' + label:<38} {t * 1000:9.1f} ms  {n / t:10,.0f} ids/s")


def row(label: str, seconds: float, base: float, size: int | None = None, rss: int | None = None) -> None:
    speed = f"{size / seconds / 1e9:6.2f} GB/s" if size else " " * 11
    mem = f"{rss / MiB:7.0f} MiB RSS" if rss else ""
    print(f"  {label:<38} {seconds * 1000:9.1f} ms  {speed}  {seconds / base:5.2f}x  {mem}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-gib", type=float, default=1.0)
    ap.add_argument("--big-gib", type=float, default=0.0, help="also store a file this large (RSS check)")
    ap.add_argument("--ids", type=int, default=100_000, help="ids queried by --batch-check")
    ap.add_argument("--distinct", type=int, default=10_000, help="distinct objects behind those ids")
    ap.add_argument("--packs", type=int, default=100, help="packs for the many-packs lookup test")
    ap.add_argument("--per-pack", type=int, default=2000, help="objects in each of those packs")
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pacha-bench-", dir=args.dir))
    # As a user runs it: bytecode cached (a session may set PYTHONDONTWRITEBYTECODE).
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PACHA_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["PACHA_DIR"] = str(work / "registry")
    try:
        subprocess.run([PACHA, "init", "-q"], env=env, check=True)
        size = int(args.size_gib * (1 << 30))
        data = work / "weights.bin"
        print(f"Scratch: {work}; file: {size / (1 << 30):.2f} GiB of random bytes")
        make_file(data, size)
        b3sum, git = shutil.which("b3sum"), shutil.which("git")

        print("\nHashing (warm page cache, best of 3), ratio to b3sum:")
        if b3sum:
            t_b3, _, out_b3 = best([b3sum, "--no-names", str(data)])
        t_pa, rss, out_pa = best([PACHA, "hash-object", str(data)], env=env)
        base = t_b3 if b3sum else t_pa
        if b3sum:
            assert out_b3.split()[0] == out_pa.strip(), "pacha and b3sum disagree"
            row("b3sum", t_b3, base, size)
        else:
            print("  b3sum: not installed (apt-get install b3sum)")
        row("pacha hash-object", t_pa, base, size, rss)
        if git:
            t_git, _, _ = best([git, "hash-object", str(data)], repeat=1)
            row("git hash-object", t_git, base, size)
            t_git4, _, _ = best([git, "-c", "core.bigFileThreshold=4g", "hash-object", str(data)], repeat=1)
            row("git hash-object (bigFileThreshold=4g)", t_git4, base, size)

        print("\nStoring (best of 3; each run into an empty target), ratio to cp:")
        copy = work / "copy.bin"

        def clean_copy() -> None:
            copy.unlink(missing_ok=True)

        def clean_store() -> None:
            shutil.rmtree(work / "registry" / "objects", ignore_errors=True)
            (work / "registry" / "objects").mkdir()

        t_cp, _, _ = best(["cp", str(data), str(copy)], setup=clean_copy)
        t_cps, _, _ = best(["sh", "-c", f"cp '{data}' '{copy}' && sync '{copy}'"], setup=clean_copy)
        t_w, rss_w, _ = best([PACHA, "hash-object", "-w", str(data)], setup=clean_store, env=env)
        clean_copy()
        row("cp", t_cp, t_cp, size)
        row("cp + fsync", t_cps, t_cp, size)
        row("pacha hash-object -w (zstd, fsync)", t_w, t_cp, size, rss_w)

        if args.big_gib:
            big = work / "big.bin"
            big_size = int(args.big_gib * (1 << 30))
            make_file(big, big_size)
            clean_store()
            t_big, rss_big, _ = timed_with_rss([PACHA, "hash-object", "-w", str(big)], env=env)
            print(
                f"\nStoring {args.big_gib:g} GiB: {t_big:.1f} s, peak RSS {rss_big / MiB:.0f} MiB "
                f"(target < 200 MB)"
            )
            big.unlink()
            clean_store()

        print("\nCold start (median of 40 runs), ratio to python3 -c pass:")
        blob = (
            subprocess.run(
                [PACHA, "hash-object", "-w", "--stdin"],
                input=b"tiny",
                env=env,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
        subprocess.run([PACHA, "cat-object", "-t", blob], env=env, check=True, capture_output=True)
        py = median_ms([sys.executable, "-c", "pass"])
        pa = median_ms([PACHA, "cat-object", "-t", blob], env=env)
        print(f"  {'python3 -c pass':<38} {py:9.1f} ms  {1.0:5.2f}x")
        print(f"  {'pacha cat-object -t':<38} {pa:9.1f} ms  {pa / py:5.2f}x")
        if git:
            repo = work / "gitrepo"
            subprocess.run([git, "init", "-q", str(repo)], check=True)
            gid = (
                subprocess.run(
                    [git, "-C", str(repo), "hash-object", "-w", "--stdin"],
                    input=b"tiny",
                    capture_output=True,
                    check=True,
                )
                .stdout.decode()
                .strip()
            )
            gt = median_ms([git, "-C", str(repo), "cat-file", "-t", gid])
            print(f"  {'git cat-file -t':<38} {gt:9.1f} ms  {gt / py:5.2f}x")

        print(f"\ncat-object --batch-check: {args.ids:,} ids over {args.distinct:,} distinct objects:")
        import pacha

        reg = pacha.open_registry(work / "registry")
        contents = [f"object number {i}\n".encode() for i in range(args.distinct)]
        ids = [reg.objects.put_bytes(c) for c in contents]
        rng = random.Random(2)
        query = "".join(rng.choice(ids) + "\n" for _ in range(args.ids)).encode()
        t_batch, rss_b, out = timed_with_rss(
            [PACHA, "cat-object", "--batch-check"], stdin_data=query, env=env
        )
        assert out.count(b"\n") == args.ids and b"missing" not in out
        print(
            f"  {'pacha cat-object --batch-check':<38} {t_batch * 1000:9.1f} ms  "
            f"{args.ids / t_batch:10,.0f} ids/s  {rss_b / MiB:5.0f} MiB RSS"
        )
        if git:
            paths = work / "paths.txt"
            files = work / "gitfiles"
            files.mkdir()
            for i, c in enumerate(contents):
                (files / str(i)).write_bytes(c)
            paths.write_text("".join(f"{files / str(i)}\n" for i in range(args.distinct)))
            with open(paths) as path_list:
                gids = subprocess.run(
                    [git, "-C", str(repo), "hash-object", "-w", "--stdin-paths"],
                    stdin=path_list,
                    capture_output=True,
                    check=True,
                ).stdout.split()
            gquery = b"".join(rng.choice(gids) + b"\n" for _ in range(args.ids))
            t_g, _, _ = timed_with_rss([git, "-C", str(repo), "cat-file", "--batch-check"], stdin_data=gquery)
            print(f"  {'git cat-file --batch-check':<38} {t_g * 1000:9.1f} ms  {args.ids / t_g:10,.0f} ids/s")
        many_packs(work, env, git, args.packs, args.per_pack, args.ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
