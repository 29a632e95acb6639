"""What every command module shares: how its typer app is built and how it finds the registry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pacha.registry import Registry


def new_app() -> typer.Typer:
    """A typer app for one command: no completion install, no rich tracebacks."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


RegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Registry to use (default: $PACHA_DIR, else .pacha/ here or above, else ~/.pacha).",
        show_default=False,
    ),
]


def open_reg(path: Path | None) -> Registry:
    from pacha.registry import open_registry

    return open_registry(path)


@contextmanager
def writing_reg(path: Path | None) -> Iterator[Registry]:
    """The registry, its write lock held shared (Registry.writing) while the block runs: a
    plumbing command that writes objects or packs is then never run beside gc, which could
    remove its temp files or the objects it is moving (as porcelain commits are kept safe)."""
    reg = open_reg(path)
    with reg.writing():
        yield reg


def write_out(text: str) -> None:
    """Write text to stdout as UTF-8 bytes (stable whatever the locale)."""
    import sys

    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
