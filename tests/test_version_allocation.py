"""How a registration picks its version: --bump on a brand-new name, concurrent bumps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def registered(cli, kind: str, *args: str | Path) -> str:
    return json.loads(cli(kind, "register", *args, "--json").text)["version"]


@pytest.mark.parametrize("kind", ["model", "data"])
@pytest.mark.parametrize("part", ["major", "minor", "patch"])
def test_bump_on_a_new_name_starts_at_1_0_0(cli, tmp_path: Path, kind: str, part: str) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(os.urandom(300))
    assert registered(cli, kind, "fresh", artifact, "--bump", part) == "1.0.0"
    artifact.write_bytes(os.urandom(300))
    expected = {"major": "2.0.0", "minor": "1.1.0", "patch": "1.0.1"}[part]
    assert registered(cli, kind, "fresh", artifact, "--bump", part) == expected


def test_bump_on_a_new_name_starts_at_the_card_version(cli, tmp_path: Path) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(os.urandom(300))
    card = tmp_path / "card.toml"
    card.write_text('version = "0.4.0"\n')
    assert registered(cli, "model", "carded", artifact, "--card", card, "--bump", "minor") == "0.4.0"
    artifact.write_bytes(os.urandom(300))
    # once the name exists, --bump counts from its latest version, not from the card
    assert registered(cli, "model", "carded", artifact, "--card", card, "--bump", "minor") == "0.5.0"


def test_bump_on_a_new_name_still_checks_the_part(cli, tmp_path: Path) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"x" * 100)
    refused = cli.fails("model", "register", "fresh", artifact, "--bump", "huge", code=128)
    assert "major, minor or patch" in refused.err
    assert cli("model", "list", "--json").text.strip() == "[]"


def test_python_bump_on_a_new_name(cli, tmp_path: Path) -> None:
    from porcelain import Registry

    artifact = tmp_path / "out"
    artifact.mkdir()
    (artifact / "weights.bin").write_bytes(os.urandom(200))
    reg = Registry.open(cli.registry)
    first = reg.register_model("fraud-detector", artifact, bump="minor", metrics={"auc": 0.9})
    assert first.created and first.version.version == "1.0.0"
    (artifact / "weights.bin").write_bytes(os.urandom(200))
    second = reg.register_dataset("tx", artifact / "weights.bin", bump="patch")
    assert second.version.version == "1.0.0"
    third = reg.register_model("fraud-detector", artifact, bump="minor")
    assert third.version.version == "1.1.0"
