"""Runs: lifecycle through the CLI and the Python API, command execution, died runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from porcelain import Registry
from porcelain.runs.records import RUNNING
from tests.test_recipes import RECIPE, prepare_recipe

TRAIN = """
import json, os, sys
from porcelain import Registry
params = json.loads(os.environ["PACHA_PARAMS"])
print("lr", params["learning_rate"], "epochs", params["epochs"], flush=True)
run = Registry.open().run()
for step in range(50):
    run.log_metric("val_loss", 1.0 / (step + 1), step=step)
sys.exit(int(os.environ.get("FAIL", "0")))  # no flush: buffered points are written at exit
"""


@pytest.fixture
def recipe(cli, tmp_path: Path) -> str:
    text = RECIPE.replace('command = "python train.py"', f'command = "{sys.executable} train.py"')
    cli("recipe", "register", prepare_recipe(cli, tmp_path, text))
    (tmp_path / "train.py").write_text(TRAIN)
    return "bert-finetune:1.0.0"


def run_json(cli, name: str) -> dict:
    return json.loads(cli("run", "get", name, "--json").text)


def test_shell_tracking_lifecycle(cli, recipe: str, tmp_path: Path) -> None:
    name = cli("run", "start", recipe, "--override", "learning_rate=1e-5").text.strip()
    assert name == "run-001"
    cli("run", "log", name, "loss=0.9", "acc=0.5", "--step", "1")
    cli("run", "log", name, "loss=0.4", "--step", "2")
    (tmp_path / "best.pt").write_bytes(b"checkpoint")
    artifact_id = cli("run", "artifact", name, tmp_path / "best.pt").text.strip()
    running = run_json(cli, name)
    assert running["status"] == RUNNING
    assert running["record"]["params"]["learning_rate"] == 1e-5
    assert running["record"]["overrides"] == {"learning_rate": 1e-5}
    assert running["record"]["system"]["python"] and running["record"]["host"]
    assert cli("run", "finish", name).text.strip() == "run-001: completed"
    done = run_json(cli, name)["record"]
    assert done["metrics"]["loss"] == {"last": 0.4, "min": 0.4, "max": 0.9, "count": 2, "last_step": 2}
    assert done["artifacts"][0]["id"] == artifact_id and artifact_id in done["links"]
    assert cli("cat-object", "blob", artifact_id).out == b"checkpoint"
    cli.fails("run", "finish", name, code=1)  # already finished
    cli.fails("run", "log", name, "loss=1", code=1)
    cli("fsck")


def test_recipe_run_executes_the_command(cli, recipe: str, tmp_path: Path) -> None:
    result = cli("recipe", "run", recipe, "--override", "epochs=7", cwd=tmp_path)
    assert "lr 2e-05 epochs 7" in result.text
    info = run_json(cli, "run-001")
    assert info["status"] == "completed" and info["record"]["exit_code"] == 0
    assert info["record"]["metrics"]["val_loss"]["count"] == 50
    assert b"lr 2e-05 epochs 7" in cli("cat-object", "blob", info["record"]["log"]).out
    failing = dict(cli.env, FAIL="3")
    failed = cli(
        "recipe", "run", recipe, "--", sys.executable, "train.py", env=failing, cwd=tmp_path, ok=False
    )
    assert failed.code == 1
    info = run_json(cli, "run-002")
    assert info["status"] == "failed" and info["record"]["exit_code"] == 3
    statuses = {
        r["name"]: r["status"] for r in json.loads(cli("run", "list", "bert-finetune", "--json").text)
    }
    assert statuses == {"run-001": "completed", "run-002": "failed"}
    assert [r["name"] for r in json.loads(cli("run", "list", "--status", "failed", "--json").text)] == [
        "run-002"
    ]


def test_recipe_run_without_command_prints_the_run(cli, recipe: str, tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text(RECIPE.replace('version = "1.0.0"', 'version = "2.0.0"').split("[run]")[0])
    cli("recipe", "register", plain)
    name = cli("recipe", "run", "bert-finetune:2.0.0", "--override", "learning_rate=1e-5").text.strip()
    assert name == "run-001" and run_json(cli, name)["status"] == RUNNING


@pytest.mark.parametrize(
    "override, words",
    [("epochs=seven", "integer"), ("momentum=0.9", "no hyperparameter"), ("use_amp=maybe", "bool")],
)
def test_bad_overrides_start_nothing(cli, recipe: str, override: str, words: str) -> None:
    assert words in cli.fails("run", "start", recipe, "--override", override, code=128).err
    assert json.loads(cli("run", "list", "--json").text) == []


def test_python_api_context_manager(cli, recipe: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PACHA_DIR", str(cli.registry))
    reg = Registry.open()
    with reg.start_run(recipe, overrides={"learning_rate": 1e-4, "epochs": 2}) as run:
        for step in range(10):
            run.log_metric("loss", 1 / (step + 1))
        run.log_artifact(tmp_path / "train.py")
    done = reg.get_run(run.name)
    assert done.status == "completed" and done.record["params"]["epochs"] == 2
    assert done.record["metrics"]["loss"]["last_step"] == 9
    with pytest.raises(ZeroDivisionError), reg.start_run(recipe) as run:
        run.log_metric("loss", 1.0)
        _ = 1 / 0
    assert reg.get_run(run.name).status == "failed"
    with pytest.raises(Exception, match="no hyperparameter"):
        reg.start_run(recipe, overrides={"momentum": 0.9})
    with pytest.raises(Exception, match="has int"):
        reg.start_run(recipe, overrides={"epochs": 2.5})


def test_a_run_whose_process_died_is_shown_as_died(cli, recipe: str, tmp_path: Path) -> None:
    script = (
        "from porcelain import Registry; import os; "
        f"r = Registry.open({str(cli.registry)!r}).start_run({recipe!r}); print(r.name, flush=True); "
        "os._exit(0)"
    )
    name = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert run_json(cli, name)["status"] == "died"
    assert [r["name"] for r in json.loads(cli("run", "list", "--status", "died", "--json").text)] == [name]


def test_run_names_and_ids_resolve(cli, recipe: str) -> None:
    name = cli("run", "start", recipe).text.strip()
    run_id = run_json(cli, name)["id"]
    assert run_json(cli, run_id)["name"] == name
    assert run_json(cli, run_id[:8])["name"] == name
    cli.fails("run", "get", "run-999", code=1)
    cli.fails("run", "finish", name, "--status", "exploded", code=128)


MODEL_FROM_RUN = """
import os
from pathlib import Path
from porcelain import Registry
reg = Registry.open()
run = reg.run()
run.log_metric("auc", 0.7, step=1)
run.log_metric("auc", 0.93, step=2)  # still buffered: registering the model flushes first
Path("model.bin").write_bytes(os.urandom(100))
reg.register_model("from-run", "model.bin")
"""


def test_models_and_data_carry_the_run(cli, recipe: str, tmp_path: Path) -> None:
    (tmp_path / "train_and_register.py").write_text(MODEL_FROM_RUN)
    cli("recipe", "run", recipe, "--", sys.executable, "train_and_register.py", cwd=tmp_path)
    model = json.loads(cli("model", "get", "from-run:1.0.0", "--json").text)["record"]
    run = run_json(cli, "run-001")
    assert model["card"]["run"]["ref"] == "run-001"
    assert model["card"]["training_recipe"]["ref"] == "bert-finetune:1.0.0"
    assert model["card"]["training_data"]["ref"] == "transactions:1.0.0"
    assert model["metrics"] == {"auc": 0.93}
    assert run["record"]["artifacts"][0]["ref"] == "from-run:1.0.0"
    (tmp_path / "out.csv").write_text("x\n1\n")
    cli("data", "register", "predictions", tmp_path / "out.csv", "--generated-by", "run-001")
    provn = cli("data", "provenance", "predictions:latest", "--format", "prov-n").text
    assert "wasGeneratedBy(pacha:dataset/predictions/1.0.0, pacha:run/run-001" in provn
    model_prov = cli("model", "provenance", "from-run:1.0.0").text
    assert "from-run:1.0.0 wasGeneratedBy run-001" in model_prov
    cli.fails("data", "register", "p2", tmp_path / "out.csv", "--generated-by", "run-404", code=1)


def test_cli_refusals_are_one_line(cli, recipe: str, tmp_path: Path) -> None:
    name = cli("run", "start", recipe).text.strip()
    cli("run", "log", name, "loss=0.5")
    cli("run", "finish", name)
    missing_dir = tmp_path / "no" / "such" / "dir" / "x.png"
    result = cli.fails("run", "plot", name, "--metric", "loss", "-o", missing_dir, code=128)
    assert "does not exist" in result.err
    assert "NAME=NUMBER" in cli.fails("run", "log", name, "loss=abc", code=128).err
    assert "no model named ghost" in cli.fails("model", "history", "ghost", code=1).err
