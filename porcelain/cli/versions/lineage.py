"""`pacha model|data lineage REF` (show) and `pacha model|data lineage add CHILD ...`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from pacha.cli.app import new_app
from porcelain.cli._output import console, print_json
from porcelain.cli.context import Kind, kind_of, open_porcelain
from porcelain.cli.options import JsonOption, LatestOption, MessageOption, VersionOption, explicit
from porcelain.lineage import render as lineage_render
from porcelain.lineage.graph import parse_params

SHOW_EXAMPLE = "pacha {noun} lineage fraud-detector:1.0.0 --format mermaid"
ADD_EXAMPLE = (
    "pacha {noun} lineage add small:1.0.0 --from big:2.0.0 --relation distilled --param temperature=2"
)


class DefaultToShow(TyperGroup):
    """A group whose first argument is a reference unless it names a subcommand."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args.insert(0, "show")
        return super().resolve_command(ctx, args)


class Format(StrEnum):
    tree = "tree"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


def lineage_app(kind: Kind) -> typer.Typer:
    """The `lineage` group of kind's command group: show (the default) and add."""
    app = new_app(
        cls=DefaultToShow,
        help=f"Show or add lineage: `pacha {kind.noun} lineage REF` or "
        f"`pacha {kind.noun} lineage add CHILD ...`.",
        no_args_is_help=True,
    )
    app.command("show", epilog="Example: " + SHOW_EXAMPLE.format(noun=kind.noun))(show)
    app.command("add", epilog="Example: " + ADD_EXAMPLE.format(noun=kind.noun))(add)
    return app


def show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VER, NAME@STAGE, NAME:latest or id.")],
    version: VersionOption = None,
    ancestors: Annotated[bool, typer.Option("--ancestors", help="Only where it came from.")] = False,
    descendants: Annotated[bool, typer.Option("--descendants", help="Only what came from it.")] = False,
    depth: Annotated[int | None, typer.Option("--depth", min=1, help="At most N edges away.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="tree, json, dot or mermaid.")] = Format.tree,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Show where a version came from and what was made from it."""
    up = ancestors or not descendants
    down = descendants or not ancestors
    graph = open_porcelain().lineage_graph(
        kind_of(ctx).kind, reference, ancestors=up, descendants=down, depth=depth, version=version
    )
    if as_json or fmt is Format.json:
        print_json(lineage_render.to_json(graph))
    elif fmt is Format.dot:
        typer.echo(lineage_render.to_dot(graph), nl=False)
    elif fmt is Format.mermaid:
        typer.echo(lineage_render.to_mermaid(graph), nl=False)
    else:
        console().print(lineage_render.to_tree(graph, up, down))


def add(
    ctx: typer.Context,
    child: Annotated[str, typer.Argument(help="The version that was derived (NAME:VER or NAME --latest).")],
    sources: Annotated[list[str], typer.Option("--from", help="Parent version(s), repeatable.")],
    relation: Annotated[str, typer.Option("--relation", help="How CHILD was made from them.")],
    param: Annotated[list[str] | None, typer.Option("--param", help="NAME=VALUE, repeatable.")] = None,
    message: MessageOption = "",
    latest: LatestOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record, after the fact, that CHILD was made from --from versions (no cycles)."""
    child = explicit(child, None, latest)
    reg = open_porcelain()
    edges = reg.add_lineage(kind_of(ctx).kind, child, sources, relation, parse_params(param or []), message)
    if as_json:
        print_json(
            [
                {
                    "child": reg.node(e.child).label,
                    "child_id": e.child,
                    "parent": reg.node(e.parent).label,
                    "parent_id": e.parent,
                    "relation": e.relation,
                    "params": e.params,
                    "edge_id": e.holder,
                }
                for e in edges
            ]
        )
        return
    for edge in edges:
        typer.echo(f"{reg.node(edge.child).label} {edge.relation} from {reg.node(edge.parent).label}")
