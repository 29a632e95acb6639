"""Usage errors are one line (exit 2) for every command; inputs that never end are refused up front.

Issue 12 item 11: a FIFO or device given as the artifact path blocked for ever or read
for ever (/dev/zero); the option parser printed multi-line boxes.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from importlib import import_module
from pathlib import Path

import pytest
import typer.main

from porcelain.cli import COMMANDS
from tests.conftest import PACHA
from tests.test_recipes import RECIPE, prepare_recipe


def every_command_path() -> list[list[str]]:
    """Every command line prefix: `NAME` for single commands, `NAME SUB` for each group's command."""
    out = []
    for name, module in COMMANDS.items():
        command = typer.main.get_command(import_module(module).app)
        subcommands = getattr(command, "commands", None)
        if subcommands:
            out.extend([name, sub] for sub in sorted(subcommands))
        else:
            out.append([name])
    return out


def check_one_usage_line(result, prefix: list[str]) -> None:
    assert result.code == 2, (prefix, result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, (prefix, result.err)
    assert lines[0].startswith(f"usage: pacha {' '.join(prefix)}: "), (prefix, lines[0])
    assert "--help" in lines[0]
    assert not any(box in result.err for box in "╭│╰─"), result.err


def test_an_unknown_option_is_one_line_exit_2_for_every_command(cli):
    paths = every_command_path()
    assert len(paths) > 40  # plumbing and every porcelain group's commands
    for prefix in paths:
        result = cli.fails(*prefix, "--no-such-option")
        check_one_usage_line(result, prefix)
        assert "--no-such-option" in result.err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["model", "register"], "Missing argument"),
        (["model", "register", "m", "f.bin", "-v"], "requires an argument"),
        (["model", "list", "--json=3"], "does not take a value"),
        (["run", "log", "r", "x=1", "--step", "abc"], "not a valid int"),
        (["fsck", "-j", "0"], "--jobs"),
        (["cat-object", "-p"], "give exactly one ID"),
        (["update-ref", "a"], "NAME NEW"),
        (["model", "register", "m", "f.bin", "-v", "1.0.0", "--bump", "patch"], "not both"),
        (["model", "no-such-command"], "No such command"),
    ],
)
def test_parser_errors_are_one_line(cli, args, words):
    result = cli.fails(*args)
    prefix = args[:2] if args[0] in ("model", "run") and args[1] != "no-such-command" else args[:1]
    check_one_usage_line(result, prefix)
    assert words in result.err


def test_a_group_without_a_command_shows_its_help(cli):
    result = cli.fails("model", code=2)
    shown = result.text + result.err
    assert "register" in shown and "download" in shown


def non_regular(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "named-fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()
    return {"a FIFO": fifo, "a socket": sock_path, "a device": Path("/dev/zero")}


def test_fifo_device_and_socket_artifacts_are_refused_at_once(cli, tmp_path):
    cli("recipe", "register", prepare_recipe(cli, tmp_path, RECIPE))
    run = cli("run", "start", "bert-finetune:1.0.0").text.strip().split()[-1]
    for what, path in non_regular(tmp_path).items():
        for command in (
            ["model", "register", "m", path, "-v", "1.0.0"],
            ["data", "register", "d", path, "-v", "1.0.0"],
            ["hash-object", path],
            ["hash-object", "-w", path],
            ["run", "artifact", run, path],
        ):
            result = cli.fails(*command, code=128)  # the subprocess has a timeout: a hang fails it
            assert f"is {what}" in result.err and "regular file" in result.err, (command, result.err)
    assert cli("model", "list", "--json").text.strip() in ("[]", "")


def test_a_pipe_the_user_hands_over_is_not_refused(cli, tmp_path):
    """`<(cat f)` is /dev/fd/N, a pipe given on purpose (issue 11 item 2 makes it register well)."""
    (tmp_path / "w.bin").write_bytes(b"weights\n")
    command = (
        " ".join(map(shlex.quote, [*PACHA, "hash-object"]))
        + f" <(cat {shlex.quote(str(tmp_path / 'w.bin'))})"
    )
    proc = subprocess.run(["bash", "-c", command], capture_output=True, env=cli.env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    expected = cli("hash-object", tmp_path / "w.bin").text
    assert proc.stdout.decode() == expected
