"""pacha pull: fetch, then bring local refs to the remote's, with the objects they need."""

from __future__ import annotations

from pacha.cli.app import new_app, open_reg
from porcelain.cli._sync import ForceOption, JsonOption, RefsArg, RemoteArg, print_report
from porcelain.remotes.progress import Progress
from porcelain.remotes.settings import split_remote_arg
from porcelain.remotes.sync import pull as pull_refs

app = new_app()


@app.command(epilog="Example: pacha pull origin fraud-detector@production")
def pull(
    remote: RemoteArg = None,
    refs: RefsArg = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Fetch, then bring local refs to the remote's, with the objects they need.

    NAME@STAGE or NAME:VER downloads only that version's closure.
    """
    plumbing = open_reg()
    remote, wanted = split_remote_arg(plumbing, remote, refs or [])
    with Progress("pulling", enabled=not as_json) as bar:
        report = pull_refs(plumbing, remote, wanted, force=force, progress=bar)
    print_report(report, as_json, "pull")
