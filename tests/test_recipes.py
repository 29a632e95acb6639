"""Recipes: registration byte for byte, every validation rule, show, diff, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from porcelain.errors import InvalidInput
from porcelain.recipes import check, overrides
from tests.conftest import snapshot

RECIPE = """# BERT fine-tuning
name = "bert-finetune"
version = "1.0.0"
description = "Fine-tune BERT on transaction memos"
random_seed = 42
deterministic = true

[architecture]
base = "bert-base-uncased"

[hyperparameters]
learning_rate = 2e-5   # peak
batch_size = 32
epochs = 3
weight_decay = 0.01
warmup_steps = 500
[hyperparameters.custom]
dropout = 0.1
use_amp = true
labels = ["fraud", "ok"]
tokenizer = "wordpiece"

[data]
train = "transactions:1.0.0"

[dependencies]
python = "3.11"
lock_file = "requirements.txt"
[dependencies.env]
TOKENIZERS_PARALLELISM = "false"

[run]
command = "python train.py"
"""


def prepare_recipe(cli, tmp_path: Path, text: str = RECIPE) -> Path:
    """Register the dataset the recipe names, write its lock file and the recipe itself."""
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,2\n")
    cli("data", "register", "transactions", data)
    (tmp_path / "requirements.txt").write_text("torch==2.3\n")
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    return path


@pytest.fixture
def recipe(cli, tmp_path: Path) -> Path:
    return prepare_recipe(cli, tmp_path)


def test_register_keeps_the_toml_byte_for_byte(cli, recipe: Path) -> None:
    out = json.loads(cli("recipe", "register", recipe, "--json").text)
    assert out["version"] == "1.0.0" and out["stage"] == "-"
    assert cli("recipe", "show", "bert-finetune:1.0.0").out == recipe.read_bytes()
    card = out["record"]["card"]
    data_id = json.loads(cli("data", "get", "transactions:1.0.0", "--json").text)["id"]
    assert card["train_data"] == {"ref": "transactions:1.0.0", "id": data_id}
    import blake3

    assert card["lock_hash"] == blake3.blake3(b"torch==2.3\n").hexdigest()
    assert card["recipe"]["hyperparameters"]["custom"]["labels"] == ["fraud", "ok"]
    assert "ok, 0 warning(s)" in cli("recipe", "validate", "bert-finetune", "-v", "1.0.0").text
    again = cli("recipe", "register", recipe).text
    assert "already registered with these bytes" in again


RULES = [
    ("learning_rate = 2e-5", "learning_rate = 0", "learning_rate must be positive"),
    ("learning_rate = 2e-5", "learning_rate = -1.0", "learning_rate must be positive"),
    ("batch_size = 32", "batch_size = 0", "batch_size must be at least 1"),
    ("epochs = 3", "epochs = 0", "epochs must be at least 1"),
    ("epochs = 3", 'epochs = "three"', "epochs must be an integer"),
    ("random_seed = 42\n", "", "deterministic = true needs random_seed"),
    ('train = "transactions:1.0.0"', 'train = "ghost:1.0.0"', "no such registered dataset"),
    ("TOKENIZERS_PARALLELISM", "HF_TOKEN", "looks like a secret"),
    ("TOKENIZERS_PARALLELISM", "AWS_SECRET_ACCESS_KEY", "looks like a secret"),
    ("TOKENIZERS_PARALLELISM", "DB_PASSWORD", "looks like a secret"),
    ("dropout = 0.1", "dropout = {a = 1}", "custom.dropout"),
    ('name = "bert-finetune"\n', "", "name is missing"),
]


@pytest.mark.parametrize("old, new, words", RULES)
def test_each_rule_is_an_error_and_refuses_registration(cli, recipe: Path, old, new, words) -> None:
    bad = recipe.with_name("bad.toml")
    bad.write_text(RECIPE.replace(old, new, 1))
    report = cli("recipe", "validate", bad, ok=False)
    assert report.code == 1 and words in report.text.replace("\n", " "), report.text
    before = snapshot(cli.registry)
    refused = cli.fails("recipe", "register", bad, code=128)
    assert words in refused.err and len(refused.err.strip().splitlines()) == 1
    assert snapshot(cli.registry) == before


def test_warnings_do_not_refuse(cli, recipe: Path) -> None:
    loose = recipe.with_name("loose.toml")
    loose.write_text(RECIPE.replace('lock_file = "requirements.txt"\n', "").replace('python = "3.11"\n', ""))
    report = json.loads(cli("recipe", "validate", loose, "--json").text)
    assert report["errors"] == []
    assert any("lock file" in w for w in report["warnings"])
    assert any("python" in w for w in report["warnings"])
    cli("recipe", "register", loose)


def test_syntax_error_points_at_the_line(cli, recipe: Path) -> None:
    broken = recipe.with_name("broken.toml")
    broken.write_text('name = "x"\nversion = "1.0.0"\n[hyperparameters]\nlearning_rate = \n')
    result = cli.fails("recipe", "validate", broken, code=128)
    assert "broken.toml:4:" in result.err and "TOML syntax error" in result.err


def test_changed_data_is_reported_after_registration(cli, recipe: Path, tmp_path: Path) -> None:
    cli("recipe", "register", recipe)
    cli("data", "delete", "transactions:1.0.0")
    other = tmp_path / "t2.csv"
    other.write_text("a,b\n9,9\n")
    cli("data", "register", "transactions", other, "-v", "1.0.0")
    report = cli("recipe", "validate", "bert-finetune:1.0.0", ok=False)
    assert report.code == 1 and "changed since registration" in report.text.replace("\n", " ")


def test_diff_and_list(cli, recipe: Path) -> None:
    cli("recipe", "register", recipe)
    newer = recipe.with_name("r2.toml")
    newer.write_text(
        RECIPE.replace('version = "1.0.0"', 'version = "1.1.0"').replace("epochs = 3", "epochs = 5")
    )
    cli("recipe", "register", newer)
    diff = cli("recipe", "diff", "bert-finetune:1.0.0", "bert-finetune:1.1.0").text
    assert diff.startswith("epochs: 3 -> 5\n")
    assert "-epochs = 3\n+epochs = 5\n" in diff
    listed = [v["version"] for v in json.loads(cli("recipe", "list", "--json").text)]
    assert listed == ["1.0.0", "1.1.0"]
    cli.fails("recipe", "stage", "bert-finetune:1.0.0", "-t", "production", code=2)  # no stages


def test_model_card_pins_a_registered_recipe(cli, recipe: Path, tmp_path: Path) -> None:
    cli("recipe", "register", recipe)
    card = tmp_path / "card.toml"
    card.write_text('training_recipe = "bert-finetune:latest"\n')
    model = tmp_path / "m.bin"
    model.write_bytes(b"weights")
    out = json.loads(cli("model", "register", "m", model, "--card", card, "--json").text)
    assert out["record"]["card"]["training_recipe"]["ref"] == "bert-finetune:1.0.0"


def test_overrides_are_type_checked() -> None:
    doc = check.parse_text(RECIPE, "recipe.toml")
    assert overrides.coerce_override(doc, "learning_rate=1e-5") == ("learning_rate", 1e-5)
    assert overrides.coerce_override(doc, "epochs=5") == ("epochs", 5)
    assert overrides.coerce_override(doc, "use_amp=false") == ("use_amp", False)
    assert overrides.coerce_override(doc, 'labels=["a"]') == ("labels", ["a"])
    assert overrides.coerce_override(doc, "tokenizer=bpe") == ("tokenizer", "bpe")
    for bad, words in [
        ("epochs=2.5", "integer"),
        ("learning_rate=fast", "number"),
        ("use_amp=maybe", "bool"),
        ("momentum=0.9", "no hyperparameter"),
        ("labels=a", "list"),
        ("noequals", "NAME=VALUE"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            overrides.coerce_override(doc, bad)


@pytest.mark.parametrize(
    "name, secret",
    [
        ("HF_TOKEN", True),
        ("OPENAI_API_KEY", True),
        ("KEYBOARD", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("db-password", True),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert check.looks_secret(name) is secret
