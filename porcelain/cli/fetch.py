"""pacha fetch: update the remote-tracking refs remotes/<remote>/… and the remote's audit trail."""

from __future__ import annotations

from pacha.cli.app import new_app, open_reg
from porcelain.cli._sync import JsonOption, RemoteArg, print_report
from porcelain.remotes.sync import fetch as fetch_refs

app = new_app()


@app.command(epilog="Example: pacha fetch origin && pacha model history fraud-detector --remote origin")
def fetch(remote: RemoteArg = None, as_json: JsonOption = False) -> None:
    """Update the remote-tracking refs (remotes/REMOTE/...), the remote's audit trail and the records
    they name (versions, cards, lineage, runs); artifact bytes come with pull or when used."""
    print_report(fetch_refs(open_reg(), remote, progress=not as_json), as_json, "fetch")
