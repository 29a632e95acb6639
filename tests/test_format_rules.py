"""Pacha keeps the rules docs/format.md states for versions and reserved bytes.

"Versions": a reader refuses a version it does not know, saying which it found and which
it reads; "Reserved bytes": bytes 5-7 of a pack, a pack index and the multi-pack index are
zero, and a file where they are not is refused and set aside like a damaged one, so that
everything stored elsewhere is still served. Checked through the `pacha` command.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Cli

PACKS = 8  # enough for a multi-pack index


def _set_byte(path: Path, offset: int, value: int) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] = value
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """PACKS packs of one folder each (a file, its tree) and a multi-pack index over them;
    returns the registry and the files' ids."""
    tmp = tmp_path_factory.mktemp("rules")
    cli = Cli(tmp / "registry", tmp)
    cli("init", "-q")
    files = []
    for k in range(PACKS):
        folder = tmp / f"folder{k}"
        folder.mkdir()
        (folder / "file.txt").write_text(f"file {k}\n")
        cli("write-tree", folder)
        files.append(cli("hash-object", folder / "file.txt").text.strip())
    cli("multi-pack-index", "write")
    return cli.registry, files


def _registry(pristine: tuple[Path, list[str]], tmp_path: Path) -> tuple[Cli, list[str], Path]:
    """A copy of the pristine registry: its command runner, the files' ids, its first pack."""
    shutil.copytree(pristine[0], tmp_path / "registry", symlinks=True)
    cli = Cli(tmp_path / "registry", tmp_path)
    return cli, pristine[1], min((cli.registry / "objects" / "pack").glob("*.pack"))


def _said(output: str, path: Path, message: str) -> bool:
    """Some line of output names path and says message."""
    return any(str(path) in line and message in line for line in output.splitlines())


def _served_elsewhere(cli: Cli, files: list[str], inside: set[str]) -> None:
    """Every file but those in the pack set aside is read as usual; those are not found."""
    for object_id in files:
        result = cli("cat-object", "-t", object_id, ok=False)
        if object_id in inside:
            assert result.code == 1 and f"object {object_id} not found" in result.err
        else:
            assert result.text == "blob\n", result.err


FAULTS = {
    "reserved byte 5": (5, 1, "reserved bytes 5-7 are 01 00 00, not zero (a newer format, or damage)"),
    "reserved byte 6": (6, 0x80, "reserved bytes 5-7 are 00 80 00, not zero (a newer format, or damage)"),
    "reserved byte 7": (7, 0xFF, "reserved bytes 5-7 are 00 00 ff, not zero (a newer format, or damage)"),
    "version 2": (4, 2, "has format version 2; this pacha reads version 1 (upgrade pacha)"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("suffix", [".pack", ".idx"])
def test_a_pack_or_index_breaking_the_rule_is_refused_and_set_aside(
    pristine: tuple[Path, list[str]], tmp_path: Path, suffix: str, fault: str
) -> None:
    cli, files, pack = _registry(pristine, tmp_path)
    inside = {line.split()[1] for line in cli("show-index", pack).lines}
    assert len(inside & set(files)) == 1
    offset, value, message = FAULTS[fault]
    damaged = pack.with_suffix(suffix)
    _set_byte(damaged, offset, value)
    check = cli("verify-pack", ok=False)
    assert check.code == 1
    assert _said(check.text + check.err, damaged, message)
    _served_elsewhere(cli, files, inside)
    fsck = cli("fsck", ok=False)
    assert fsck.code == 1 and _said(fsck.text, damaged, message)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_multi_pack_index_breaking_the_rule_is_set_aside(
    pristine: tuple[Path, list[str]], tmp_path: Path, fault: str
) -> None:
    cli, files, _ = _registry(pristine, tmp_path)
    offset, value, message = FAULTS[fault]
    midx = cli.registry / "objects" / "pack" / "multi-pack-index"
    _set_byte(midx, offset, value)
    result = cli("cat-object", "-t", files[3])
    assert result.text == "blob\n"  # found in its pack without the index
    assert result.err.count("warning") == 1 and _said(result.err, midx, message)
    verify = cli("multi-pack-index", "verify", ok=False)
    assert verify.code == 1 and _said(verify.err, midx, message)
    cli("multi-pack-index", "write")  # the writer's remedy
    cli("multi-pack-index", "verify")


def test_an_object_of_an_unknown_version_is_refused(cli: Cli) -> None:
    object_id = cli("hash-object", "-w", "--stdin", input=b"hello\n").text.strip()
    _set_byte(cli.registry / "objects" / object_id[:2] / object_id[2:], 4, 2)
    result = cli("cat-object", "-p", object_id, ok=False)
    assert result.code == 1
    message = "has format version 2; this pacha reads version 1 (upgrade pacha)"
    assert f"object {object_id} {message}" in result.err


def test_a_registry_of_an_unknown_format_is_refused(cli: Cli) -> None:
    blob = cli("hash-object", "-w", "--stdin", input=b"hello\n").text.strip()
    config = cli.registry / "config.toml"
    text = config.read_text()
    assert "format = 1" in text
    config.write_text(text.replace("format = 1", "format = 2"))
    for command in (["cat-object", "-p", blob], ["for-each-ref"], ["hash-object", "-w", "--stdin"]):
        failed = cli.fails(*command, code=128, input=b"new\n")
        assert failed.err == (
            f"fatal: {cli.registry} is a registry of format 2 (core.format); "
            "this pacha reads format 1 (upgrade pacha)\n"
        )
    config.write_text(text.replace("format = 1\n", ""))  # no key: format 1, as pacha init wrote it before
    assert cli("cat-object", "-p", blob).out == b"hello\n"
