"""What every command module shares: how its typer app is built and how it finds the registry.

The registry a command works on is chosen once, by the dispatcher (pacha.cli.invoke):
`pacha --registry PATH <command>` sets $PACHA_DIR, and `--registry PATH` after the command
name, which the dispatcher adds to every command that opens a registry
(add_registry_option), names it explicitly. Commands call open_reg() / writing_reg() and
never see the option themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pacha.registry import Registry, open_registry

if TYPE_CHECKING:
    import typer

REGISTRY_HELP = "Registry to use (default: $PACHA_DIR, else .pacha/ here or above, else ~/.pacha)."

# The path given with `<command> --registry PATH` (None: $PACHA_DIR or discovery, as
# pacha.registry.find_registry does). One command runs per process; invoke() resets it.
_chosen: Path | None = None


def new_app() -> typer.Typer:
    """A typer app for one command: no completion install, no rich tracebacks."""
    import typer

    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def choose_registry(path: str | Path | None) -> None:
    """Make every open_reg() of this process use the registry at path (None: discover it)."""
    global _chosen
    _chosen = Path(path) if path is not None else None


def registry_path() -> Path | None:
    """The registry named with `--registry` after the command, if one was."""
    return _chosen


def open_reg() -> Registry:
    """The registry this command works on (see the module docstring for how it is chosen)."""
    return open_registry(_chosen)


@contextmanager
def writing_reg() -> Iterator[Registry]:
    """The registry, its write lock held shared (Registry.writing) while the block runs: a
    plumbing command that writes objects or packs is then never run beside gc, which could
    remove its temp files or the objects it is moving (as porcelain commits are kept safe)."""
    reg = open_reg()
    with reg.writing():
        yield reg


def add_registry_option(command: Any) -> None:
    """Give command (and every subcommand of a group) the `--registry PATH` option.

    command: a click command built by typer.main.get_command. The option is listed in
    each command's --help just before --help itself, as when each command declared it.
    """
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for sub in subcommands.values():
            add_registry_option(sub)
        return
    if not any(param.name == "registry" for param in command.params):
        command.params.append(_registry_option())


def _registry_option() -> Any:
    from typer.core import TyperOption
    from typer.models import TyperPath

    def keep(_context: object, _param: object, value: str | None) -> None:
        if value is not None:
            choose_registry(value)

    return TyperOption(
        param_decls=["--registry", "registry"],
        type=TyperPath(),
        default=None,
        show_default=False,
        help=REGISTRY_HELP,
        expose_value=False,
        callback=keep,
    )


def write_out(text: str) -> None:
    """Write text to stdout as UTF-8 bytes (stable whatever the locale)."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
