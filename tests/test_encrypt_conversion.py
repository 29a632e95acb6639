"""`pacha encrypt` converts a registry in place: killed at any point (named crash points, and
SIGKILL at random moments), every version stays readable, and a rerun finishes: then no
plaintext is left in objects/, fsck passes and downloads are byte-identical. The same for
`pacha key rotate --data`."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PACHA, Cli
from tests.test_encryption import MARKER, PASS, check_downloads, make_artifacts, register_all


def plain_registry(tmp_path: Path) -> tuple[Cli, dict[str, Path]]:
    cli = Cli(tmp_path / "registry", tmp_path)
    cli("init", "-q")
    art = make_artifacts(tmp_path)
    register_all(cli, art)
    small = tmp_path / "loose.bin"
    small.write_bytes(MARKER * 40 + bytes(range(256)) * 3)
    blob = cli("hash-object", "-w", small).text.strip()  # a loose object, never packed
    cli("write-ref", "keep/loose", blob, "--create")
    cli.env["PACHA_PASSPHRASE"] = PASS
    return cli, art


def objects_with_marker(root: Path) -> list[str]:
    return [str(p) for p in (root / "objects").rglob("*") if p.is_file() and MARKER in p.read_bytes()]


def finish_and_check(cli: Cli, art: dict[str, Path], tmp_path: Path, tag: str) -> None:
    cli("encrypt")
    assert objects_with_marker(cli.registry) == []
    result = cli("fsck")
    assert "unencrypted" not in result.text + result.err
    check_downloads(cli, art, tmp_path, tag)
    assert "0 loose object(s) and 0 packed" in cli("encrypt").text  # nothing left to do


@pytest.mark.parametrize(
    "point",
    ["encrypt-keyring-written", "encrypt-loose-replaced", "encrypt-pack-installed", "encrypt-before-midx"],
)
def test_encrypt_killed_at_a_crash_point_is_readable_and_a_rerun_finishes(tmp_path: Path, point: str) -> None:
    cli, art = plain_registry(tmp_path)
    assert objects_with_marker(cli.registry)
    result = cli("encrypt", env=dict(cli.env, PACHA_CRASH_AT=point), ok=False)
    assert result.code == -signal.SIGKILL
    check_downloads(cli, art, tmp_path, "killed")  # half converted: every version still reads
    if point != "encrypt-keyring-written":
        wrong = dict(cli.env, PACHA_PASSPHRASE="not the passphrase")
        cli.fails("encrypt", env=wrong, code=128)  # resuming checks the passphrase first
    finish_and_check(cli, art, tmp_path, "finished")


def test_encrypt_killed_at_random_moments_always_finishes(tmp_path: Path) -> None:
    cli, art = plain_registry(tmp_path)
    rng = random.Random(15)
    for attempt in range(4):
        proc = subprocess.Popen(
            [*PACHA, "encrypt"],
            env=cli.env,
            cwd=cli.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check_downloads(cli, art, tmp_path, f"random-{attempt}")
    finish_and_check(cli, art, tmp_path, "random-finished")


def test_rotate_data_killed_then_resumed(tmp_path: Path) -> None:
    cli, art = plain_registry(tmp_path)
    cli("encrypt")
    old_master = cli("key", "list").lines[0]
    for point in ("rotate-keyring-written", "encrypt-pack-installed"):
        result = cli("key", "rotate", "--data", env=dict(cli.env, PACHA_CRASH_AT=point), ok=False)
        assert result.code == -signal.SIGKILL
        assert "retiring" in cli("key", "list").lines[0]
        check_downloads(cli, art, tmp_path, f"rotating-{point}")
    cli("key", "rotate", "--data")
    listing = cli("key", "list").lines[0]
    assert "retiring" not in listing and listing != old_master
    cli("fsck")
    check_downloads(cli, art, tmp_path, "rotated")
