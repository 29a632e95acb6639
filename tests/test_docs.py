"""Every code block in README.md and docs/ runs, or is checked, as written (docs stay true).

- `sh` blocks run through the real `pacha` command with bash -e in a temp directory that
  holds the files they name; a command followed by a `# error: MESSAGE; ...` comment
  must fail with that message.
- `python` blocks are executed.
- `toml` blocks are recipes: registered and validated without an error or warning.
- `json` blocks parse; the hook input's keys are those a real hook receives.
- `text` blocks (directory layouts, grammars) are not code; any other block fails here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
LANGUAGES = {"sh", "python", "toml", "json", "text"}


def blocks(path: Path, lang: str | None = None) -> list[str]:
    return [code for found, code in FENCE.findall(path.read_text()) if lang is None or found == lang]


def test_every_block_has_a_language_the_tests_know() -> None:
    for path in DOCS:
        for lang, _code in FENCE.findall(path.read_text()):
            assert lang in LANGUAGES, (
                f"{path.name}: a ```{lang} block (tag it sh, python, toml, json or text)"
            )


# --- the files the examples name ---------------------------------------------------------------

TRAIN_PY = """import json, os
from porcelain import Registry

params = json.loads(os.environ["PACHA_PARAMS"])
run = Registry.open().run()  # the run `pacha recipe run` started (PACHA_RUN_ID)
run.log_metric("val_loss", 0.3 + params["learning_rate"] * 1000, step=1)
run.flush()
print("trained with learning_rate", params["learning_rate"])
"""


def workspace(tmp_path: Path) -> dict[str, str]:
    """A folder with every file the examples use, and the environment to run them in."""
    (tmp_path / "model.apr").write_bytes(os.urandom(4096))
    (tmp_path / "model.safetensors").write_bytes(os.urandom(20_000))
    (tmp_path / "data.ald").write_bytes(os.urandom(3000))
    (tmp_path / "val.ald").write_bytes(os.urandom(1000))
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    for folder in ("int8", "out", "bert-base", "bert/tokenizer", "checkpoints"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "int8" / "model.bin").write_bytes(os.urandom(1024))
    (tmp_path / "out" / "model.bin").write_bytes(os.urandom(2048))
    (tmp_path / "bert-base" / "config.json").write_text('{"hidden": 768}')
    (tmp_path / "bert" / "config.json").write_text("{}")
    (tmp_path / "bert" / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    (tmp_path / "checkpoints" / "best.pt").write_bytes(os.urandom(512))
    (tmp_path / "train.py").write_text(TRAIN_PY)
    (tmp_path / "recipe.toml").write_text(blocks(ROOT / "docs" / "recipes-and-runs.md", "toml")[0])
    (tmp_path / "uv.lock").write_text("# lock\n")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)  # `source .venv/bin/activate`
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
    env.update(PACHA_AUTHOR_NAME="Doc Reader", PACHA_AUTHOR_EMAIL="reader@example.com")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_sh(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """bash -e; `CMD` followed by `# error: MSG; ...` must fail saying MSG."""
    lines = code.splitlines()
    script = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if nxt.startswith("# error: "):
            message = nxt[len("# error: ") :].split("; ...")[0]
            script.append(f"if {line} 2>err.txt; then echo 'expected to fail: {line}' >&2; exit 1; fi")
            script.append(f"grep -qF {shlex.quote(message)} err.txt")
        else:
            script.append(line)
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def run_python(code: str, cwd: Path, env: dict[str, str], where: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{where}:\n{result.stderr[-3000:]}"


# --- README.md ---------------------------------------------------------------------------------


def test_readme_two_commands() -> None:
    """The first block names the demo and the test suite: the demo runs; test.sh is what runs
    this very test (running it here would recurse), so it is checked to be the suite runner."""
    code = blocks(ROOT / "README.md", "sh")[0]
    commands = [line.split("#")[0].strip() for line in code.splitlines() if line.strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    assert "pytest" in (ROOT / "scripts" / "test.sh").read_text()
    result = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """The shell block, then the Python block, in one folder (as a reader would)."""
    env = workspace(tmp_path)
    sh = blocks(ROOT / "README.md", "sh")[1]
    out = run_sh(sh, tmp_path, env).stdout
    assert "graph" in out and "prov" in out  # mermaid lineage and PROV-JSON were printed
    assert "trained with learning_rate" in out
    (python,) = blocks(ROOT / "README.md", "python")
    run_python(python, tmp_path, env, "README.md")
    got = subprocess.run(
        ["pacha", "model", "get", "fraud-detector@production", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    version = json.loads(got.stdout)
    assert version["version"] == "1.1.0" and version["record"]["metrics"] == {"auc": 0.93}


# --- docs/ ---------------------------------------------------------------------------------------


def test_api_example_runs(tmp_path: Path, monkeypatch) -> None:
    (code,) = blocks(ROOT / "docs" / "api.md", "python")
    env = workspace(tmp_path)
    monkeypatch.chdir(tmp_path)
    run_python(code, tmp_path, env, "docs/api.md")
    assert (tmp_path / "restored" / "tokenizer" / "vocab.txt").read_text() == "a\nb\n"


def _pacha(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        ["pacha", *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout


def _recipe_registry(tmp_path: Path, env: dict[str, str]) -> None:
    _pacha(tmp_path, env, "init", "-q")
    _pacha(tmp_path, env, "data", "register", "transactions", "data.ald", "-v", "1.0.0")
    _pacha(tmp_path, env, "data", "register", "transactions-val", "val.ald", "-v", "1.0.0")


def test_recipe_example_registers_without_a_warning(tmp_path: Path) -> None:
    (toml,) = blocks(ROOT / "docs" / "recipes-and-runs.md", "toml")
    tomllib.loads(toml)
    env = workspace(tmp_path)
    _recipe_registry(tmp_path, env)
    report = json.loads(_pacha(tmp_path, env, "recipe", "validate", "recipe.toml", "--json"))
    assert report["errors"] == [] and report["warnings"] == [], report
    _pacha(tmp_path, env, "recipe", "register", "recipe.toml")


def test_runs_python_example_runs_inside_a_recipe_run(tmp_path: Path) -> None:
    """Its last line attaches to the run `pacha recipe run` started, so it runs under one."""
    (code,) = blocks(ROOT / "docs" / "recipes-and-runs.md", "python")
    env = workspace(tmp_path)
    _recipe_registry(tmp_path, env)
    _pacha(tmp_path, env, "recipe", "register", "recipe.toml")
    (tmp_path / "example.py").write_text(code)
    _pacha(tmp_path, env, "recipe", "run", "bert-finetune:1.0.0", "--", sys.executable, "example.py")
    card = json.loads(_pacha(tmp_path, env, "model", "get", "fraud-bert:1.0.0", "--json"))["record"]["card"]
    assert card["training_recipe"]["ref"] == "bert-finetune:1.0.0"
    assert card["training_data"]["ref"] == "transactions:1.0.0"


def test_porcelain_request_example_registers(tmp_path: Path) -> None:
    """docs/porcelain.md: one RegisterRequest, consumed by Registry.register."""
    (code,) = blocks(ROOT / "docs" / "porcelain.md", "python")
    env = workspace(tmp_path)
    _pacha(tmp_path, env, "init", "-q")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "tiny:1.0.0"
    version = json.loads(_pacha(tmp_path, env, "model", "get", "tiny:1.0.0", "--json"))
    assert version["record"]["metrics"] == {"auc": 0.9} and version["stage"] == "development"


def test_hooks_example_refuses_as_shown(tmp_path: Path) -> None:
    (code,) = blocks(ROOT / "docs" / "hooks.md", "sh")
    env = workspace(tmp_path)
    _pacha(tmp_path, env, "init", "-q")
    _pacha(tmp_path, env, "model", "register", "fraud-detector", "model.apr", "-v", "1.0.0")
    run_sh(code, tmp_path, env)
    assert "development" in _pacha(tmp_path, env, "model", "list")  # refused: nothing moved


@pytest.mark.parametrize("path", [p for p in DOCS if blocks(p, "json")], ids=lambda p: p.name)
def test_json_blocks_parse(path: Path) -> None:
    for code in blocks(path, "json"):
        json.loads(code)


def test_hook_input_is_what_a_hook_receives(tmp_path: Path) -> None:
    (documented,) = [json.loads(c) for c in blocks(ROOT / "docs" / "hooks.md", "json")]
    env = workspace(tmp_path)
    _pacha(tmp_path, env, "init", "-q")
    _pacha(tmp_path, env, "model", "register", "m", "model.apr", "-v", "1.1.0", "--metric", "auc=0.93")
    hooks = tmp_path / ".pacha" / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text(f"#!/bin/sh\ncat > {tmp_path / 'input.json'}\n")
    (hooks / "pre-commit").chmod(0o755)
    _pacha(tmp_path, env, "model", "stage", "m:1.1.0", "-t", "production", "-m", "better auc")
    received = json.loads((tmp_path / "input.json").read_text())
    assert set(documented) == set(received)
    assert set(documented["record"]) <= set(received["record"])
    assert set(documented["updates"][0]) == set(received["updates"][0])
    assert set(documented["moves"][0]) == set(received["moves"][0])
