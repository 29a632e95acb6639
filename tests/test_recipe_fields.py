"""Issue 11.18: the specification's recipe fields, secrets refused, unknown keys warned at every depth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from porcelain.recipes.schema import looks_secret
from tests.conftest import snapshot

# Written with the specification's names (seed spec, section 5: TrainingRecipe,
# Dependencies, HardwareSpec).
SPEC_RECIPE = """name = "spec-recipe"
version = "1.0.0"
description = "every field spelled as the specification spells it"
random_seed = 7
deterministic = true
train_data = "transactions:1.0.0"
validation_data = "transactions-val:1.0.0"
preprocessing = ["lowercase"]
augmentation = []

[architecture]
base = "mlp"

[hyperparameters]
learning_rate = 0.001
batch_size = 64
epochs = 2
weight_decay = 0.0
max_grad_norm = 1.0
warmup_steps = 10
[hyperparameters.custom]
hidden = 128

[optimizer]
name = "adam"
[loss]
name = "bce"

[dependencies]
rust_version = "1.79"
cargo_lock_hash = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
system_deps = ["cuda-12.1"]
[dependencies.env_vars]
TOKENIZERS_PARALLELISM = "false"
OMP_NUM_THREADS = "4"

[hardware_requirements]
min_cpu_cores = 4
min_ram_gb = 16
gpu = "none"
estimated_duration = "10m"

