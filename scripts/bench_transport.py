#!/usr/bin/env python3
"""S3 client benchmark: boto3 against obstore, side by side, on the same data and server.

    python scripts/bench_transport.py [--small 2000] [--small-kib 4] [--packs 4] [--pack-mib 64]
                                      [--model-mib 256] [--jobs N]

Starts a real SeaweedFS (tests/seaweedfs.py) unless AWS_ENDPOINT_URL and credentials are
set, then measures through Pacha's two S3 backends (pacha/transport/s3_backend.py,
obstore_backend.py), each with the same number of parallel requests:
- many small objects: PUT then GET of --small objects of --small-kib KiB each;
- large packs: upload of --packs files of --pack-mib MiB (multipart), then download by
  8 MiB ranged GETs (how fetch reads packs);
- end to end: push then fetch of a --model-mib MiB random file registered in a registry.
Also: obstore's own async API for the small objects (its fastest way), and the import time
of each client (it adds to every push/fetch command's start-up).
The figures and the choice are written in docs/remotes.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pacha.transport.remote import open_remote  # noqa: E402

CLIENTS = ("boto3", "obstore")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def parallel(jobs: int, fn: Callable[[int], object], n: int) -> None:
    with ThreadPoolExecutor(jobs) as pool:
        for _ in pool.map(fn, range(n)):
            pass


def bench_small(url: str, client: str, jobs: int, count: int, size: int) -> tuple[float, float]:
    backend = open_remote(url, jobs=jobs, client=client).backend
    blobs = [os.urandom(size) for _ in range(count)]
    put = timed(lambda: parallel(jobs, lambda i: backend.put(f"small/{i:06d}", blobs[i]), count))
    got: list[bytes] = [b""] * count

    def get(i: int) -> None:
        got[i] = backend.get(f"small/{i:06d}")[0]

    read = timed(lambda: parallel(jobs, get, count))
    assert got == blobs
    return put, read


def bench_small_async(url: str, jobs: int, count: int, size: int) -> tuple[float, float]:
    import asyncio

    import obstore

    backend = open_remote(url, jobs=jobs, client="obstore").backend
    store = backend.store  # type: ignore[attr-defined]
    blobs = [os.urandom(size) for _ in range(count)]

    async def run(op: Callable[[int], object]) -> None:
        gate = asyncio.Semaphore(jobs)

        async def one(i: int) -> None:
            async with gate:
                await op(i)  # type: ignore[misc]

        await asyncio.gather(*(one(i) for i in range(count)))

    async def get(i: int) -> None:
        reply = await obstore.get_async(store, f"asmall/{i:06d}")
        await reply.bytes_async()

    put = timed(lambda: asyncio.run(run(lambda i: obstore.put_async(store, f"asmall/{i:06d}", blobs[i]))))
    read = timed(lambda: asyncio.run(run(get)))
    return put, read


def put_file(backend, key: str, path: Path) -> None:
    """A file up in parts (PART_SIZE), as a push sends a large pack."""
    from pacha.transport.backend import PART_SIZE

    upload = backend.start_upload(key, PART_SIZE, resume=False)
    etags = []
    with open(path, "rb") as f:
        while part := f.read(PART_SIZE):
            etags.append(upload.put_part(len(etags) + 1, part))
    upload.complete(etags)


def bench_packs(url: str, client: str, jobs: int, files: list[Path]) -> tuple[float, float]:
    backend = open_remote(url, jobs=jobs, client=client).backend
    put = timed(lambda: parallel(jobs, lambda i: put_file(backend, f"packs/{i}.pack", files[i]), len(files)))
    size = files[0].stat().st_size
    ranges = [(i, start) for i in range(len(files)) for start in range(0, size, 8 << 20)]

    def get(k: int) -> None:
        i, start = ranges[k]
        backend.get_range(f"packs/{i}.pack", start, 8 << 20)

    read = timed(lambda: parallel(jobs, get, len(ranges)))
    return put, read


def bench_model(url: str, client: str, jobs: int, model: Path, work: Path) -> tuple[float, float]:
    from pacha.registry import init_registry
    from pacha.transport.fetch import fetch
    from pacha.transport.push import RefUpdate, push

    source, _ = init_registry(work / f"src-{client}")
    blob = source.objects.put_file(model)
    with source.transaction("bench") as tx:
        tx.create("models/bench/1", blob)
    remote = open_remote(url, jobs=jobs, client=client)
    sent = timed(lambda: push(source, remote, [RefUpdate("models/bench/1", blob, None)]))
    dest, _ = init_registry(work / f"dst-{client}")
    got = timed(lambda: fetch(dest, open_remote(url, jobs=jobs, client=client), "origin"))
    return sent, got


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--small-kib", type=int, default=4)
    parser.add_argument("--packs", type=int, default=4)
    parser.add_argument("--pack-mib", type=int, default=64)
    parser.add_argument("--model-mib", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    from pacha.transport.backend import default_jobs

    jobs = args.jobs or default_jobs()
    work = Path(tempfile.mkdtemp(prefix="bench-transport-"))
    proc = None
    try:
        if not os.environ.get("AWS_ENDPOINT_URL"):
            from tests.seaweedfs import start_weed

            proc, server = start_weed(work / "weed")
            os.environ.update(server.env())
        import boto3

        s3 = boto3.client("s3")
        buckets = {c: f"bench-{c}-{os.getpid()}" for c in CLIENTS}
        for bucket in buckets.values():
            s3.create_bucket(Bucket=bucket)
        files = []
        for i in range(args.packs):
            path = work / f"pack{i}"
            path.write_bytes(os.urandom(args.pack_mib << 20))
            files.append(path)
        model = work / "model.bin"
        model.write_bytes(os.urandom(args.model_mib << 20))
        small_mb = args.small * args.small_kib / 1024
        packs_mb = args.packs * args.pack_mib
        print(f"jobs={jobs}; small: {args.small} x {args.small_kib} KiB; "
              f"packs: {args.packs} x {args.pack_mib} MiB; model: {args.model_mib} MiB")  # fmt: skip
        print(f"{'':34}{'boto3':>14}{'obstore':>14}")
        rows: dict[str, dict[str, str]] = {}
        for client in CLIENTS:
            url = f"s3://{buckets[client]}/bench"
            put, get = bench_small(url, client, jobs, args.small, args.small_kib << 10)
            rows.setdefault("small PUT (objects/s)", {})[client] = f"{args.small / put:,.0f}"
            rows.setdefault("small GET (objects/s)", {})[client] = f"{args.small / get:,.0f}"
            put, get = bench_packs(url, client, jobs, files)
            rows.setdefault("pack upload (MB/s)", {})[client] = f"{packs_mb / put:,.0f}"
            rows.setdefault("pack ranged download (MB/s)", {})[client] = f"{packs_mb / get:,.0f}"
            sent, got = bench_model(url, client, jobs, model, work)
            rows.setdefault(f"push {args.model_mib} MiB model (s)", {})[client] = f"{sent:.2f}"
            rows.setdefault(f"fetch {args.model_mib} MiB model (s)", {})[client] = f"{got:.2f}"
            rows.setdefault("import time (ms)", {})[client] = f"{1000 * import_time(client):.0f}"
        for name, values in rows.items():
            print(f"{name:34}{values['boto3']:>14}{values['obstore']:>14}")
        put, get = bench_small_async(
            f"s3://{buckets['obstore']}/bench", jobs, args.small, args.small_kib << 10
        )
        print(f"obstore async API, small: PUT {args.small / put:,.0f} objects/s, "
              f"GET {args.small / get:,.0f} objects/s ({small_mb:.1f} MB)")  # fmt: skip
    finally:
        if proc is not None:
            from tests.seaweedfs import stop_weed

            stop_weed(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
