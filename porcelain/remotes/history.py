"""A name's stage history as a remote records it: who promoted what, from any machine.

Every push appends a segment to the remote's audit trail (who pushed, when, why); fetch keeps
the segments verbatim (and mirrors them in the reflog of remotes/<remote>/…), so this is read
locally, in the remote's order (its segment sequence) with the remote's times, after a fetch.
"""

from __future__ import annotations

from typing import Any

import pacha
from pacha.ids import ZERO_ID
from porcelain import layout
from porcelain.errors import NotFound
from porcelain.names import check_name
from porcelain.remotes import wire
from porcelain.remotes.settings import get_remote
from porcelain.results import Transition


def remote_history(plumbing: pacha.Registry, kind: str, name: str, remote: str | None) -> list[Transition]:
    """Every stage change of name's versions on the remote, oldest first (as of the last fetch).

    Raises NotFound for an unknown remote, or when the remote's trail has nothing for name.
    """
    check_name(name)
    settings = get_remote(plumbing, remote)
    prefix = layout.stages_prefix(kind, name)
    groups: dict[tuple[int, int, str], dict[str, Any]] = {}
    for entry in wire.remote_log(plumbing, settings.name):  # oldest first, the remote's own times
        if not entry.name.startswith(prefix):
            continue
        ref_name, stage, version = layout.split_stage_ref(kind, entry.name)
        if ref_name != name:
            continue
        group = groups.setdefault((entry.seq, entry.when_ns, version), {"from": None, "to": None, "e": entry})
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
