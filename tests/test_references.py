"""One resolver for every reference (issue 11, items 12, 14 and 17).

Every command resolves NAME:VER, NAME@STAGE, NAME, record ids and id prefixes the
same way; an ambiguous reference lists candidates whose suggested commands work;
state changes need an explicit version; deleted and expired versions are reported
as such, and deleted ones come back with `restore`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from porcelain import Registry
from porcelain.errors import InvalidInput
from tests.conftest import snapshot
from tests.test_recipes import RECIPE, prepare_recipe


def record_id(cli, noun: str, ref: str) -> str:
    return json.loads(cli(noun, "get", ref, "--json").text)["id"]


def suggested(message: str) -> list[list[str]]:
    """The `pacha ...` commands an error message offers, as argument lists."""
    return [shlex.split(cmd)[1:] for cmd in re.findall(r"`(pacha [^`]+)`", message)]


@pytest.fixture
def twins(cli, tmp_path: Path) -> dict[str, str]:
    """The demo's pattern: recipe fraud-mlp trains model fraud-mlp (both 1.0.0)."""
    cli("recipe", "register", prepare_recipe(cli, tmp_path, RECIPE.replace("bert-finetune", "fraud-mlp")))
    (tmp_path / "w.bin").write_bytes(os.urandom(3000))
    cli("model", "register", "fraud-mlp", tmp_path / "w.bin", "-v", "1.0.0")
    return {
        "model": record_id(cli, "model", "fraud-mlp:1.0.0"),
        "recipe": record_id(cli, "recipe", "fraud-mlp:1.0.0"),
        "data": record_id(cli, "data", "transactions:1.0.0"),
    }


def test_verify_when_a_recipe_and_a_model_share_a_name(cli, twins) -> None:
    for ref in ("fraud-mlp:1.0.0", "fraud-mlp", "fraud-mlp:latest"):
        err = cli.fails("verify", ref, code=128).err
        assert len(err.strip().splitlines()) == 1, err
        assert "model fraud-mlp:1.0.0" in err and "recipe fraud-mlp:1.0.0" in err
        assert "dataset" not in err
        commands = suggested(err)
        assert ["model", "verify", "fraud-mlp:1.0.0"] in commands
        assert ["recipe", "verify", "fraud-mlp:1.0.0"] in commands
        for command in commands:  # every alternative the message offers works
            assert cli(*command).text.startswith("fraud-mlp:1.0.0: ok")
    # record ids and prefixes of every kind always work
    for kind in ("model", "recipe", "data"):
        for given in (twins[kind], twins[kind][:12], twins[kind][:6].upper()):
            assert ": ok (" in cli("verify", given).text
    assert ": ok (" in cli("data", "verify", "transactions").text
    # the kind-specific commands pick their own kind by name
    assert twins["model"] in cli("model", "verify", "fraud-mlp:1.0.0", "--json").text
    assert twins["recipe"] in cli("recipe", "verify", "fraud-mlp", "--json").text
    # a record of another kind is named as such
    err = cli.fails("model", "verify", twins["recipe"]).err
    assert "recipe-version record" in err and "not a model version" in err


def test_rev_parse_ambiguity_offers_working_refs(cli, twins) -> None:
    err = cli.fails("rev-parse", "fraud-mlp:1.0.0").err
    picks = {tuple(c) for c in suggested(err)}
    assert picks == {("rev-parse", "models/fraud-mlp/1.0.0"), ("rev-parse", "recipes/fraud-mlp/1.0.0")}
    assert {cli(*p).text.strip() for p in picks} == {twins["model"], twins["recipe"]}


def test_runs_resolve_by_name_and_id(cli, twins) -> None:
    name = cli("run", "start", "fraud-mlp:1.0.0").text.strip()
    run_record = json.loads(cli("run", "get", name, "--json").text)["record_id"]
    assert cli("verify", name).text.startswith(f"{name}: ok")
    assert cli("verify", run_record[:10]).text.startswith(f"{name}: ok")
    err = cli.fails("model", "get", run_record).err
    assert "is a run record, not a model version" in err


