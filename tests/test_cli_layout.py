"""Issue 13 item 3: every command's code is found from its name in one step.

The dispatcher's tables (pacha.cli.PLUMBING, porcelain.cli.COMMANDS) map each command to a
module named for it; a group's subcommands are functions in the group's module or, when
models, datasets and recipes share them, in a module of porcelain/cli/versions/ named for
the subcommand. docs/cli.md lists them all, and this test keeps that list true. `--registry`
is handled once, by the dispatcher, so no command declares it.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import typer.main

from pacha.cli import PLUMBING, WITHOUT_REGISTRY
from porcelain.cli import COMMANDS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def leaf_commands() -> Iterator[tuple[str, Any]]:
    """("pacha model lineage add", click command) for every command the `pacha` script runs."""

    def walk(path: str, command: Any) -> Iterator[tuple[str, Any]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(f"{path} {name}", sub)
        else:
            yield path, command

    for name, module in COMMANDS.items():
        yield from walk(f"pacha {name}", typer.main.get_command(import_module(module).app))


def where(command: Any) -> str:
    """`path/to/module.py:function` of the function a command runs."""
    function = command.callback.__wrapped__ if hasattr(command.callback, "__wrapped__") else command.callback
    return f"{function.__module__.replace('.', '/')}.py:{function.__name__}"


def code_table() -> dict[str, str]:
    return {path: where(command) for path, command in leaf_commands()}


@pytest.mark.parametrize("table", [PLUMBING, COMMANDS], ids=["plumbing", "pacha"])
def test_the_dispatcher_maps_each_command_to_a_module_named_for_it(table: dict[str, str]) -> None:
    for name, module in table.items():
        assert module.rsplit(".", 1)[1] == name.replace("-", "_"), (name, module)
        assert module.split(".")[:2] in (["pacha", "cli"], ["porcelain", "cli"]), module
        assert hasattr(import_module(module), "app"), module


def test_every_subcommand_lives_in_a_module_named_for_it_or_its_group() -> None:
    table = code_table()
    assert len(table) > 75  # plumbing, and every porcelain group's subcommands
    for path, location in table.items():
        words = {word.replace("-", "_") for word in path.split()[1:]}
        module = location.split(":")[0].removesuffix(".py").split("/")
        assert module[-1] in words, (path, location)
        if module[-2] == "versions":  # shared by the kind groups: named for the subcommand itself
            assert module[-1] == path.split()[2].replace("-", "_"), (path, location)


def test_docs_list_every_command_and_its_module() -> None:
    rows = dict(re.findall(r"^\| `(pacha [^`]+)` \| `([^`]+)` \|$", DOCS.read_text(), re.MULTILINE))
    assert rows == code_table()


def test_no_command_declares_registry_itself() -> None:
    """The dispatcher adds --registry (pacha.cli.registry_option): one place, not ~60."""
    for path, command in leaf_commands():
        assert not any("--registry" in param.opts for param in command.params), path


def test_every_command_help_is_a_docstring_with_a_one_sentence_summary() -> None:
    for path, command in leaf_commands():
        doc = inspect.getdoc(command.callback)
        assert doc, f"{path}: its function has no docstring"
        summary = " ".join(doc.split("\n\n")[0].split())
        assert summary.endswith("."), (path, summary)
        assert summary[0].isupper(), (path, summary)
        assert command.help is not None and " ".join(command.help.split()).startswith(summary), path


def test_registry_after_the_command_name_for_porcelain_subcommands(cli, tmp_path: Path) -> None:
    """`--registry PATH` after `model register` / `model lineage` works as when commands declared it."""
    other = tmp_path / "other"
    cli("init", "-q", other)
    (tmp_path / "m.bin").write_bytes(b"weights" * 10)
    (tmp_path / "n.bin").write_bytes(b"other weights" * 10)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0", "--registry", other, "--json")
    cli("model", "register", "n", tmp_path / "n.bin", "-v", "1.0.0", "--registry", other)
    lineage = [
        "lineage",
        "add",
        "n:1.0.0",
        "--from",
        "m:1.0.0",
        "--relation",
        "distilled",
        "--param",
        "temperature=2",
    ]
    cli("model", *lineage, f"--registry={other}")
    assert json.loads(cli("model", "list", "--json").out) == []  # $PACHA_DIR's registry is untouched
    listed = json.loads(cli("model", "list", "--json", "--registry", other).out)
    assert [(v["name"], v["version"]) for v in listed] == [("m", "1.0.0"), ("n", "1.0.0")]
    shown = json.loads(cli("model", "lineage", "n:1.0.0", "--json", "--registry", other).out)
    assert [edge["relation"] for edge in shown["edges"]] == ["distilled"]
    # the last --registry wins, as with any option given twice
    last = cli("model", "list", "--json", "--registry", tmp_path / "nowhere", "--registry", other)
    assert len(json.loads(last.out)) == 2


def test_init_takes_no_registry_option(cli, tmp_path: Path) -> None:
    assert "init" in WITHOUT_REGISTRY
    result = cli.fails("init", tmp_path / "new", "--registry", tmp_path)
    assert result.code == 2 and "--registry" in result.err
    assert not (tmp_path / "new").exists()


def test_importing_every_command_keeps_the_packages_exports() -> None:
    """`pacha.fsck(reg)` stays the function once the CLI modules are imported (importing the
    submodule pacha.fsck would replace the package's lazy export of the same name)."""
    script = (
        "import pacha, inspect; from tests.test_cli_layout import leaf_commands; "
        "list(leaf_commands()); assert inspect.isfunction(pacha.fsck), pacha.fsck"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", script], cwd=root, check=True)
