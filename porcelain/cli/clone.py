"""pacha clone: a new registry from a remote: its refs, audit trail and objects (or none: --lazy)."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app
from pacha.errors import UsageError
from porcelain.cli._sync import JsonOption, print_report
from porcelain.remotes.admin import clone as clone_remote

app = new_app()


@app.command(
    epilog="Example: pacha clone s3://team-models/registry ./team/.pacha --endpoint-url http://localhost:8333"
)
def clone(
    url: Annotated[str, typer.Argument(help="s3://BUCKET[/PREFIX], a path, or file://PATH.")],
    path: Annotated[
        str | None,
        typer.Argument(help="Registry to create (default: $PACHA_DIR, else ./.pacha).", show_default=False),
    ] = None,
    all_objects: Annotated[
        bool, typer.Option("--all", help="Every object the remote holds, even those no ref names.")
    ] = False,
    lazy: Annotated[
        bool, typer.Option("--lazy", help="No objects now: download and verify fetch what they need.")
    ] = False,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="S3-compatible endpoint (e.g. http://host:8333).")
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Concurrent requests.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a registry from a remote (as `origin`, the default): its refs, audit trail and objects."""
    if path is not None and not path.strip():
        raise UsageError("PATH is empty: give the directory of the new registry, or leave it out")
    plumbing, report = clone_remote(
        url,
        path,
        endpoint_url=endpoint_url,
        all_objects=all_objects,
        lazy=lazy,
        jobs=jobs,
        progress=not as_json,
    )
    print_report(report, as_json, "clone", {"registry": str(plumbing.root), "lazy": lazy})
    if not as_json:
        typer.echo(f"Cloned into {plumbing.root}" + (" (lazy: objects on demand)" if lazy else ""))
