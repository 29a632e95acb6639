"""Which registry a command works on: `--registry PATH`, handled once by the dispatcher.

`pacha --registry PATH <command>` sets $PACHA_DIR (pacha.cli.run); `--registry PATH` after
the command name, which the dispatcher adds to every command that opens a registry
(add_registry_option), names it explicitly. Commands never see the option: they call
pacha.cli.app.open_reg() (porcelain: porcelain.cli.context.open_porcelain()), which read
registry_path(). This module stays light (no registry, no typer at import): the dispatcher
imports it before it knows which command runs.
"""

from __future__ import annotations

import os
from typing import Any

REGISTRY_HELP = "Registry to use (default: $PACHA_DIR, else .pacha/ here or above, else ~/.pacha)."

# The path given with `<command> --registry PATH` (None: $PACHA_DIR or discovery, as
# pacha.registry.find_registry does). One command runs per process; invoke() resets it.
_chosen: str | None = None


def choose_registry(path: str | os.PathLike[str] | None) -> None:
    """Make this process's commands use the registry at path (None: discover it)."""
    global _chosen
    _chosen = os.fspath(path) if path is not None else None


def registry_path() -> str | None:
    """The registry named with `--registry` after the command, if one was."""
    return _chosen


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
