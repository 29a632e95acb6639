"""Parsing the expected old value of a compare-and-swap."""

from __future__ import annotations

from pacha.ids import ZERO_ID, check_id


def expected_old(text: str) -> str | None:
    """A full id; the zero id means "must not exist" (None)."""
    value = check_id(text, "expected old value")
    return None if value == ZERO_ID else value
