"""Errors worded for whoever called: command-line options for the CLI, arguments for Python.

The porcelain library raises the same errors to both; a message that names how to fix
it names `--bump patch` on the command line and `bump="patch"` in Python. The `pacha`
console script calls `for_cli()` once at start-up; anything else is a Python caller.
"""

from __future__ import annotations

from contextvars import ContextVar

_CLI: ContextVar[bool] = ContextVar("pacha_cli_wording", default=False)


def for_cli() -> None:
    """Word every later error for the command line (the `pacha` script calls this)."""
    _CLI.set(True)


def is_cli() -> bool:
    return _CLI.get()


def say(cli: str, python: str) -> str:
    """cli when running as the `pacha` command, else python."""
    return cli if _CLI.get() else python


def kind_command(kind: str) -> str:
    """The CLI group of a kind: model, data or recipe."""
    return "data" if kind == "dataset" else kind


def list_hint(kind: str) -> str:
    """How to see what exists, for a NotFound message."""
    return say(f"`pacha {kind_command(kind)} list`", f'Registry.list("{kind}")')
