"""What every command module shares: how its typer app is built and how it opens the registry.

The registry is the one the dispatcher chose (pacha.cli.registry_option): commands call
open_reg() / writing_reg() and never declare `--registry` themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from pacha.cli.registry_option import registry_path

if TYPE_CHECKING:
    from pacha.registry import Registry


def new_app(**settings: Any) -> typer.Typer:
    """A typer app for one command or group (settings: typer.Typer's, e.g. help=, cls=): no
    completion install, no rich tracebacks, and help texts shown as written, never read as rich
    markup (a help saying `s3://BUCKET[/PREFIX]` made `--help` fail with rich's MarkupError)."""
    return typer.Typer(
        add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None, **settings
    )


def open_reg() -> Registry:
    """The registry this command works on (`--registry PATH`, else $PACHA_DIR, else discovery)."""
    # Imported when a registry is opened, not at the top: pacha.registry loads the refs (LMDB),
    # the store and the config, which `hash-object FILE` and `show-index FILE` never use.
    from pacha.registry import open_registry
    from pacha.transport.promisor import install

    install()  # a lazy registry fetches what a command reads and lacks (Git's promisor remote)
    return open_registry(registry_path())


@contextmanager
def writing_reg() -> Iterator[Registry]:
    """The registry, its write lock held shared (Registry.writing) while the block runs: a
    plumbing command that writes objects or packs is then never run beside gc, which could
    remove its temp files or the objects it is moving (as porcelain commits are kept safe)."""
    reg = open_reg()
    with reg.writing():
        yield reg


def write_out(text: str) -> None:
    """Write text to stdout as UTF-8 bytes (stable whatever the locale)."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
