"""A name's stage history as a remote records it: who promoted what, from any machine.

Every push appends the remote's audit trail; fetch mirrors it into the reflog of the
remote-tracking refs remotes/<remote>/stages/… (who, when and why preserved), so this is
read locally, in the remote's order (its transaction sequence), after `pacha fetch`.
"""

from __future__ import annotations

from typing import Any

import pacha
from pacha.ids import ZERO_ID
from porcelain import layout
from porcelain.errors import NotFound
from porcelain.names import check_name
from porcelain.remotes.refsync import tracking_prefix
from porcelain.remotes.settings import get_remote
from porcelain.results import Transition


def remote_history(plumbing: pacha.Registry, kind: str, name: str, remote: str | None) -> list[Transition]:
    """Every stage change of name's versions on the remote, oldest first (as of the last fetch).

    Raises NotFound for an unknown remote, or when the remote's trail has nothing for name.
    """
    check_name(name)
    settings = get_remote(plumbing, remote)
    strip = tracking_prefix(settings.name)
    entries = plumbing.refs.reflog_all(strip + layout.stages_prefix(kind, name))
    groups: dict[tuple[int, int, str], dict[str, Any]] = {}
    for entry in entries:
        ref_name, stage, version = layout.split_stage_ref(kind, entry.name[len(strip) :])
        if ref_name != name:
            continue
        group = groups.setdefault((entry.txn, entry.when_ns, version), {"from": None, "to": None, "e": entry})
        group["to" if entry.new != ZERO_ID else "from"] = stage
    if not groups:
        raise NotFound(
            f"{settings.name} has no history of {kind} {name} as of the last fetch; "
            f"run `pacha fetch {settings.name}` first"
        )
    return [
        Transition(name, version, g["from"], g["to"], g["e"].who, when, g["e"].message)
        for (_, when, version), g in groups.items()
    ]
