"""Interrupted operations are completed or cleaned up by the next maintenance command,
fsck lists what is left as warnings, count-objects counts it (issue 12.4); gc never
removes a live writer's temp file (issue 12.6). Crashes are real SIGKILLs at named
points (PACHA_CRASH_AT, pacha.crash)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pacha
from pacha.store.midx import MIDX_AFTER, MIDX_NAME
from pacha.store.tmpfile import TempFile, owner_alive, temp_path


def crash(cli, point: str, *args: str | Path):
    """Run a command that SIGKILLs itself at point; it must have died there."""
    result = cli(*args, ok=False, env={**cli.env, "PACHA_CRASH_AT": point})
    assert result.code == -signal.SIGKILL, (result.code, result.err)
    return result


def counts(cli) -> dict[str, str]:
    return dict(line.split(": ") for line in cli("count-objects", "-v").lines)


def many_packs(cli, tmp_path: Path, n: int = MIDX_AFTER) -> None:
    for i in range(n):
        blob = tmp_path / f"b{i}"
        blob.write_bytes(f"object number {i} ".encode() * 50)
        oid = cli("hash-object", "-w", blob).text.strip()
        cli("pack-objects", input=oid + "\n")
        cli("write-ref", f"models/b{i}/1.0.0", oid)
    cli("multi-pack-index", "write")
    assert (cli.registry / "objects" / "pack" / MIDX_NAME).exists() == (n >= MIDX_AFTER)


def test_killed_repack_leaves_a_stale_midx_that_the_next_repack_rewrites(cli, tmp_path: Path) -> None:
    many_packs(cli, tmp_path)
    crash(cli, "repack-before-midx", "repack")
    check = cli("fsck")  # a leftover, not damage: exit 0
    assert "warning: multi-pack index" in check.err and "`pacha repack`" in check.err, check.err
    assert counts(cli)["stale-midx"] == "1"
    result = cli("repack")
    assert "rewrote the stale multi-pack index" in result.err
    assert counts(cli)["stale-midx"] == "0"
    assert "warning" not in cli("fsck").err


def test_killed_gc_leaves_a_stale_midx_that_the_next_gc_rewrites(cli, tmp_path: Path) -> None:
    many_packs(cli, tmp_path, MIDX_AFTER + 1)
    cli("delete-ref", "--expire", "models/b0/1.0.0")
    crash(cli, "gc-before-midx", "gc", "--prune", "now")
    assert "warning: multi-pack index" in cli("fsck").err
    cli("gc")
    assert counts(cli)["stale-midx"] == "0"
    assert "warning" not in cli("fsck").err


def test_killed_register_leaves_an_orphan_pack_that_gc_indexes(cli, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.txt").write_text(f"file {i}\n" * 100)
    crash(cli, "pack-before-index", "model", "register", "m", folder, "-v", "1.0.0")
    (orphan,) = (cli.registry / "objects" / "pack").glob("*.pack")
    assert not orphan.with_suffix(".idx").exists()
    check = cli("fsck")
    assert f"warning: pack {orphan} has no index" in check.err, check.err
    assert "warning: temp file" in check.err  # the index it was about to install
    found = counts(cli)
    assert found["orphan-packs"] == "1" and int(found["tmp-leftover"]) >= 1
    cli("gc")
    assert orphan.with_suffix(".idx").exists()  # indexed: its objects are judged like any other
    found = counts(cli)
    assert found["orphan-packs"] == "0" and found["tmp-leftover"] == "0" and found["tmp"] == "0"
    assert "warning" not in cli("fsck").err
    cli("model", "register", "m", folder, "-v", "1.0.0")  # the registration can simply be retried
    cli("fsck")


def test_killed_repack_leaves_an_orphan_pack_that_the_next_repack_indexes(cli, tmp_path: Path) -> None:
    many_packs(cli, tmp_path, 3)
    crash(cli, "pack-before-index", "repack")
    assert counts(cli)["orphan-packs"] == "1"
    result = cli("repack")
    assert "indexed 1 pack(s)" in result.err
    found = counts(cli)
    assert found["orphan-packs"] == "0" and found["packs"] == "1" and found["tmp"] == "0"
    cli("fsck")
    for i in range(3):
        assert cli("cat-object", "-e", f"models/b{i}/1.0.0").code == 0


def test_killed_download_leftover_is_cleared_by_the_next_download(cli, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w.bin").write_bytes(os.urandom(50_000))
    cli("model", "register", "m", folder, "-v", "1.0.0")
    out = tmp_path / "out"
    crash(cli, "checkout-before-rename", "model", "download", "m:1.0.0", "-o", out)
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.pacha-")]
    assert len(left) == 1 and not out.exists()
    live = temp_path(tmp_path, ".out.pacha")  # a download in progress (this process): kept
    live.mkdir()
    cli("model", "download", "m:1.0.0", "-o", out)
    assert (out / "w.bin").read_bytes() == (folder / "w.bin").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.pacha-")) == [live.name]
    (folder / "w.bin").write_bytes(os.urandom(50_000))
    cli("model", "register", "m", folder, "-v", "2.0.0")
    crash(cli, "checkout-before-rename", "model", "download", "m:2.0.0", "-o", out, "--force")
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".out.pacha-")]) == 2
    cli("model", "download", "m:2.0.0", "-o", out, "--force")
    assert (out / "w.bin").read_bytes() == (folder / "w.bin").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.pacha-")] == [live.name]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_gc_never_removes_a_live_writers_temp_file(cli) -> None:
    tmp = cli.registry / "tmp"
    live = TempFile(tmp, "pack")  # this process is writing it
    live.write(b"half a pack")
    dead = tmp / f"obj-{_dead_pid()}-12345-0011223344556677"
    dead.write_bytes(b"left by a killed writer")
    reused = tmp / f"obj-{os.getpid()}-1-8899aabbccddeeff"  # our pid, another start time: reused
    reused.write_bytes(b"left by a killed writer whose pid was reused")
    assert owner_alive(live.path.name) is True
    assert owner_alive(dead.name) is False and owner_alive(reused.name) is False
    assert "warning: temp file" in cli("fsck").err
    result = cli("gc")  # even without --prune: a dead writer's file is garbage at once
    assert "2 stale temp file(s)" in result.err
    cli("gc", "--prune", "now")
    assert live.path.exists() and not dead.exists() and not reused.exists()
    live.install(cli.registry / "elsewhere")  # the writer finishes undisturbed


def test_gc_beside_every_writer_never_breaks_one(cli, tmp_path: Path) -> None:
    """gc --prune now in a loop beside repack, hash-object -w, write-tree, pack-objects,
    unpack-objects and registrations: every command succeeds and fsck stays clean."""
    stop = threading.Event()
    failures: list[str] = []

    def collect() -> None:
        while not stop.is_set():
            result = cli("gc", "--prune", "now", "-q", ok=False)
            if result.code != 0:
                failures.append(f"gc: {result.err}")

    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "big.bin").write_bytes(os.urandom(24 << 20))  # every repack rewrites it: a long write
    thread = threading.Thread(target=collect)
    thread.start()
    try:
        for i in range(6):
            (folder / f"{i}.txt").write_text(f"round {i}\n" * 500)
            blob = tmp_path / f"blob{i}"
            blob.write_bytes(os.urandom(200_000))
            steps = [
                ("hash-object", "-w", blob),
                ("write-tree", folder),
                ("repack",),
                ("model", "register", "m", folder, "-v", f"1.0.{i}"),
                ("repack",),
            ]
            for args in steps:
                result = cli(*args, ok=False)
                if result.code != 0:
                    failures.append(f"{args[0]}: {result.err}")
            oid = cli("hash-object", "-w", blob).text.strip()
            result = cli("pack-objects", input=oid + "\n", ok=False)
            if result.code != 0 and "not found" not in result.err:  # gc may take it first: fine
                failures.append(f"pack-objects: {result.err}")
    finally:
        stop.set()
        thread.join()
    assert not failures, failures
    cli("fsck")
    for i in range(6):
        cli("model", "download", f"m:1.0.{i}", "-o", tmp_path / f"out{i}")
        assert (tmp_path / f"out{i}" / f"{i}.txt").read_text() == f"round {i}\n" * 500


def test_scan_lists_nothing_on_a_healthy_registry(cli, tmp_path: Path) -> None:
    from pacha.leftovers import scan

    many_packs(cli, tmp_path)
    assert scan(pacha.open_registry(cli.registry).objects) == []
