"""Attacks on push's ref selection: NAME:VER and NAME@STAGE that name no version (a typo)
are refused in one line, never pushed as "Everything up-to-date" (nor as every version of
the name), and the remote is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli, registry_digest


@pytest.fixture
def pushed(cli: Cli, tmp_path: Path) -> Path:
    """m:1.0.0 in production on a directory remote; m:1.1.0 registered here, not pushed."""
    for version in ("1.0.0", "1.1.0"):
        (tmp_path / f"{version}.bin").write_bytes(version.encode() * 100)
    cli("model", "register", "m", tmp_path / "1.0.0.bin", "-v", "1.0.0")
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "production")
    remote = tmp_path / "remote"
    cli("remote", "add", "origin", remote, "--default")
    cli("push")
    cli("model", "register", "m", tmp_path / "1.1.0.bin", "-v", "1.1.0")
    return remote


@pytest.mark.parametrize("item", ["m:9.9.9", "m@staging", "nosuch:1.0.0", "nosuch@production", "m:1.1"])
def test_push_of_a_version_or_stage_that_does_not_exist_is_refused(cli: Cli, pushed: Path, item: str) -> None:
    before = registry_digest(pushed)
    refused = cli.fails("push", "origin", item, code=2 if item == "m:1.1" else 1)  # 1.1: not SemVer
    assert len(refused.err.strip().splitlines()) == 1 and repr(item) in refused.err, refused.err
    assert registry_digest(pushed) == before


@pytest.mark.parametrize("item", ["m:1.1.0", "m", "m@development", "m:latest"])
def test_push_of_an_existing_version_name_or_stage_sends_it(cli: Cli, pushed: Path, item: str) -> None:
    out = cli("push", "origin", item).text
    assert "models/m/1.1.0" in out, out


@pytest.mark.parametrize("field", ["log", "prev"])
def test_a_remote_log_key_cannot_lead_outside_the_remote(
    cli: Cli, pushed: Path, tmp_path: Path, field: str
) -> None:
    """A remote's ref table and log segments name log segments by key; a key with '..' (written
    by whoever can write the bucket or the directory) must not make a clone read files outside
    the remote: the table is damaged, said in one line, and nothing is cloned."""
    import json

    cli("push")  # a second segment, whose prev names the first
    table = json.loads((pushed / "refs").read_text())
    outside = tmp_path / "outside"
    outside.mkdir()
    if field == "log":
        head = pushed / table["log"]
        (outside / "segment").write_bytes(head.read_bytes())
        table["log"] = "logs/../../outside/segment"
        (pushed / "refs").write_text(json.dumps(table))
    else:
        head = pushed / table["log"]
        segment = json.loads(head.read_text())
        assert segment["prev"], segment
        (outside / "segment").write_bytes((pushed / segment["prev"]).read_bytes())
        segment["prev"] = "logs/../../outside/segment"
        head.write_text(json.dumps(segment))
    refused = cli("clone", pushed, tmp_path / "copy", ok=False)
    assert refused.code == 128, (refused.code, refused.err)
    assert len(refused.err.strip().splitlines()) == 1 and "damaged" in refused.err, refused.err
    assert not (tmp_path / "copy").exists()
