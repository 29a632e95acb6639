"""Repeatable downloads (issue 11, item 15): `-o DIR` of a folder means DIR holds its contents.

Running a download again is a no-op when the contents are already there, other
contents need --force (then replaced whole), and nothing ever nests out/out/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pacha
from porcelain import Registry
from porcelain.errors import InvalidInput


def tree_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    model = tmp_path / "m-src"
    (model / "sub").mkdir(parents=True)
    (model / "model.onnx").write_bytes(os.urandom(6000))
    (model / "sub" / "config.json").write_text('{"a": 1}')
    return model


def test_folder_download_is_repeatable(cli, tmp_path: Path, folder: Path) -> None:
    cli("model", "register", "m", folder, "-v", "1.0.0")
    out = tmp_path / "out"
    for attempt in range(3):
        result = cli("model", "download", "m:1.0.0", "-o", out)
        assert ("up to date" in result.text) == (attempt > 0), result.text
        assert tree_of(out) == tree_of(folder)  # out/model.onnx, never out/m-src/model.onnx
    # get -o behaves the same
    cli("model", "get", "m:1.0.0", "-o", out)
    assert tree_of(out) == tree_of(folder)


def test_folder_with_other_contents_needs_force(cli, tmp_path: Path, folder: Path) -> None:
    cli("model", "register", "m", folder, "-v", "1.0.0")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    err = cli.fails("model", "download", "m:1.0.0", "-o", out, code=128).err
    assert "other contents" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert tree_of(out) == {"notes.txt": b"mine"}  # untouched
    cli("model", "download", "m:1.0.0", "-o", out, "--force")
    assert tree_of(out) == tree_of(folder)  # replaced whole: no stray notes.txt
    (out / "model.onnx").write_bytes(b"changed")
    cli.fails("model", "download", "m:1.0.0", "-o", out)
    assert (out / "model.onnx").read_bytes() == b"changed"


def test_single_file_download_is_repeatable(cli, tmp_path: Path) -> None:
    blob = tmp_path / "weights.bin"
    blob.write_bytes(os.urandom(5000))
    cli("model", "register", "m", blob, "-v", "1.0.0")
    into = tmp_path / "into"
    into.mkdir()
    for attempt in range(3):  # into an existing directory: under its registered name, as cp
        result = cli("model", "download", "m:1.0.0", "-o", into)
        assert ("up to date" in result.text) == (attempt > 0)
        assert tree_of(into) == {"weights.bin": blob.read_bytes()}
    path = tmp_path / "copy.bin"
    cli("model", "download", "m:1.0.0", "-o", path)
    assert "up to date" in cli("model", "download", "m:1.0.0", "-o", path).text
    path.write_bytes(b"other")
    assert "--force" in cli.fails("model", "download", "m:1.0.0", "-o", path).err
    assert path.read_bytes() == b"other"
    cli("data", "register", "d", blob, "-v", "1.0.0")
    cli("data", "download", "d:1.0.0", "-o", path, "--force")
    assert path.read_bytes() == blob.read_bytes()


STATES = ["absent", "empty-dir", "same", "other-dir", "other-file"]


@pytest.mark.parametrize("kind", ["file", "folder"])
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("force", [False, True])
def test_every_starting_state(cli, tmp_path: Path, folder: Path, kind: str, state: str, force: bool) -> None:
    """The whole space: artifact kind x what is at -o x --force."""
    reg = Registry(pacha.open_registry(cli.registry))
    source = folder if kind == "folder" else folder / "model.onnx"
    reg.register_model("m", source, version="1.0.0")
    dest = tmp_path / "dest"
    if state == "empty-dir":
        dest.mkdir()
    elif state == "same":
        reg.download("model", "m:1.0.0", dest)
    elif state == "other-dir":
        dest.mkdir()
        (dest / "model.onnx").write_bytes(b"x")
    elif state == "other-file":
        dest.write_bytes(b"x")
    target = dest / "model.onnx" if kind == "file" and dest.is_dir() else dest
    refused = state in ("other-dir", "other-file") and not force
    if kind == "file" and state == "other-dir":
        refused = not force  # dest/model.onnx holds other bytes
    before = tree_of(dest) if dest.is_dir() else (dest.read_bytes() if dest.exists() else None)
    if refused:
        with pytest.raises(InvalidInput, match="force=True"):
            reg.download("model", "m:1.0.0", dest, force=force)
        after = tree_of(dest) if dest.is_dir() else dest.read_bytes()
        assert after == before
        return
    _, placed = reg.download_placed("model", "m:1.0.0", dest, force=force)
    assert placed.path == target
    assert placed.written == (state != "same")
    if kind == "folder":
        assert tree_of(target) == tree_of(folder)
    else:
        assert target.read_bytes() == source.read_bytes()
    _, again = reg.download_placed("model", "m:1.0.0", dest)
    assert again.path == target and not again.written
