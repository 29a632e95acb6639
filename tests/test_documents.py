"""Every document a user hands in is read bounded, decoded strictly, nesting limited (issue 12 item 9).

Cards, datasheets, recipes, config.toml, JSON given to hash-object and a hook's output:
each failure is one line naming the file, never a traceback or a memory blow-up.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from pacha import documents
from pacha.errors import InvalidInput
from tests.conftest import PACHA
from tests.test_recipes import RECIPE, prepare_recipe

DEEP = "a = " + "[" * 5000 + "]" * 5000 + "\n"


def one_line(result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights\n")
    return path


def card_commands(weights: Path, card: Path) -> list[list[str | Path]]:
    return [
        ["model", "register", "m", weights, "-v", "1.0.0", "--card", card],
        ["data", "register", "d", weights, "-v", "1.0.0", "--datasheet", card],
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'description = "caf\xe9"\n', "not UTF-8 text (byte 0xe9 at offset 18)"),
        (DEEP.encode(), "nested more than 64 levels deep"),
        (("k." * 300 + "k = 1\n").encode(), "nested more than 64 levels deep"),
        (b"description = [unclosed\n", "TOML syntax error"),
    ],
)
def test_bad_cards_and_datasheets_are_one_line_naming_the_file(cli, tmp_path, weights, content, words):
    card = tmp_path / "card.toml"
    card.write_bytes(content)
    for command in card_commands(weights, card):
        line = one_line(cli.fails(*command, code=128))
        assert words in line and str(card) in line, line
    assert cli("model", "list", "--json").text.strip() == "[]"


def test_a_card_from_a_device_fifo_or_huge_file_is_refused_at_once(cli, tmp_path, weights):
    fifo = tmp_path / "card-fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.toml"
    with open(huge, "wb") as f:
        f.truncate(documents.MAX_DOCUMENT_BYTES + 1)  # sparse: costs no disk
    for card, words in (
        (Path("/dev/zero"), "is a device"),
        (fifo, "is a FIFO"),
        (huge, "larger than 16 MiB"),
    ):
        for command in card_commands(weights, card):
            line = one_line(cli.fails(*command, code=128))
            assert words in line and str(card) in line, line


def test_a_card_through_a_pipe_is_read(cli, tmp_path, weights):
    card = tmp_path / "card.toml"
    card.write_text('description = "from a pipe"\n')
    command = " ".join(map(shlex.quote, [*PACHA, "model", "register", "m", str(weights), "-v", "1.0.0"]))
    command += f" --card <(cat {shlex.quote(str(card))})"
    proc = subprocess.run(["bash", "-c", command], capture_output=True, env=cli.env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "from a pipe" in cli("model", "get", "m:1.0.0").text


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'name = "r\xff"\n', "not UTF-8 text (byte 0xff at offset 9)"),
        (DEEP.encode(), "nested more than 64 levels deep"),
    ],
)
def test_bad_recipes_are_one_line(cli, tmp_path, content, words):
    recipe = tmp_path / "bad.toml"
    recipe.write_bytes(content)
    for command in (["recipe", "register", recipe], ["recipe", "validate", recipe]):
        line = one_line(cli.fails(*command))
        assert words in line and str(recipe) in line, line


def test_a_recipe_override_cannot_nest_without_bound(cli, tmp_path):
    text = RECIPE.replace("[hyperparameters]", "[hyperparameters]\nlayers = [1, 2]")
    cli("recipe", "register", prepare_recipe(cli, tmp_path, text))
    deep = "[" * 5000 + "]" * 5000
    line = one_line(cli.fails("run", "start", "bert-finetune:1.0.0", "--override", f"layers={deep}"))
    assert "layers" in line


def test_a_bad_config_file_is_one_line_for_every_command(cli):
    config = cli.registry / "config.toml"
    for content, words in (
        (b'[user]\nname = "Ren\xe9"\n', "not UTF-8 text"),
        (DEEP.encode(), "nested more than 64 levels deep"),
        (b"[core\n", "TOML syntax error"),
    ):
        config.write_bytes(content)
        for command in (["hash-object", "-w", config], ["config", "user.name"], ["config", "user.name", "x"]):
            line = one_line(cli.fails(*command, code=128))
            assert words in line and str(config) in line and "fix or restore it" in line, line


def test_deep_json_given_to_hash_object_is_one_line(cli):
    record = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b',"type":"x"}'
    for kind in ("record", "tree"):
        line = one_line(cli.fails("hash-object", "-t", kind, "--stdin", input=record))
        assert "not a valid" in line and ("nested" in line or "tree" in line), line


def test_a_hook_that_floods_its_output_is_read_bounded_and_shown_safely(cli, tmp_path, weights):
    hook = cli.registry / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(
        "#!/bin/sh\nprintf 'no \\033[31mred\\033[0m today\\n' >&2\nhead -c 50000000 /dev/zero >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    line = one_line(cli.fails("model", "register", "m", weights, "-v", "1.0.0"))
    assert "pre-commit hook refused register: no" in line
    assert "\x1b" not in line and len(line) < 200


# --- the depth scan never refuses a document it should read ----------------------------------

keys = st.text(alphabet="abcdefgh_", min_size=1, max_size=5)
scalars = st.one_of(st.integers(), st.text(max_size=12), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=4))
def test_the_depth_scan_agrees_with_the_parser_on_real_documents(doc):
    text = tomlkit.dumps(doc)
    assert documents.parse_toml(text, "doc") == tomllib.loads(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 120), st.text(alphabet='[]{}"#\\\n ab', max_size=20))
def test_depth_is_refused_exactly_past_the_limit(depth, noise):
    text = (
        f"s = {tomlkit.string(noise).as_string()}\n# {noise.replace(chr(10), ' ')}\nv = "
        + "[" * depth
        + "]" * depth
    )
    if depth <= documents.MAX_DEPTH:
        assert documents.parse_toml(text, "doc")["s"] == noise
    else:
        with pytest.raises(InvalidInput, match="nested more than 64"):
            documents.parse_toml(text, "doc")