def test_record_ids_work_in_every_command(cli, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(os.urandom(4000))
    cli("model", "register", "m", tmp_path / "a.bin", "-v", "1.0.0")
    rid = record_id(cli, "model", "m:1.0.0")
    for given in (rid, rid[:8]):
        assert json.loads(cli("model", "get", given, "--json").text)["version"] == "1.0.0"
        assert "ok" in cli("model", "verify", given).text
        assert "m:1.0.0" in cli("model", "lineage", given).text
        assert "entity" in cli("model", "provenance", given).text
        cli("model", "card", given)
        out = tmp_path / f"out-{len(given)}"
        cli("model", "download", given, "-o", out)
        assert out.read_bytes() == (tmp_path / "a.bin").read_bytes()
    assert "development -> staging" in cli("model", "stage", rid[:8], "-t", "staging").text
    assert "deleted m:1.0.0" in cli("model", "delete", rid[:10]).text


def test_a_name_that_is_also_an_id_prefix(cli, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(os.urandom(4000))
    cli("model", "register", "m", tmp_path / "a.bin", "-v", "1.0.0")
    rid = record_id(cli, "model", "m:1.0.0")
    prefix = next(rid[:n] for n in range(6, 20) if re.search("[a-f]", rid[:n]) and rid[0].isalnum())
    (tmp_path / "b.bin").write_bytes(os.urandom(4000))
    cli("model", "register", prefix, tmp_path / "b.bin", "-v", "2.0.0")
    err = cli.fails("model", "get", prefix).err
    assert "more than one thing" in err and f"{prefix}:2.0.0" in err and "m:1.0.0" in err
    for command in suggested(err):
        cli(*command)
    assert json.loads(cli("model", "get", f"{prefix}:latest", "--json").text)["name"] == prefix
    assert json.loads(cli("model", "get", rid, "--json").text)["name"] == "m"


# --- item 14: state changes need an explicit version ------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["model", "delete", "m"],
        ["model", "stage", "m", "-t", "staging"],
        [
            "model",
            "lineage",
            "add",
            "m",
            "--from",
            "base:1.0.0",
            "--relation",
            "quantized",
            "--param",
            "quantization=int8",
        ],
        ["data", "delete", "d"],
        ["data", "stage", "d", "-t", "production"],
        ["recipe", "delete", "bert-finetune"],
    ],
)
def test_state_changes_refuse_an_implied_version(cli, tmp_path: Path, args: list[str]) -> None:
    blob = tmp_path / "w.bin"
    for version in ("1.0.0", "1.1.0"):
        blob.write_bytes(os.urandom(3000))
        cli("model", "register", "m", blob, "-v", version)
        cli("data", "register", "d", blob, "-v", version)
    cli("model", "register", "base", blob, "-v", "1.0.0")
    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    before = snapshot(cli.registry)
    err = cli.fails(*args, code=128).err
    assert "names no version" in err and "--latest" in err and len(err.strip().splitlines()) == 1
    assert snapshot(cli.registry) == before
    cli(*args, "--latest")  # asked for explicitly, it works


def test_explicit_forms_of_a_state_change(cli, tmp_path: Path) -> None:
    blob = tmp_path / "w.bin"
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        blob.write_bytes(os.urandom(3000))
        cli("model", "register", "m", blob, "-v", version)
    assert "1.0.0: development -> staging" in cli("model", "stage", "m", "-v", "1.0.0", "-t", "staging").text
    assert "1.1.0: development -> staging" in cli("model", "stage", "m:1.1.0", "-t", "staging").text
    assert "1.2.0: development -> production" in cli("model", "stage", "m:latest", "-t", "production").text
    assert "deleted m:1.1.0" in cli("model", "delete", "m@staging").text
    cli.fails("model", "delete", "m:1.2.0", "--latest")  # both: refused
    cli("model", "stage", "m", "--latest", "-t", "archived")
    reg = Registry.open(cli.registry)
    with pytest.raises(InvalidInput, match="names no version"):
        reg.stage("m", "production")
    with pytest.raises(InvalidInput, match="names no version"):
        reg.delete("model", "m")


