"""pacha ls-tree: list the entries of a tree object."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pacha.checkout_files import read_tree
from pacha.cli.app import new_app, open_reg, write_out

if TYPE_CHECKING:
    from pacha.store import ObjectStore

app = new_app()


@app.command(epilog="Example: pacha ls-tree -r 9c2e")
def ls_tree(
    spec: Annotated[str, typer.Argument(help="Tree id, prefix or ref name.")],
    recursive: Annotated[bool, typer.Option("-r", help="Recurse into subtrees, printing paths.")] = False,
    name_only: Annotated[bool, typer.Option("--name-only", help="Print names only.")] = False,
    nul: Annotated[bool, typer.Option("-z", help="End lines with NUL instead of newline.")] = False,
) -> None:
    """List a tree: '<mode> <kind> <id> <size> TAB <name>' per entry."""
    reg = open_reg()
    end = "\0" if nul else "\n"
    _list(reg.objects, reg.resolve(spec), "", recursive, name_only, end)


def _list(store: ObjectStore, tree_id: str, prefix: str, recursive: bool, name_only: bool, end: str) -> None:
    for entry in read_tree(store, tree_id).entries:
        path = prefix + entry.name
        if recursive and entry.kind == "tree":
            _list(store, entry.id, path + "/", recursive, name_only, end)
            continue
        if name_only:
            write_out(path + end)
        else:
            write_out(f"{entry.mode} {entry.kind} {entry.id} {entry.size}\t{path}{end}")
