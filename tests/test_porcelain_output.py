"""Issue 11.16: porcelain output in a pipe is never cut or wrapped; every porcelain command has --json."""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path

import pytest

from porcelain.cli import OVERRIDES, PORCELAIN
from tests.test_recipes import RECIPE, prepare_recipe

LONG = "team-with-a-rather-long-namespace/" + "a-model-name-long-enough-to-overflow-any-terminal-" * 2 + "end"


def _leaf_commands():
    """(command line, click command) for every porcelain command, subcommands included."""
    import typer.main

    def walk(prefix: str, command):
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                yield from walk(f"{prefix} {name}", sub)
        else:
            yield prefix, command

    for name, module in {**PORCELAIN, **OVERRIDES}.items():
        yield from walk(f"pacha {name}", typer.main.get_command(import_module(module).app))


def test_every_porcelain_command_accepts_json() -> None:
    commands = list(_leaf_commands())
    assert len(commands) > 30  # the walk reaches subcommands (model list, model lineage add, ...)
    lacking = [line for line, command in commands if not any("--json" in p.opts for p in command.params)]
    assert lacking == [], f"porcelain commands without --json: {lacking}"


def _registry_with_long_names(cli, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "m.bin").write_bytes(b"model weights, long enough to store" * 3)
    (tmp_path / "m2.bin").write_bytes(b"second model weights, long enough" * 3)
    cli("model", "register", LONG, "m.bin", "-v", "1.1.0", "--metric", "a_rather_long_metric_name_here=0.5")
    cli("model", "register", LONG, "m2.bin", "-v", "1.2.0", "-m", "why " * 40)
    cli("model", "stage", f"{LONG}:1.1.0", "-t", "staging", "-m", "a long reason " * 20)
    long_recipe = RECIPE.replace('name = "bert-finetune"', f'name = "{LONG}"').replace(
        "dropout = 0.1", "dropout_of_a_very_long_hyperparameter_name_that_goes_on_and_on = 0.1"
    )
    path = prepare_recipe(cli, tmp_path, long_recipe)
    (tmp_path / f"{'x' * 150}.csv").write_text("a,b\n1,2\n")
    cli("data", "register", LONG, f"{'x' * 150}.csv", "-v", "1.1.0")
    cli("recipe", "register", path)
    run1 = cli("run", "start", f"{LONG}:1.0.0").text.strip()
    cli("run", "log", run1, "a_rather_long_metric_name_here=0.25")
    cli("run", "finish", run1)
    run2 = cli(
        "run",
        "start",
        f"{LONG}:1.0.0",
        "--override",
        "dropout_of_a_very_long_hyperparameter_name_that_goes_on_and_on=0.2",
    ).text.strip()
    cli("run", "log", run2, "a_rather_long_metric_name_here=0.5")
    cli("run", "finish", run2)
    return {"run1": run1, "run2": run2, "recipe": str(path)}


TABLES = [
    (["model", "list"], [LONG, "1.1.0"]),
    (["model", "list", LONG], [LONG, "1.2.0"]),
    (["data", "list"], [LONG, "1.1.0"]),
    (["recipe", "list"], [LONG, "1.0.0"]),
    (["model", "history", LONG], ["a long reason " * 5, "1.1.0"]),
    (["model", "get", f"{LONG}:1.2.0"], [LONG, "why " * 40]),
    (["model", "get", f"{LONG}:1.1.0"], ["a_rather_long_metric_name_here"]),
    (["data", "get", f"{LONG}:1.1.0"], ["x" * 150 + ".csv"]),
    (["run", "list"], [f"{LONG}:1.0.0", "a_rather_long_metric_name_here=0.25"]),
    (["run", "list", LONG], [f"{LONG}:1.0.0"]),
    (["run", "get", "{run2}"], ["dropout_of_a_very_long_hyperparameter_name_that_goes_on_and_on"]),
    (
        ["run", "compare", "{run1}", "{run2}"],
        ["dropout_of_a_very_long_hyperparameter_name_that_goes_on_and_on"],
    ),
    (["model", "lineage", f"{LONG}:1.1.0"], [LONG]),
    (["recipe", "validate", "{recipe}"], ["{recipe}: ok"]),
    (["stats"], ["saved by compression"]),
]


