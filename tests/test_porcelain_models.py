"""Models and datasets through the CLI: the Quick Start, versions, stages, audit trail, refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import snapshot


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    model = tmp_path / "model.apr"
    model.write_bytes(os.urandom(5000))
    data = tmp_path / "data.ald"
    data.write_bytes(os.urandom(3000))
    return {"model": model, "data": data}


def model_json(cli, *args: str) -> dict:
    return json.loads(cli("model", *args, "--json").text)


def test_quick_start_verbatim(tmp_path: Path, files) -> None:
    from tests.conftest import Cli

    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
    env["HOME"] = str(tmp_path)
    run = Cli(tmp_path / ".pacha", tmp_path)
    run.env = env
    run("init")
    run("model", "register", "fraud-detector", "model.apr", "-v", "1.0.0", "-d", "Fraud detection model")
    run(
        "data",
        "register",
        "transactions",
        "data.ald",
        "-v",
        "1.0.0",
        "-p",
        "Transaction data for fraud detection",
    )
    shown = run("model", "get", "fraud-detector", "-v", "1.0.0").text
    assert "development" in shown and "Fraud detection model" in shown
    run("model", "stage", "fraud-detector", "-v", "1.0.0", "-t", "production")
    run("model", "get", "fraud-detector:1.0.0", "-o", "./downloaded.apr")
    assert (tmp_path / "downloaded.apr").read_bytes() == files["model"].read_bytes()
    assert "production" in run("model", "get", "fraud-detector@production").text
    assert "Transaction data" in run("data", "get", "transactions:latest").text
    assert "fraud-detector:1.0.0" in run("model", "lineage", "fraud-detector:1.0.0").text
    assert "entity    transactions:1.0.0" in run("data", "provenance", "transactions:latest").text
    (tmp_path / "card.toml").write_text(
        'version = "1.1.0"\ndescription = "retrained"\n[metrics]\nauc = 0.95\n'
    )
    files["model"].write_bytes(os.urandom(5000))
    run("model", "register", "fraud-detector", "./model.apr", "--card", "card.toml")
    assert "retrained" in run("model", "get", "fraud-detector:1.1.0").text
    run("fsck")


def test_versions_latest_bump_and_prereleases(cli, files) -> None:
    model = files["model"]
    cli("model", "register", "m", model, "-v", "1.0.0-beta.2")
    assert model_json(cli, "get", "m:latest")["version"] == "1.0.0-beta.2"  # only pre-releases
    for version in ("1.2.0", "1.10.0", "1.0.0"):
        model.write_bytes(os.urandom(100))
        cli("model", "register", "m", model, "-v", version)
    assert model_json(cli, "get", "m:latest")["version"] == "1.10.0"
    assert model_json(cli, "get", "m")["version"] == "1.10.0"
    listed = [v["version"] for v in json.loads(cli("model", "list", "m", "--json").text)]
    assert listed == ["1.0.0-beta.2", "1.0.0", "1.2.0", "1.10.0"]
    model.write_bytes(os.urandom(100))
    assert model_json(cli, "register", "m", model, "--bump", "minor")["version"] == "1.11.0"
    model.write_bytes(os.urandom(100))
    refused = cli.fails("model", "register", "m", model, code=128)
    assert "--bump" in refused.err and "1.11.0" in refused.err


def test_new_name_defaults_and_card_version(cli, files, tmp_path: Path) -> None:
    assert model_json(cli, "register", "first", files["model"])["version"] == "1.0.0"
    card = tmp_path / "card.toml"
    card.write_text('version = "0.3.0"\ndescription = "from the card"\n[metrics]\nauc = 0.93\n')
    result = model_json(cli, "register", "carded", files["model"], "--card", card, "--metric", "f1=0.8")
    assert result["version"] == "0.3.0"
    assert result["record"]["description"] == "from the card"
    assert result["record"]["metrics"] == {"auc": 0.93, "f1": 0.8}


def test_same_bytes_is_a_no_op_and_other_bytes_refused(cli, files) -> None:
    cli("model", "register", "m", files["model"], "-v", "1.0.0")
    before = snapshot(cli.registry)
    again = cli("model", "register", "m", files["model"], "-v", "1.0.0")
    assert "already registered with these bytes" in again.text
    assert snapshot(cli.registry) == before
    files["model"].write_bytes(os.urandom(10))
    refused = cli.fails("model", "register", "m", files["model"], "-v", "1.0.0", code=1)
    assert "different content" in refused.err
    refused = cli.fails("model", "register", "m", files["model"], "-v", "1.0.0+other", code=1)
    assert "same precedence" in refused.err
    assert snapshot(cli.registry) == before


def test_stage_rules_archive_and_audit_trail(cli, files) -> None:
    model = files["model"]
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        model.write_bytes(os.urandom(100))
        cli("model", "register", "m", model, "-v", version)
    cli("model", "stage", "m:1.0.0", "-t", "production", "-m", "go live")
    out = cli("model", "stage", "m", "-v", "1.1.0", "-t", "production", "-m", "better auc").text
    assert "m:1.0.0: production -> archived" in out
    stages = {v["version"]: v["stage"] for v in json.loads(cli("model", "list", "--json").text)}
    assert stages == {"1.0.0": "archived", "1.1.0": "production", "1.2.0": "development"}
    refused = cli.fails("model", "stage", "m:1.0.0", "-t", "staging", code=128)
    assert "allowed: development" in refused.err
    cli.fails("model", "stage", "m:1.1.0", "-t", "production", code=128)  # already there
    cli.fails("model", "stage", "m:1.2.0", "-t", "shipped", code=128)
    cli("model", "stage", "m:1.2.0", "-t", "production", "--keep-existing")
    production = cli("model", "list", "--stage", "production", "--json").text
    assert [v["version"] for v in json.loads(production)] == ["1.1.0", "1.2.0"]
    history = json.loads(cli("model", "history", "m", "--json").text)
    moves = [(h["version"], h["from"], h["to"], h["why"]) for h in history]
    assert ("1.0.0", "development", "production", "go live") in moves
    assert ("1.0.0", "production", "archived", "better auc") in moves
    assert ("1.1.0", "development", "production", "better auc") in moves
    assert all(h["who"] == "Test User <test@example.com>" for h in history)
    assert moves[0] == ("1.0.0", None, "development", "register m 1.0.0")


def test_time_travel(cli, files) -> None:
    import time
    from datetime import UTC, datetime

    cli("model", "register", "m", files["model"], "-v", "1.0.0")
    cli("model", "stage", "m:1.0.0", "-t", "production")
    time.sleep(0.05)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    files["model"].write_bytes(os.urandom(10))
    cli("model", "register", "m", files["model"], "-v", "2.0.0")
    cli("model", "stage", "m:2.0.0", "-t", "production")
    assert model_json(cli, "get", "m@production")["version"] == "2.0.0"
    assert model_json(cli, "get", "m@production", "--at", middle)["version"] == "1.0.0"
    cli.fails("model", "get", "m@production", "--at", "2000-01-01T00:00", code=1)
    cli.fails("model", "get", "m@production", "--at", "yesterday", code=128)


def test_download_folder_and_refusals(cli, tmp_path: Path) -> None:
    folder = tmp_path / "hf-model"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "weights.bin").write_bytes(os.urandom(2000))
    cli("model", "register", "bert", folder)
    out = tmp_path / "out"
    cli("model", "download", "bert:1.0.0", "-o", out)
    assert (out / "sub" / "weights.bin").read_bytes() == (folder / "sub" / "weights.bin").read_bytes()
    cli("model", "download", "bert:1.0.0", "-o", out)  # the same contents again: nothing to do
    assert (out / "config.json").read_text() == "{}" and not (out / "hf-model").exists()
    (out / "stale.txt").write_text("old")
    assert "--force" in cli.fails("model", "download", "bert:1.0.0", "-o", out, code=128).err
    cli("model", "download", "bert:1.0.0", "-o", out, "--force")
    assert not (out / "stale.txt").exists()
    tree = cli("model", "get", "bert:1.0.0", "--json").text
    artifact = __import__("json").loads(tree)["record"]["artifact"]
    refused = cli("checkout-object", artifact, ".", "--force", cwd=out, ok=False)
    assert refused.code == 128 and "refusing to replace" in refused.err
    assert (out / "sub" / "weights.bin").exists()  # nothing was touched
    record = model_json(cli, "get", "bert:1.0.0")
    assert model_json(cli, "get", record["id"][:10])["version"] == "1.0.0"


def test_delete_needs_force_in_production(cli, files) -> None:
    cli("model", "register", "m", files["model"], "-v", "1.0.0")
    cli("model", "stage", "m:1.0.0", "-t", "production")
    assert "--force" in cli.fails("model", "delete", "m:1.0.0", code=1).err
    cli("model", "delete", "m:1.0.0", "--force", "-m", "recalled")
    cli.fails("model", "get", "m:1.0.0", code=1)
    history = json.loads(cli("model", "history", "m", "--json").text)
    assert history[-1]["to"] is None and history[-1]["why"] == "recalled"
    cli("fsck")


@pytest.mark.parametrize(
    "args, words",
    [
        (["model", "register", "Bad Name", "{model}"], "invalid name"),
        (["model", "register", "../up", "{model}"], "invalid name"),
        (["model", "register", "m", "{model}", "-v", "1.0"], "SemVer"),
        (["model", "register", "m", "nope.bin"], "does not exist"),
        (["model", "register", "m", "{model}", "-v", "1.0.0", "--bump", "minor"], "not both"),
        (["model", "register", "m", "{model}", "--metric", "auc"], "NAME=NUMBER"),
        (["model", "get", "ghost:1.0.0"], "not found"),
        (["model", "get", "m@shipping"], "unknown stage"),
        (["data", "get", "ghost"], "no dataset named ghost"),
    ],
)
def test_refusals_change_nothing(cli, files, args: list[str], words: str) -> None:
    cli("model", "register", "m", files["model"], "-v", "2.0.0")
    before = snapshot(cli.registry)
    result = cli.fails(*[a.format(**files) for a in args])
    assert words in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert snapshot(cli.registry) == before


def test_card_refusals(cli, files, tmp_path: Path) -> None:
    card = tmp_path / "card.toml"
    card.write_text("descripton = 'typo'\n")
    assert (
        "unknown field 'descripton'"
        in cli.fails("model", "register", "m", files["model"], "--card", card).err
    )
    card.write_text("description = \n")
    assert "TOML syntax error" in cli.fails("model", "register", "m", files["model"], "--card", card).err


@pytest.mark.parametrize("group", ["model", "data"])
def test_group_commands_have_help_with_example(cli, group: str) -> None:
    for command in ("register", "list", "get", "download", "delete", "stage", "history"):
        assert "Example" in cli(group, command, "--help").text
