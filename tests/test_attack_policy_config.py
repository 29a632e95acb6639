"""Attacks on `policy.require_signed` set through `pacha config`: the TOML list the docs show
(`["production"]`) must be enforced, and a value naming no stage refused, never silently
accepted as a policy that requires nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights" * 100)
    return path


@pytest.mark.parametrize("value", ['["production"]', "production", "staging, production", "['production']"])
def test_require_signed_set_by_config_is_enforced(cli: Cli, model: Path, value: str) -> None:
    cli("model", "register", "m", model, "-v", "1.0.0")
    cli("config", "policy.require_signed", value)
    refused = cli.fails("model", "stage", "m", "-v", "1.0.0", "-t", "production", code=1)
    assert "requires a signed stage change" in refused.err
    assert "production" in cli("config", "policy.require_signed").text


@pytest.mark.parametrize("value", ['["prod"]', "nonstage", "[1]", "[production", '""', "[]x"])
def test_require_signed_naming_no_stage_is_refused(cli: Cli, value: str) -> None:
    config = (cli.registry / "config.toml").read_bytes()
    result = cli.fails("config", "policy.require_signed", value, code=128)
    assert len(result.err.strip().splitlines()) == 1 and "policy.require_signed" in result.err
    assert (cli.registry / "config.toml").read_bytes() == config


def test_require_signed_edited_to_no_stage_fails_loudly(cli: Cli, model: Path) -> None:
    """A hand-edited config naming no stage is an error where the policy is read, not a no-op."""
    cli("model", "register", "m", model, "-v", "1.0.0")
    with (cli.registry / "config.toml").open("a") as config:
        config.write('\n[policy]\nrequire_signed = ["prod"]\n')
    refused = cli.fails("model", "stage", "m", "-v", "1.0.0", "-t", "production")
    assert "policy.require_signed" in refused.err and "'prod'" in refused.err
    assert len(refused.err.strip().splitlines()) == 1


def test_require_signed_prints_as_it_is_set(cli: Cli, model: Path) -> None:
    """`pacha config KEY` prints a list as TOML (not Python's repr), and that text sets it again."""
    cli("config", "policy.require_signed", "staging,production")
    shown = cli("config", "policy.require_signed").text.strip()
    assert shown == '["staging", "production"]'
    assert 'policy.require_signed=["staging", "production"]' in cli("config", "--list").text
    cli("config", "--unset", "policy.require_signed")
    cli("config", "policy.require_signed", shown)
    cli("model", "register", "m", model, "-v", "1.0.0")
    assert "requires a signed stage change" in cli.fails("model", "stage", "m:1.0.0", "-t", "staging").err