def test_restore_a_deleted_version(cli, tmp_path: Path) -> None:
    blob = tmp_path / "w.bin"
    blob.write_bytes(os.urandom(5000))
    cli("model", "register", "m", blob, "-v", "1.0.0")
    cli("model", "stage", "m:1.0.0", "-t", "production")
    rid = record_id(cli, "model", "m:1.0.0")
    cli("model", "delete", "m:1.0.0", "--force", "-m", "withdrawn")
    err = cli.fails("model", "get", "m:1.0.0", code=1).err
    assert "model m:1.0.0 was deleted on" in err and "(withdrawn)" in err and "was in production" in err
    assert "`pacha model restore m:1.0.0` brings it back" in err
    for args in (
        ["model", "download", "m:1.0.0", "-o", tmp_path / "x"],
        ["model", "verify", "m:1.0.0"],
        ["model", "stage", "m:1.0.0", "-t", "staging"],
        ["model", "lineage", "m:1.0.0"],
        ["model", "get", "m"],
        ["model", "stage", rid, "-t", "staging"],
    ):
        err = cli.fails(*args, code=1).err
        assert "was deleted on" in err and "restore m:1.0.0" in err, (args, err)
    # by record id a read still shows the record, marked deleted
    assert json.loads(cli("model", "get", rid, "--json").text)["stage"] == "deleted"
    out = cli("model", "restore", "m:1.0.0").text
    assert "restored m:1.0.0" in out and "in development" in out and "was in production" in out
    got = json.loads(cli("model", "get", "m:1.0.0", "--json").text)
    assert got["id"] == rid and got["stage"] == "development"
    cli("model", "download", "m:1.0.0", "-o", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == blob.read_bytes()
    assert "nothing to restore" in cli.fails("model", "restore", "m:1.0.0", code=1).err
    assert "never registered" in cli.fails("model", "restore", "m:9.0.0", code=1).err
    assert "needs the version" in cli.fails("model", "restore", "m").err
    history = json.loads(cli("model", "history", "m", "--json").text)
    assert [(t["from"], t["to"]) for t in history][-2:] == [("production", None), (None, "development")]
    cli("fsck")


def test_restore_datasets_and_recipes(cli, tmp_path: Path) -> None:
    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    cli("data", "delete", "transactions:1.0.0")
    cli("recipe", "delete", "bert-finetune:1.0.0")
    assert "restore transactions:1.0.0" in cli.fails("data", "get", "transactions").err
    assert "restored transactions:1.0.0" in cli("data", "restore", "transactions", "-v", "1.0.0").text
    assert "restored bert-finetune:1.0.0" in cli("recipe", "restore", "bert-finetune:1.0.0").text
    assert "1.0.0" in cli("recipe", "show", "bert-finetune:1.0.0").text


def test_expired_versions_are_reported_as_expired(cli, tmp_path: Path) -> None:
    blob = tmp_path / "w.bin"
    ids = {}
    for version in ("1.0.0", "1.1.0"):
        blob.write_bytes(os.urandom(5000))
        cli("model", "register", "m", blob, "-v", version)
        ids[version] = record_id(cli, "model", f"m:{version}")
    cli("gc", "--keep-last", "1")  # expired, objects still stored (grace period)
    err = cli.fails("model", "get", "m:1.0.0", code=1).err
    assert "was expired by `gc --keep-last 1` on" in err and "restore m:1.0.0" in err
    assert "no stage ref" not in err and "fsck" not in err
    cli("gc", "--keep-last", "1", "--prune", "now")  # now the objects are gone
    commands = [
        ["model", "get", "m:1.0.0"],
        ["model", "download", "m:1.0.0", "-o", tmp_path / "x"],
        ["model", "verify", "m:1.0.0"],
        ["verify", "m:1.0.0"],
        ["model", "stage", "m:1.0.0", "-t", "staging"],
        ["model", "lineage", "m:1.0.0"],
        ["model", "get", ids["1.0.0"]],
        ["model", "get", ids["1.0.0"][:10]],
    ]
    for args in commands:
        err = cli.fails(*args, code=1).err
        assert "m:1.0.0 was expired by `gc --keep-last 1` on" in err, (args, err)
        assert "its objects are gone" in err and ids["1.0.0"][:12] in err, (args, err)
        assert len(err.strip().splitlines()) == 1
    assert "cannot be restored" in cli.fails("model", "restore", "m:1.0.0", code=1).err
    assert "known versions" not in cli.fails("model", "get", "m:1.0.0").err
    cli("fsck")
