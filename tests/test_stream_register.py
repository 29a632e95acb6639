"""A stream (`-` or a pipe) registers as a file does (issue 11 item 2).

Registered with --name, its size, schema and card facts come from its bytes; a
terminal, a FIFO on disk or a missing --name are refused in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pacha.blocks import BLOCK
from tests.conftest import PACHA
from tests.conftest import snapshot as registry_snapshot
from tests.test_ingest_snapshot import SMALL, _content


def _run(cli, args: list[str], stdin) -> subprocess.CompletedProcess[bytes]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*PACHA, *args], stdin=stdin, capture_output=True, env=cli.env, cwd=cli.cwd, timeout=120
    )


def _record(cli, ref: str, kind: str = "model") -> dict:  # type: ignore[no-untyped-def,type-arg]
    return json.loads(cli(kind, "get", ref, "--json").text)["record"]


@pytest.mark.parametrize("size", [0, 5, SMALL + 3, BLOCK + 5])
def test_model_from_a_real_pipe_on_stdin(cli, tmp_path: Path, size: int) -> None:
    data = _content(size)[:size]
    feeder = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert feeder.stdin is not None
    proc = subprocess.Popen(
        [*PACHA, "model", "register", "m", "-", "--name", "model.bin", "-v", "1.0.0"],
        stdin=feeder.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.env,
        cwd=cli.cwd,
    )
    feeder.stdout.close()  # type: ignore[union-attr]
    feeder.stdin.write(data)
    feeder.stdin.close()
    _out, err = proc.communicate(timeout=120)
    feeder.wait()
    assert proc.returncode == 0, err
    record = _record(cli, "m:1.0.0")
    assert record["size"] == size and record["filename"] == "model.bin"
    cli("model", "download", "m:1.0.0", "-o", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data
    assert list((cli.registry / "tmp").iterdir()) == []  # the spooled copy is gone


def test_model_from_process_substitution(cli, tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(_content(70_000)[:70_000])
    # bash hands the command a /dev/fd/N path to a pipe, as a user's shell does
    cmd = [
        "bash",
        "-c",
        'exec "$@" m <(cat model.bin) --name model.bin -v 1.0.0',
        "bash",
        *PACHA,
        "model",
        "register",
    ]
    done = subprocess.run(cmd, capture_output=True, env=cli.env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    record = _record(cli, "m:1.0.0")
    assert record["size"] == 70_000 and record["filename"] == "model.bin"
    direct = cli("hash-object", tmp_path / "model.bin").text.strip()
    assert record["artifact"] == direct
    # without --name: one line, exit 2, nothing written
    before = registry_snapshot(cli.registry)
    cmd = ["bash", "-c", 'exec "$@" n <(cat model.bin) -v 1.0.0', "bash", *PACHA, "model", "register"]
    done = subprocess.run(cmd, capture_output=True, env=cli.env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert b"needs --name FILENAME" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert registry_snapshot(cli.registry) == before


def test_dataset_from_stdin_keeps_its_schema_and_row_count(cli, tmp_path: Path) -> None:
    csv = b"id,amount,label\n1,2.5,a\n2,NA,b\n3,4.0,c\n"
    (tmp_path / "data.csv").write_bytes(csv)
    cli("data", "register", "direct", tmp_path / "data.csv", "-v", "1.0.0")
    with open(tmp_path / "data.csv", "rb") as f:
        done = _run(cli, ["data", "register", "piped", "-", "--name", "data.csv", "-v", "1.0.0"], f)
    assert done.returncode == 0, done.stderr
    direct, piped = _record(cli, "direct:1.0.0", "data"), _record(cli, "piped:1.0.0", "data")
    assert piped["card"] == direct["card"] and "feature_schema" in piped["card"]
    assert (piped["size"], piped["filename"], piped["artifact"]) == (len(csv), "data.csv", direct["artifact"])


def test_weights_header_from_a_pipe(cli, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((4, 3), dtype=np.float32)}, str(tmp_path / "m.safetensors"))
    cli("model", "register", "direct", tmp_path / "m.safetensors", "-v", "1.0.0")
    with open(tmp_path / "m.safetensors", "rb") as f:
        done = _run(cli, ["model", "register", "piped", "-", "--name", "m.safetensors", "-v", "1.0.0"], f)
    assert done.returncode == 0, done.stderr
    direct, piped = _record(cli, "direct:1.0.0"), _record(cli, "piped:1.0.0")
    assert piped["card"]["weights"] == direct["card"]["weights"]
    assert piped["card"]["weights"]["parameter_count"] == 12


def test_stdin_needs_a_name_and_a_pipe(cli, tmp_path: Path) -> None:
    import pty

    before = registry_snapshot(cli.registry)
    failed = cli.fails("model", "register", "m", "-", "-v", "1.0.0", code=2)
    assert "reading standard input needs --name FILENAME" in failed.err
    for bad in ["../x", "a/b", ".", ""]:
        failed = cli.fails("model", "register", "m", "-", "--name", bad, "-v", "1.0.0", input=b"x")
        assert "is not a file name" in failed.err
    main, side = pty.openpty()
    try:
        done = _run(cli, ["model", "register", "m", "-", "--name", "m.bin", "-v", "1.0.0"], side)
    finally:
        os.close(main)
        os.close(side)
    assert done.returncode != 0 and b"standard input is a terminal" in done.stderr
    assert registry_snapshot(cli.registry) == before


def test_name_renames_a_regular_file_and_a_fifo_on_disk_is_refused(cli, tmp_path: Path) -> None:
    (tmp_path / "out.bin").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "out.bin", "--name", "model.bin", "-v", "1.0.0")
    assert _record(cli, "m:1.0.0")["filename"] == "model.bin"
    os.mkfifo(tmp_path / "fifo")
    failed = cli.fails("model", "register", "f", tmp_path / "fifo", "-v", "1.0.0")
    assert "not a regular file or directory" in failed.err
