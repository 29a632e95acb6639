"""pacha pull: fetch, then bring local refs to the remote's, with the objects they need."""

from __future__ import annotations

from pacha.cli._app import RegistryOption, new_app, open_reg
from porcelain.cli._sync import ForceOption, JsonOption, RefsArg, RemoteArg, print_report
from porcelain.remotes.progress import Progress
from porcelain.remotes.sync import pull as pull_refs

app = new_app()


@app.command(
    help="Fetch, then bring local refs to the remote's with their objects; NAME@STAGE downloads only that "
    "version's closure.",
    epilog="Example: pacha pull origin fraud-detector@production",
)
def pull(
    remote: RemoteArg = None,
    refs: RefsArg = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
    registry: RegistryOption = None,
) -> None:
    plumbing = open_reg(registry)
    with Progress("pulling", enabled=not as_json) as bar:
        report = pull_refs(plumbing, remote, refs or [], force=force, progress=bar)
    print_report(report, as_json, "pull")