def test_no_table_is_cut_or_wrapped_in_a_pipe(cli, tmp_path: Path) -> None:
    names = _registry_with_long_names(cli, tmp_path)
    env = dict(cli.env, COLUMNS="40")  # even a small COLUMNS does not narrow output without a terminal
    for args, wanted in TABLES:
        args = [a.format(**names) for a in args]
        result = cli(*args, env=env)
        for text in (w.format(**names) for w in wanted):
            assert any(text in line for line in result.lines), (args, text, result.text)
        assert "…" not in result.text, (args, result.text)
        assert "\x1b[" not in result.text, (args, "no colour codes in a pipe")


def test_json_outputs_parse_and_have_their_documented_keys(cli, tmp_path: Path) -> None:
    names = _registry_with_long_names(cli, tmp_path)
    run1 = names["run1"]

    def js(*args: str):
        return json.loads(cli(*args, "--json").text)

    (tmp_path / "m3.bin").write_bytes(b"third model weights, long enough" * 3)
    assert js("model", "download", f"{LONG}:1.1.0", "-o", str(tmp_path / "out.bin"))["path"].endswith(
        "out.bin"
    )
    moves = js("model", "stage", f"{LONG}:1.2.0", "-t", "production")
    assert moves[0]["to"] == "production" and moves[0]["version"] == "1.2.0"
    assert js("model", "card", f"{LONG}:1.1.0")["card"]["name"] == LONG
    assert {"root", "nodes", "edges"} <= set(js("model", "lineage", f"{LONG}:1.1.0"))
    assert js("model", "provenance", f"{LONG}:1.1.0")
    cli("model", "register", "small", "m3.bin", "-v", "1.0.0")
    edges = js(
        "model",
        "lineage",
        "add",
        "small:1.0.0",
        "--from",
        f"{LONG}:1.1.0",
        "--relation",
        "quantized",
        "--param",
        "quantization=int8",
    )
    assert edges[0]["relation"] == "quantized" and edges[0]["parent"].startswith(LONG)
    verified = js("verify", "small:1.0.0")
    assert verified["ok"] is True and verified["objects"] >= 2
    shown = js("recipe", "show", f"{LONG}:1.0.0")
    assert shown["text"].startswith("# BERT") and shown["recipe"]["name"] == LONG
    assert js("reindex") == {"lineage_edges": 1, "runs": 2}
    assert js("rev-parse", "small:1.0.0")[0]["spec"] == "small:1.0.0"
    started = js("run", "start", f"{LONG}:1.0.0")
    logged = js("run", "log", started["name"], "loss=0.5", "--step", "3")
    assert logged == {"id": started["id"], "name": started["name"], "step": 3, "logged": {"loss": 0.5}}
    assert js("run", "artifact", started["name"], str(tmp_path / "m3.bin"))["attached"]["path"] == "m3.bin"
    assert js("run", "finish", started["name"])["status"] == "completed"
    plotted = js("run", "plot", run1, "-m", "a_rather_long_metric_name_here", "-o", str(tmp_path / "c.png"))
    assert plotted["runs"] == [run1]
    gc = js("gc", "--keep-last", "1", "--dry-run")
    assert gc["dry_run"] is True and {"objects", "removed", "expired"} <= set(gc)
    deleted = js("model", "delete", "small:1.0.0")
    assert deleted["deleted"] is True and deleted["version"] == "1.0.0"


def test_recipe_diff_json(cli, tmp_path: Path) -> None:
    path = prepare_recipe(cli, tmp_path)
    cli("recipe", "register", path)
    path.write_text(
        RECIPE.replace('version = "1.0.0"', 'version = "1.1.0"').replace("epochs = 3", "epochs = 4")
    )
    cli("recipe", "register", path)
    diff = json.loads(cli("recipe", "diff", "bert-finetune:1.0.0", "bert-finetune:1.1.0", "--json").text)
    assert diff["hyperparameters"] == {"epochs": {"old": 3, "new": 4}}
    assert "+epochs = 4" in diff["diff"]


def test_recipe_run_json_keeps_stdout_for_the_json(cli, tmp_path: Path) -> None:
    path = prepare_recipe(cli, tmp_path)
    cli("recipe", "register", path)
    result = cli("recipe", "run", "bert-finetune:1.0.0", "--json", "--", "echo", "hello from training")
    info = json.loads(result.text)
    assert info["status"] == "completed" and "hello from training" in result.err


@pytest.mark.parametrize("command", [["model", "list"], ["run", "list"], ["stats"]])
def test_json_is_the_same_with_or_without_a_terminal_width(cli, command: list[str]) -> None:
    narrow = cli(*command, "--json", env=dict(cli.env, COLUMNS="20")).text
    assert narrow == cli(*command, "--json").text
