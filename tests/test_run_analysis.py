"""compare / best / importance / metrics / plot on known data, with exact expected results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from porcelain import Registry
from tests.test_recipes import prepare_recipe


@pytest.fixture
def runs(cli, tmp_path: Path, monkeypatch) -> Registry:
    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    monkeypatch.setenv("PACHA_DIR", str(cli.registry))
    reg = Registry.open()
    # two groups that differ in learning rate, three seeds each; accuracy is known exactly
    table = [
        (0.1, 1, 0.80),
        (0.1, 2, 0.82),
        (0.1, 3, 0.81),
        (0.01, 1, 0.90),
        (0.01, 2, 0.91),
        (0.01, 3, 0.92),
    ]
    for lr, seed, acc in table:
        with reg.start_run("bert-finetune:1.0.0", overrides={"learning_rate": lr, "seed": seed}) as run:
            for step in range(5):
                run.log_metric("acc", acc - 0.1 * (4 - step) / 4, step=step)  # rises to acc
            run.log_metric("loss", 1 - acc)
    return reg


def test_compare_groups_seeds_and_runs_welch(cli, runs) -> None:
    out = json.loads(cli("run", "compare", *[f"run-00{i}" for i in range(1, 7)], "--json").text)
    assert sorted(out["params"]) == ["learning_rate", "seed"]
    groups = out["groups"]["acc"]
    a, b = groups["run-001+run-002+run-003"], groups["run-004+run-005+run-006"]
    assert math.isclose(a["mean"], 0.81) and math.isclose(a["std"], 0.01)
    assert math.isclose(b["mean"], 0.91) and math.isclose(b["std"], 0.01)
    (p_value,) = out["welch_p"]["acc"].values()
    t = 0.1 / math.sqrt(0.01**2 / 3 + 0.01**2 / 3)  # Welch t, 4 degrees of freedom here
    x = t / math.sqrt(4 + t * t)
    expected = 2 * (1 - (0.5 + 0.75 * x * (1 - x * x / 3)))  # Student t CDF for df = 4, closed form
    assert math.isclose(p_value, expected, rel_tol=1e-6)
    assert out["metrics"]["acc"]["run-001"] == {
        "last": 0.8,
        "min": pytest.approx(0.7),
        "max": 0.8,
        "count": 5,
        "last_step": 4,
    }
    table = cli("run", "compare", "run-001", "run-004").text
    assert "learning_rate" in table and "0.1" in table and "0.01" in table
    cli.fails("run", "compare", "run-001", code=2)  # a usage error


def test_best_and_importance(cli, runs) -> None:
    assert cli("run", "best", "bert-finetune", "-v", "1.0.0", "-m", "acc").text.startswith("run-006 acc=0.92")
    assert cli("run", "best", "bert-finetune:1.0.0", "--metric", "loss", "--minimize").text.startswith(
        "run-006"
    )
    assert cli("run", "best", "bert-finetune", "-m", "loss").text.startswith("run-001")
    cli.fails("run", "best", "bert-finetune", "-m", "f1", code=1)
    rows = json.loads(cli("run", "importance", "bert-finetune", "--metric", "acc", "--json").text)
    assert [r["param"] for r in rows] == ["learning_rate", "seed"]
    # Spearman = Pearson on ranks. learning_rate ranks (ties averaged): 5,5,5,2,2,2; acc ranks: 1,3,2,4,5,6.
    # Covariance sum -13.5, variance sums 13.5 and 17.5.
    assert math.isclose(rows[0]["spearman_rho"], -13.5 / math.sqrt(13.5 * 17.5), rel_tol=1e-9)
    assert rows[0]["runs"] == 6


def test_metrics_and_plot(cli, runs, tmp_path: Path) -> None:
    text = cli("run", "metrics", "run-001", "--metric", "acc").text
    assert text.startswith("acc: ▁▃▅▆█  last 0.8")  # 0.7 .. 0.8 in quarter steps
    series = json.loads(cli("run", "metrics", "run-001", "--json").text)
    assert [p["step"] for p in series["acc"]] == [0, 1, 2, 3, 4]
    png = tmp_path / "curve.png"
    assert "2 curve(s)" in cli("run", "plot", "run-001", "run-004", "--metric", "acc", "-o", png).text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cli.fails("run", "metrics", "run-001", "--metric", "nope", code=1)
