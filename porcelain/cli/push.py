"""pacha push: send objects the remote lacks, then move its refs by compare-and-swap."""

from __future__ import annotations

from pacha.cli._app import RegistryOption, new_app, open_reg
from porcelain.cli._sync import ForceOption, JsonOption, RefsArg, RemoteArg, print_report
from porcelain.remotes.progress import Progress
from porcelain.remotes.sync import push as push_refs

app = new_app()


@app.command(
    help="Send what the remote lacks of the refs named (default: all), then move them (compare-and-swap).",
    epilog="Example: pacha push origin fraud-detector",
)
def push(
    remote: RemoteArg = None,
    refs: RefsArg = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
    registry: RegistryOption = None,
) -> None:
    plumbing = open_reg(registry)
    with Progress("pushing", enabled=not as_json) as bar:
        report = push_refs(plumbing, remote, refs or [], force=force, progress=bar)
    print_report(report, as_json, "push")
