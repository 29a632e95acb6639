"""A wrong file or place given to the sealed-file and clone commands (issue 15, attacked as a new
user): one line naming what the user gave and what is wrong with it, never a temporary file's
name, Git's exit codes, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert ".pacha-" not in lines[0], lines[0]  # a temp file beside the destination
    return lines[0]


@pytest.fixture
def sealed(cli: Cli, tmp_path: Path) -> tuple[Path, Path]:
    """A sealed file for alice (her identity, and the file)."""
    identity = tmp_path / "alice"
    cli("key", "generate", identity)
    (tmp_path / "m.bin").write_bytes(b"weights" * 100)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    out = tmp_path / "m.sealed"
    cli("model", "download", "m:1.0.0", "--encrypt", "--recipient", f"{identity}.pub", "-o", out)
    return identity, out


@pytest.mark.parametrize("below", ["file", "missing"])
def test_a_sealed_file_written_below_a_file_or_a_missing_directory_names_it(
    cli: Cli, tmp_path: Path, sealed: tuple[Path, Path], below: str
) -> None:
    identity, path = sealed
    (tmp_path / "file").write_text("x")
    dest = tmp_path / below / "out.bin"
    want = "file is a file, not a directory" if below == "file" else "missing does not exist"
    for args in (
        ("decrypt", path, "--identity", identity, "-o", dest),
        ("model", "download", "m:1.0.0", "--encrypt", "--recipient", f"{identity}.pub", "-o", dest),
        ("model", "download", "m:1.0.0", "-o", dest),
    ):
        line = _one_line(cli.fails(*args, code=128).err)
        assert f"cannot write {dest}" in line and want in line, line
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_decrypt_of_a_file_that_is_not_sealed_says_so_not_truncated(
    cli: Cli, tmp_path: Path, sealed: tuple[Path, Path]
) -> None:
    identity, path = sealed
    cases = {b"hi\n": "no PACHAENC magic", b"": "it is empty", path.read_bytes()[:5]: "truncated",
             path.read_bytes()[:20]: "truncated"}  # fmt: skip
    for data, want in cases.items():
        given = tmp_path / "given"
        given.write_bytes(data)
        line = _one_line(cli.fails("decrypt", given, "--identity", identity, "-o", tmp_path / "o").err)
        assert line.startswith(f"fatal: {given} is") and want in line, line
        assert not (tmp_path / "o").exists()


def test_clone_of_a_file_or_of_a_registry_says_what_it_is(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    cli("model", "register", "m", tmp_path / "file.txt", "-v", "1.0.0")
    new = tmp_path / "new"
    for url, want in (
        (tmp_path / "file.txt", f"is not a directory ({tmp_path / 'file.txt'} is a file)"),
        (tmp_path / "file.txt" / "sub", f"is not a directory ({tmp_path / 'file.txt'} is a file)"),
        (cli.registry, "is a registry, not a remote"),
    ):
        line = _one_line(cli.fails("clone", url, new, code=128).err)
        assert line.startswith(f"fatal: remote {url} ") and want in line, line
        assert not new.exists()
