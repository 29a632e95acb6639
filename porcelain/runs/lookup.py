"""Finding runs: by short name (run-001), id or id prefix; reading their records."""

from __future__ import annotations

import re
from typing import Any

from porcelain.core import Core
from porcelain.errors import InvalidInput, NotFound
from porcelain.runs.records import NAME_PREFIX, RunInfo, run_ref
from porcelain.wording import say


def run_record(core: Core, record_id: str) -> dict[str, Any]:
    """A run record by its id (InvalidInput if the object is another kind of record)."""
    return core.read_document(record_id, "run", "a run")


def resolve_run(core: Core, text: str) -> str:
    """A run id from its id, id prefix (4+ hex) or short name (run-001).

    Args: text: the run's name, id or id prefix.
    Returns the run's id (32 hex digits).
    Raises NotFound for an unknown run; InvalidInput for an ambiguous prefix.
    """
    refs = core.plumbing.refs
    if re.fullmatch(r"run-\d+", text):
        record_id = refs.get(NAME_PREFIX + text)
        if record_id is None:
            raise NotFound(
                f"no run named {text}; {say('`pacha run list`', 'Registry.list_runs()')} shows the runs"
            )
        return str(run_record(core, record_id)["id"])
    if re.fullmatch(r"[0-9a-fA-F]{4,32}", text):
        matches = [name[len("runs/") :] for name, _ in refs.iter("runs/" + text.lower())]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidInput(f"run id prefix {text} is ambiguous: give more characters or the run name")
    raise NotFound(f"no run {text!r}; use its name (run-001) or id")


def get_run(core: Core, text: str) -> RunInfo:
    """A run by name, id or id prefix.

    Args: text: run-001, the run's id, or a unique prefix of it (4+ hex digits).
    Returns RunInfo (id, name, record id, record; .status says died for a running run whose
    process is gone).
    Raises NotFound for an unknown run; InvalidInput for an ambiguous prefix.
    """
    run_id = resolve_run(core, text)
    record_id = core.plumbing.refs.get(run_ref(run_id))
    if record_id is None:
        raise NotFound(f"run {text} not found")
    record = run_record(core, record_id)
    return RunInfo(run_id, record["name"], record_id, record)
