"""pacha push: send objects the remote lacks, then move its refs by compare-and-swap."""

from __future__ import annotations

from pacha.cli.app import new_app, open_reg
from porcelain.cli._sync import ForceOption, JsonOption, RefsArg, RemoteArg, print_report
from porcelain.remotes.progress import Progress
from porcelain.remotes.settings import split_remote_arg
from porcelain.remotes.sync import push as push_refs

app = new_app()


@app.command(epilog="Example: pacha push origin fraud-detector")
def push(
    remote: RemoteArg = None,
    refs: RefsArg = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Send what the remote lacks of the refs named (default: all), then move them by compare-and-swap."""
    plumbing = open_reg()
    remote, wanted = split_remote_arg(plumbing, remote, refs or [])
    with Progress("pushing", enabled=not as_json) as bar:
        report = push_refs(plumbing, remote, wanted, force=force, progress=bar)
    print_report(report, as_json, "push")
