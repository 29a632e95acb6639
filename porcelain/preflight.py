"""Checks that run before a command's first write, so a refusal leaves the registry as it was.

A porcelain write stores objects (artifact, record) and then moves refs in one
transaction. The transaction checks ref names too, but only after the objects
are stored: a version whose ref name is too long (issue 12 item 10) used to be
refused after the artifact was written. Everything that can refuse a commit is
checked here first, from what the command was given.
"""

from __future__ import annotations

from collections.abc import Iterable

import porcelain.layout as layout
from pacha.errors import InvalidInput
from pacha.refs.names import ref_name_problem
from porcelain.stages import rules as stages


def check_refs(names: Iterable[str]) -> None:
    """Refuse the first invalid ref name, before anything is written (InvalidInput)."""
    for name in names:
        problem = ref_name_problem(name)
        if problem is not None:
            raise InvalidInput(f"ref name {name!r} would be invalid: {problem}")


def check_version_refs(kind: str, name: str, version: str) -> None:
    """Every ref a version of name can ever have, in any stage, is a valid ref name.

    Checked at registration, so a version that could never be promoted (its stage
    ref too long) is never registered. InvalidInput says how long the name may be.
    """
    refs = [layout.version_ref(kind, name, version)]
    if kind in layout.STAGED:
        refs += [layout.stage_ref(kind, name, stage, version) for stage in stages.STAGES]
    for ref in refs:
        problem = ref_name_problem(ref)
        if problem is not None:
            spare = 255 - max(len(r.encode("utf-8")) for r in refs) + len(version.encode("utf-8"))
            hint = f"; with this name, a version may have at most {spare} bytes" if spare > 0 else ""
            raise InvalidInput(f"{name}:{version} cannot be registered: ref {ref!r}: {problem}{hint}")
