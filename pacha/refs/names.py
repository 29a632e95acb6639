"""Ref name rules, after `git check-ref-format`.

A name is one or more '/'-separated components. Refused: an empty name or
component (so no leading, trailing or doubled '/'), '..' anywhere, a component
that starts with '.' or ends with '.lock', a name ending in '.', '@{', the name
'@', ASCII control characters, space and any of ~ ^ : ? * [ \\, and names over
255 bytes of UTF-8.
"""

from __future__ import annotations

from pacha.errors import InvalidRefName

MAX_REF_BYTES = 255
_FORBIDDEN = frozenset(" ~^:?*[\\\x7f")


def ref_name_problem(name: str) -> str | None:
    """Why name is not a valid ref name, or None when it is."""
    if not name:
        return "it is empty"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if len(encoded) > MAX_REF_BYTES:
        return f"it is longer than {MAX_REF_BYTES} bytes"
    for ch in name:
        if ord(ch) < 0x20 or ch in _FORBIDDEN:
            return f"it contains the character {ch!r}"
    if name == "@":
        return "'@' alone is reserved"
    if "@{" in name:
        return "it contains '@{' (reserved for reflog syntax)"
    if ".." in name:
        return "it contains '..'"
    if name.endswith("."):
        return "it ends with '.'"
    for component in name.split("/"):
        if not component:
            return "it has an empty component (leading, trailing or doubled '/')"
        if component.startswith("."):
            return f"component {component!r} starts with '.'"
        if component.endswith(".lock"):
            return f"component {component!r} ends with '.lock'"
    return None


def check_ref_name(name: str) -> str:
    """Return name if valid, else raise InvalidRefName saying why."""
    problem = ref_name_problem(name)
    if problem:
        raise InvalidRefName(
            f"invalid ref name {name!r}: {problem} (names look like models/fraud-detector/1.0.0)"
        )
    return name
