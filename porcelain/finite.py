"""Only finite numbers are stored: NaN and the infinities are refused at every input.

JSON (RFC 8259, section 6) has no representation for NaN or infinity; msgspec would
write them as `null`, and a record whose metric is `null` where a number is expected
used to make every later read of that name fail. So every number a user hands in
(CLI --metric/--override, cards, datasheets, recipes, run metrics, the Python API)
passes through here first, and is refused with one line naming where it was.
Records written before this check may still hold `null`: readers show it as missing.
"""

from __future__ import annotations

import math
from typing import Any

from porcelain.errors import InvalidInput

HINT = "only finite numbers can be stored (JSON has no NaN or infinity)"


def non_finite_path(value: Any, path: str = "") -> tuple[str, float] | None:
    """The first (dotted path, value) in a nested document that is NaN or infinite, else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = non_finite_path(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = non_finite_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def require_finite(value: Any, where: str) -> None:
    """Raise InvalidInput if any number inside value is NaN or infinite.

    where names the input for the message, e.g. "model card card.toml" or "--metric".
    """
    found = non_finite_path(value)
    if found:
        path, number = found
        at = f" {path}" if path else ""
        raise InvalidInput(f"{where}:{at} is {number}; {HINT}")


def finite_float(value: Any, where: str) -> float:
    """value as a finite float; InvalidInput if it is not a number or not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{where}: {value!r} is not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{where}: {value!r} is not a finite number; {HINT}")
    return number


def shown(value: float | None, spec: str = "g") -> str:
    """A stored number for people; None (a non-finite number stored before it was refused) is missing."""
    return "missing" if value is None else format(value, spec)
