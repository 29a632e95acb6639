"""What clone and push refuse, before anything is created or sent (found by trying them as a user)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli


def _published(tmp_path: Path) -> Path:
    """A directory remote holding one pushed model version."""
    ada = Cli(tmp_path / "ada", tmp_path)
    ada("init", "-q")
    (tmp_path / "m.bin").write_bytes(b"weights " * 1000)
    ada("model", "register", "m", tmp_path / "m.bin")
    remote = tmp_path / "remote"
    ada("remote", "add", "origin", remote, "--default")
    ada("push")
    return remote


def test_clone_of_a_place_holding_no_registry_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    for source in (tmp_path / "missing", tmp_path / "empty"):
        if source.name == "empty":
            source.mkdir()
        target = tmp_path / f"clone-of-{source.name}"
        err = cli.fails("clone", source, target, code=1).err
        assert "holds no registry" in err and "Traceback" not in err
        assert not target.exists()


def test_clone_never_merges_into_an_existing_directory(cli: Cli, tmp_path: Path) -> None:
    remote = _published(tmp_path)
    (tmp_path / "m2.bin").write_bytes(b"other")
    cli("model", "register", "other", tmp_path / "m2.bin")
    before = sorted(p.relative_to(cli.registry) for p in cli.registry.rglob("*"))
    err = cli.fails("clone", remote, cli.registry).err
    assert "already exists and is not an empty directory" in err
    assert sorted(p.relative_to(cli.registry) for p in cli.registry.rglob("*")) == before
    assert "no remote" in cli.fails("push", code=1).err  # no origin was added


def test_clone_without_a_path_makes_the_default_registry(tmp_path: Path) -> None:
    remote = _published(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    bob = Cli(work / ".pacha", work)
    bob.env.pop("PACHA_DIR", None)
    result = bob("clone", remote, cwd=work)
    assert "Traceback" not in result.err
    assert "m" in bob("model", "list", cwd=work).text
