"""Issue 11.21: NaN and infinities are refused at every input; a record holding one stays readable."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from porcelain.errors import InvalidInput
from tests.conftest import snapshot
from tests.test_recipes import RECIPE, prepare_recipe

NON_FINITE_TEXT = ["inf", "-inf", "nan", "NaN", "Infinity", "-Infinity", "1e999", "-1e400"]
TOML_NON_FINITE = ["inf", "-inf", "+inf", "nan", "+nan", "-nan"]


@pytest.mark.parametrize("text", NON_FINITE_TEXT)
def test_cli_metric_refused_and_registry_unchanged(cli, tmp_path: Path, text: str) -> None:
    (tmp_path / "f.bin").write_bytes(b"weights")
    before = snapshot(cli.registry)
    result = cli.fails("model", "register", "m", "f.bin", "-v", "1.0.0", "--metric", f"auc={text}")
    assert "auc" in result.err and "finite" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert snapshot(cli.registry) == before


@pytest.mark.parametrize("value", TOML_NON_FINITE)
def test_card_metrics_refused(cli, tmp_path: Path, value: str) -> None:
    (tmp_path / "f.bin").write_bytes(b"weights")
    (tmp_path / "card.toml").write_text(f"[metrics]\nauc = {value}\n")
    before = snapshot(cli.registry)
    result = cli.fails("model", "register", "m", "f.bin", "-v", "1.0.0", "--card", "card.toml")
    assert "metrics.auc" in result.err and "finite" in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert snapshot(cli.registry) == before


def test_model_card_metric_names_the_field(cli, tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"weights")
    (tmp_path / "card.toml").write_text("[metrics]\nauc = nan\nf1 = 0.5\n")
    result = cli.fails("model", "register", "m", "f.bin", "-v", "1.0.0", "--card", "card.toml")
    assert "metrics.auc" in result.err and "finite" in result.err


@pytest.mark.parametrize("where", ["hyperparameters", "custom", "expected", "list"])
def test_recipe_numbers_refused(cli, tmp_path: Path, where: str) -> None:
    text = {
        "hyperparameters": RECIPE.replace("weight_decay = 0.01", "weight_decay = inf"),
        "custom": RECIPE.replace("dropout = 0.1", "dropout = nan"),
        "expected": RECIPE + "\n[expected_metrics]\nval_accuracy = -inf\n",
        "list": RECIPE.replace('labels = ["fraud", "ok"]', "labels = [1.0, nan]"),
    }[where]
    path = prepare_recipe(cli, tmp_path, text)
    before = snapshot(cli.registry)
    result = cli.fails("recipe", "register", path)
    assert "finite" in result.err and len(result.err.strip().splitlines()) == 1
    assert snapshot(cli.registry) == before
    assert cli.fails("recipe", "validate", path, code=1).code == 1


@pytest.mark.parametrize("text", ["inf", "nan", "-1e999"])
def test_run_inputs_refused(cli, tmp_path: Path, text: str) -> None:
    path = prepare_recipe(cli, tmp_path)
    cli("recipe", "register", path)
    result = cli.fails("run", "start", "bert-finetune:1.0.0", "--override", f"weight_decay={text}")
    assert "finite" in result.err
    run = cli("run", "start", "bert-finetune:1.0.0").text.strip()
    result = cli.fails("run", "log", run, f"loss={text}")
    assert "loss" in result.err and "finite" in result.err
    cli("run", "log", run, "loss=0.5")
    cli("run", "finish", run)
    got = json.loads(cli("run", "get", run, "--json").text)
    assert got["record"]["metrics"]["loss"]["count"] == 1


def test_python_api_refuses_with_python_errors(cli, tmp_path: Path, monkeypatch) -> None:
    from porcelain import RegisterRequest, Registry

    monkeypatch.chdir(tmp_path)
    reg = Registry.open(cli.registry)
    (tmp_path / "f.bin").write_bytes(b"weights")
    with pytest.raises(InvalidInput, match="finite"):
        reg.register_model("m", tmp_path / "f.bin", version="1.0.0", metrics={"auc": math.inf})
    with pytest.raises(InvalidInput, match="finite"):
        reg.register_model("m", tmp_path / "f.bin", version="1.0.0", card={"metrics": {"auc": math.nan}})
    with pytest.raises(InvalidInput, match="finite"):
        reg.register(
            RegisterRequest(
                kind="model",
                name="m",
                path=tmp_path / "f.bin",
                version="1.0.0",
                card={"weights": {"x": [math.inf]}},
            )
        )
    path = prepare_recipe(cli, tmp_path)
    cli("recipe", "register", path)
    with pytest.raises(InvalidInput, match="finite"):
        reg.start_run("bert-finetune:1.0.0", overrides={"weight_decay": math.inf})
    with reg.start_run("bert-finetune:1.0.0") as run:
        with pytest.raises(InvalidInput, match="finite"):
            run.log_metric("loss", math.nan)
        run.log_metric("loss", 0.25)
    assert reg.list("model") == []


@settings(max_examples=40, deadline=None)
@given(
    st.recursive(
        st.sampled_from([math.inf, -math.inf, math.nan]),
        lambda inner: (
            st.lists(inner, min_size=1, max_size=3)
            | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, min_size=1, max_size=2)
        ),
        max_leaves=4,
    ),
    st.sampled_from(["model", "dataset"]),
)
def test_any_nested_non_finite_number_is_refused(tmp_path_factory, value, kind) -> None:
    import pacha
    from porcelain import RegisterRequest, Registry

    root = tmp_path_factory.mktemp("reg")
    pacha.init_registry(root / ".pacha")
    (root / "f.bin").write_bytes(b"weights")
    reg = Registry.open(root / ".pacha")
    field = "weights" if kind == "model" else "extra"
    card = {field: {"nested": value}}
    with pytest.raises(InvalidInput, match="finite"):
        reg.register(RegisterRequest(kind=kind, name="m", path=root / "f.bin", version="1.0.0", card=card))
    assert reg.list(kind) == []


def _plant_null_metric(cli, tmp_path: Path) -> str:
    """With plumbing only, write m:1.1.0 whose record holds metrics.auc = null (as older Pacha did)."""
    (tmp_path / "f.bin").write_bytes(b"first model weights, long enough" * 4)
    (tmp_path / "g.bin").write_bytes(b"second model weights, long enough" * 4)
    cli("model", "register", "m", "f.bin", "-v", "1.0.0", "--metric", "auc=0.5")
    doc = json.loads(cli("model", "get", "m:1.0.0", "--json").text)["record"]
    doc["version"] = "1.1.0"
    doc["metrics"] = {"auc": None, "f1": 0.75}
    (tmp_path / "rec.json").write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    record_id = cli("hash-object", "-w", "-t", "record", "rec.json").text.strip()
    cli("write-ref", "models/m/1.1.0", record_id, "--create")
    cli("write-ref", "stages/models/m/development/1.1.0", record_id, "--create")
    return record_id


def test_a_record_holding_null_stays_readable(cli, tmp_path: Path) -> None:
    record_id = _plant_null_metric(cli, tmp_path)
    (tmp_path / "other.bin").write_bytes(b"another model")
    cli("model", "register", "other", "other.bin", "-v", "1.0.0")
    listed = cli("model", "list").text
    assert "other" in listed and "1.1.0" in listed
    shown = cli("model", "get", "m:1.1.0").text
    assert "missing" in shown and "0.75" in shown
    got = json.loads(cli("model", "get", "m:1.1.0", "--json").text)
    assert got["id"] == record_id and got["record"]["metrics"] == {"auc": None, "f1": 0.75}
    assert "auc" not in cli("model", "card", "m:1.1.0").text
    cli("model", "card", "m:1.1.0", "--format", "md")
    cli("verify", "m:1.1.0")
    cli("stats")
    cli("reindex")
    cli("model", "lineage", "m:1.1.0")
    cli("model", "stage", "m:1.1.0", "-t", "staging")
    cli("model", "register", "m", "g.bin", "--bump", "minor")
    assert "1.2.0" in cli("model", "list", "m").text


def test_an_old_run_point_that_is_not_finite_is_missing(cli, tmp_path: Path) -> None:
    import struct

    import pacha
    from porcelain.runs.metrics import METRICS_INDEX, POINT, metric_key

    path = prepare_recipe(cli, tmp_path)
    cli("recipe", "register", path)
    run = cli("run", "start", "bert-finetune:1.0.0").text.strip()
    cli("run", "log", run, "loss=0.5", "--step", "0")
    run_id = json.loads(cli("run", "get", run, "--json").text)["id"]
    plumbing = pacha.open_registry(cli.registry)
    with plumbing.transaction("plant") as tx:
        tx.index_add(METRICS_INDEX, metric_key(run_id, "loss"), POINT.pack(2**62, 1, math.inf))
        tx.index_add(METRICS_INDEX, metric_key(run_id, "bad"), POINT.pack(2**62, 0, math.nan))
    assert struct.calcsize(POINT.format) == POINT.size
    cli("run", "metrics", run)
    cli("run", "finish", run)
    got = json.loads(cli("run", "get", run, "--json").text)["record"]["metrics"]
    assert got["loss"]["count"] == 1 and got["loss"]["last"] == 0.5 and "bad" not in got
    cli("run", "list")
