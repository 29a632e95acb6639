"""pacha init: create a registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli.app import new_app, write_out
from pacha.registry import init_registry

app = new_app()


@app.command(epilog="Example: pacha init ~/.pacha")
def init(
    path: Annotated[Path | None, typer.Argument(help="Directory to become the registry.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing.")] = False,
    shared: Annotated[
        str | None,
        typer.Option(
            "--shared",
            help="group: a registry every member of the directory's group can write (setgid "
            "directories, group-writable files, whatever each one's umask); all: also readable by "
            "everybody; umask: each user's umask (the default). Recorded as core.shared.",
        ),
    ] = None,
) -> None:
    """Create an empty registry at PATH (default: $PACHA_DIR, else ./.pacha)."""
    registry, created = init_registry(path, shared)
    if not quiet:
        verb = "Initialized empty" if created else "Reinitialized existing"
        write_out(f"{verb} Pacha registry in {registry.root}\n")