[expected_metrics]
auc = 0.9
"""


@pytest.fixture
def datasets(cli, tmp_path: Path) -> None:
    for name in ("transactions", "transactions-val"):
        (tmp_path / f"{name}.csv").write_text("a,b\n1,2\n")
        cli("data", "register", name, f"{name}.csv", "-v", "1.0.0")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    return path


def test_specification_names_are_read_as_written(cli, tmp_path: Path, datasets) -> None:
    path = _write(tmp_path, SPEC_RECIPE)
    report = json.loads(cli("recipe", "validate", path, "--json").text)
    assert report["errors"] == [] and report["warnings"] == [], report
    cli("recipe", "register", path)
    card = json.loads(cli("recipe", "get", "spec-recipe:1.0.0", "--json").text)["record"]["card"]
    train = json.loads(cli("data", "get", "transactions:1.0.0", "--json").text)["id"]
    assert card["train_data"] == {"ref": "transactions:1.0.0", "id": train}
    assert card["validation_data"]["ref"] == "transactions-val:1.0.0"
    assert card["lock_hash"] == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    assert cli("recipe", "show", "spec-recipe:1.0.0").text == SPEC_RECIPE  # stored byte for byte
    # the registered recipe validates again (its data pins hold), and runs with its parameters
    assert json.loads(cli("recipe", "validate", "spec-recipe:1.0.0", "--json").text)["errors"] == []
    run = json.loads(cli("run", "start", "spec-recipe:1.0.0", "--override", "hidden=256", "--json").text)
    assert run["record"]["params"]["hidden"] == 256 and run["record"]["params"]["seed"] == 7


def test_a_model_trained_by_a_spec_recipe_gets_its_training_data(cli, tmp_path: Path, datasets) -> None:
    cli("recipe", "register", _write(tmp_path, SPEC_RECIPE))
    (tmp_path / "m.bin").write_bytes(b"trained weights, long enough" * 3)
    script = (
        "from porcelain import Registry\n"
        "reg = Registry.open()\n"
        "with reg.start_run('spec-recipe:1.0.0') as run:\n"
        "    run.log_metric('auc', 0.91)\n"
        "    reg.register_model('m', 'm.bin', version='1.0.0', run=run.id)\n"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=cli.env, check=True)
    card = json.loads(cli("model", "get", "m:1.0.0", "--json").text)["record"]["card"]
    assert card["training_data"]["ref"] == "transactions:1.0.0"
    assert card["evaluation_data"]["ref"] == "transactions-val:1.0.0"


@pytest.mark.parametrize("table", ["dependencies.env_vars", "dependencies.env"])
@pytest.mark.parametrize(
    "name", ["API_TOKEN", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "openaiApiKey", "GHTOKEN"]
)
def test_secret_environment_variables_are_refused(
    cli, tmp_path: Path, datasets, table: str, name: str
) -> None:
    path = _write(tmp_path, SPEC_RECIPE.replace("[dependencies.env_vars]", f'[{table}]\n{name} = "abc"'))
    before = snapshot(cli.registry)
    result = cli.fails("recipe", "register", path)
    assert f"{table}.{name} looks like a secret" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert snapshot(cli.registry) == before
    assert cli.fails("recipe", "validate", path).code == 1


def test_a_secret_in_a_command_line_is_refused(cli, tmp_path: Path, datasets) -> None:
    path = _write(tmp_path, SPEC_RECIPE + '\n[run]\ncommand = "HF_TOKEN=hf_abc python train.py"\n')
    assert "run.command sets HF_TOKEN" in cli.fails("recipe", "register", path).err
    cli("recipe", "register", _write(tmp_path, SPEC_RECIPE))
    before = snapshot(cli.registry)
    result = cli.fails("recipe", "run", "spec-recipe:1.0.0", "--", "env", "DB_PASSWORD=x", "true")
    assert "DB_PASSWORD" in result.err and "secret" in result.err
    assert snapshot(cli.registry) == before
    assert json.loads(cli("run", "list", "--json").text) == []


def test_a_run_record_keeps_no_environment_variables(cli, tmp_path: Path, datasets) -> None:
    cli("recipe", "register", _write(tmp_path, SPEC_RECIPE))
    env = dict(cli.env, HF_TOKEN="hf_secret_value_123")
    out = cli("recipe", "run", "spec-recipe:1.0.0", "--json", "--", "true", env=env).text
    assert "hf_secret_value_123" not in out
    run = json.loads(out)
    got = cli("run", "get", run["name"], "--json", env=env).text
    assert "hf_secret_value_123" not in got


@pytest.mark.parametrize(
    "addition, path",
    [
        ("[dependencies.extra]\nx = 1\n", "dependencies.extra"),
        ("[hardware_requirements.gpu_count]\nmin = 1\n", None),  # gpu is free-form; gpu_count is not
        ("[run]\ncommand = 'true'\ncwd = '/tmp'\n", "run.cwd"),
        ("[data]\ntrian = 'x'\n", "data.trian"),
        ("trian_data = 'x'\n", "trian_data"),
    ],
)
def test_unknown_keys_are_warned_at_every_depth(cli, tmp_path: Path, datasets, addition: str, path) -> None:
    text = SPEC_RECIPE
    if addition.startswith("trian_data"):
        text = addition + text
    elif addition.startswith("[hardware_requirements.gpu_count]"):
        text = text.replace('gpu = "none"\n', "gpu_count = 1\n")
        path = "hardware_requirements.gpu_count"
    else:
        text += addition
    report = json.loads(cli("recipe", "validate", _write(tmp_path, text), "--json").text)
    assert report["errors"] == []
    assert any(repr(path) in w for w in report["warnings"]), report["warnings"]


def test_non_standard_hyperparameter_is_warned(cli, tmp_path: Path, datasets) -> None:
    text = SPEC_RECIPE.replace("warmup_steps = 10\n", "warmup_steps = 10\nmomentum = 0.9\n")
    report = json.loads(cli("recipe", "validate", _write(tmp_path, text), "--json").text)
    assert any("hyperparameters.momentum" in w and "custom" in w for w in report["warnings"])


def test_both_spellings_of_one_field_is_an_error(cli, tmp_path: Path, datasets) -> None:
    text = SPEC_RECIPE + '\n[data]\ntrain = "transactions-val:1.0.0"\n'
    result = cli.fails("recipe", "register", _write(tmp_path, text))
    assert "train_data and data.train" in result.err
    same = SPEC_RECIPE + '\n[data]\ntrain = "transactions:1.0.0"\n'  # the same value twice is fine
    cli("recipe", "register", _write(tmp_path, same))


def test_short_names_still_work(cli, tmp_path: Path, datasets) -> None:
    short = (
        SPEC_RECIPE.replace('train_data = "transactions:1.0.0"\n', "")
        .replace('validation_data = "transactions-val:1.0.0"\n', "")
        .replace("[dependencies.env_vars]", "[dependencies.env]")
        .replace("[hardware_requirements]", "[hardware]")
        .replace("min_cpu_cores", "cpu_cores")
        + '[data]\ntrain = "transactions:1.0.0"\n'
    )
    report = json.loads(cli("recipe", "validate", _write(tmp_path, short), "--json").text)
    assert report["errors"] == [] and report["warnings"] == []


@pytest.mark.parametrize(
    "name",
    [
        "TOKENIZERS_PARALLELISM",
        "OMP_NUM_THREADS",
        "KEYBOARD",
        "CUDA_VISIBLE_DEVICES",
        "PYTHONHASHSEED",
        "PATH",
    ],
)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not looks_secret(name)


@given(
    st.sampled_from(["", "HF_", "MY_APP_", "db-", "x.", "service"]),
    st.sampled_from(
        ["TOKEN", "Secret", "PASSWORD", "passwd", "ApiKey", "API_KEY", "Credentials", "PRIVATE_KEY"]
    ),
    st.sampled_from(["", "_1", "_FILE", "_VALUE"]),
)
def test_any_name_with_a_secret_word_is_secret(prefix: str, word: str, suffix: str) -> None:
    assert looks_secret(prefix + word + suffix)
