"""What a demanding new user met (session of 2026-12-01): every `--help` shows its texts as written,
and text a user typed (a reason, a description, a name) is printed as typed, never read as markup."""

from __future__ import annotations

import re
from importlib import import_module
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacha.cli import UNLOCK_EARLY, run
from porcelain.cli import COMMANDS, PORCELAIN_UNLOCK_EARLY
from tests.conftest import Cli


def _command_paths() -> list[tuple[list[str], object]]:
    """(argv before --help, click command) for every command and group, subcommands included."""
    import typer.main

    def walk(path: list[str], command: object):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk([*path, name], sub)

    found = []
    for name, module in COMMANDS.items():
        found += walk([name], typer.main.get_command(import_module(module).app))
    return found


def _flat(text: str) -> str:
    """Without whitespace: the help wraps lines at spaces and after hyphens (--new-|key-file)."""
    return "".join(text.split())


def test_every_help_shows_every_text_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """`pacha remote add --help` raised rich's MarkupError on its argument's help
    ("s3://BUCKET[/PREFIX]"): a command group built without rich_markup_mode=None read its help
    texts as rich markup, so a closing tag failed and any other [word] vanished from the help."""
    paths = _command_paths()
    assert len(paths) > 100
    wrong = []
    for argv, command in paths:
        code = run([*argv, "--help"], COMMANDS, UNLOCK_EARLY | PORCELAIN_UNLOCK_EARLY)
        shown = capsys.readouterr()
        texts = [p.help for p in getattr(command, "params", []) if getattr(p, "help", None)]
        missing = [t for t in texts if _flat(t) not in _flat(shown.out)]
        if code != 0 or shown.err or missing:
            wrong.append((" ".join(argv), code, shown.err[-200:], missing))
    assert wrong == []


# Text that rich reads as markup or emoji: a closing tag with no opening one (MarkupError), a
# style that would swallow the word, a link, an emoji code.
NASTY = ["why [/z] [blue]q", "[bold]loud[/bold]", "[link=https://x.example]here[/link]", ":warning: ok"]


def test_what_a_user_wrote_is_shown_as_typed_in_every_table(cli: Cli, tmp_path: Path) -> None:
    """`pacha model history m` failed with a traceback (rich's MarkupError) when a stage change's
    why said `why [/z] [blue]q`: table cells were read as rich markup, and `:warning:` became ⚠."""
    (tmp_path / "m.bin").write_bytes(b"weights" * 50)
    author = {**cli.env, "PACHA_AUTHOR_NAME": "Ada [/x] :smile:"}
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0", "-d", NASTY[3], "-m", NASTY[1], env=author)
    for why, stage in zip(NASTY, ["staging", "production", "archived", "development"], strict=True):
        cli("model", "stage", "m:1.0.0", "-t", stage, "-m", why)
    history = cli("model", "history", "m").text
    for text in [*NASTY, "Ada [/x] :smile:"]:
        assert text in history, history
    shown = cli("model", "get", "m:1.0.0").text
    assert NASTY[3] in shown and NASTY[1] in shown, shown
    remote = tmp_path / "team[/x]"  # a directory `team[` holding `x]`
    (tmp_path / "team[").mkdir()
    cli("remote", "add", "origin", remote, "--no-check")
    assert str(remote) in cli("remote", "list").text


@given(st.text(alphabet=st.sampled_from("ab [/]:=#@\\"), max_size=30))
def test_a_table_cell_is_printed_exactly_as_given(text: str) -> None:
    """The property behind it: any text in a porcelain table comes out as it went in (in a pipe,
    where nothing is folded)."""
    import contextlib
    import io
    import sys

    from porcelain.cli._output import console, table

    rows = table("what", "why")
    rows.add_row("x", text)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert not sys.stdout.isatty()
        console().print(rows)
    lines = buffer.getvalue().splitlines()
    assert lines[1].rstrip().removeprefix(" x").strip() == text.strip()
