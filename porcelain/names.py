"""Artifact names: lowercase letters, digits, '-', '_', '.', and '/' between namespace parts."""

from __future__ import annotations

import re

from pacha.refs.names import ref_name_problem
from porcelain.errors import InvalidInput

_COMPONENT = re.compile(r"[a-z0-9][a-z0-9._-]*")
MAX_NAME = 200


def name_problem(name: str) -> str | None:
    """Why name is not a valid artifact name, or None."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it is longer than {MAX_NAME} characters"
    for part in name.split("/"):
        if not part:
            return "it has an empty namespace part (leading, trailing or doubled '/')"
        if not _COMPONENT.fullmatch(part):
            return (
                f"part {part!r} must start with a lowercase letter or digit and contain only "
                "lowercase letters, digits, '-', '_' and '.'"
            )
        if part.endswith((".", ".lock")) or ".." in part:
            return f"part {part!r} may not end with '.' or '.lock' or contain '..'"
        if re.fullmatch(r"\d+\.\d+\.\d+.*", part):
            return f"part {part!r} looks like a version; versions go after ':' or -v"
    problem = ref_name_problem(f"models/{name}/0.0.0")
    return problem


def check_name(name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise InvalidInput(
            f"invalid name {name!r}: {problem} (names look like fraud-detector or team/fraud-detector)"
        )
    return name
