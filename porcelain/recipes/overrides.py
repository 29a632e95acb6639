"""Overriding a recipe's hyperparameters for one run, type-checked against the recipe."""

from __future__ import annotations

import math
from typing import Any

from pacha.documents import parse_toml
from porcelain.errors import InvalidInput
from porcelain.finite import HINT, require_finite
from porcelain.recipes.check import STANDARD_HYPERPARAMETERS, out_of_range, run_parameters
from porcelain.wording import say


def _override() -> str:
    return say("--override", "override")


def coerce_override(doc: dict[str, Any], assignment: str) -> tuple[str, Any]:
    """NAME=VALUE checked against the recipe's type for NAME (hyperparameters, standard or custom)."""
    name, sep, text = assignment.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InvalidInput(f"{_override()} {assignment!r}: use NAME=VALUE, e.g. learning_rate=1e-5")
    current = run_parameters(doc)
    if name not in current:
        known = ", ".join(sorted(current)) or "none"
        raise InvalidInput(
            f"{_override()} {name}: the recipe has no hyperparameter {name!r} (it has: {known})"
        )
    return name, _in_range(doc, name, _convert(name, current[name], text.strip()), assignment)


def _in_range(doc: dict[str, Any], name: str, value: Any, given: str) -> Any:
    """value, if a standard hyperparameter's range allows it (`recipe validate`'s rules: an
    override of learning_rate=-1 ran, though the same recipe with it is refused)."""
    hp = doc.get("hyperparameters")
    if name in STANDARD_HYPERPARAMETERS and isinstance(hp, dict) and name in hp:
        wrong = out_of_range({name: value})
        if wrong:
            raise InvalidInput(f"{_override()} {given}: {wrong[0]}")
    return value


def _convert(name: str, current: Any, text: str) -> Any:
    def fail(kind: str) -> InvalidInput:
        return InvalidInput(f"{_override()} {name}={text}: {name} is {kind} in the recipe")

    if isinstance(current, bool):
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise fail("a bool (true/false)")
    if isinstance(current, int):
        try:
            return int(text)
        except ValueError:
            raise fail("an integer") from None
    if isinstance(current, float):
        try:
            number = float(text)
        except ValueError:
            raise fail("a number") from None
        if not math.isfinite(number):
            raise InvalidInput(f"{_override()} {name}={text}: {HINT}")
        return number
    if isinstance(current, list):
        try:
            value = parse_toml(f"v = {text}", "--override").get("v")  # nesting bounded
        except InvalidInput:
            raise fail("a list (e.g. [1, 2])") from None
        if not isinstance(value, list):
            raise fail("a list (e.g. [1, 2])")
        return value
    return text


def check_override_value(doc: dict[str, Any], name: str, value: Any) -> Any:
    """A typed override from Python code, checked against the recipe's type for name.

    Raises InvalidInput if name is not a hyperparameter of the recipe, value has another
    type, or value holds a NaN or infinity."""
    require_finite(value, f"override {name}")
    if isinstance(value, str):
        return coerce_override(doc, f"{name}={value}")[1]
    current = run_parameters(doc)
    if name not in current:
        known = ", ".join(sorted(current)) or "none"
        raise InvalidInput(f"override {name}: the recipe has no hyperparameter {name!r} (it has: {known})")
    expected = current[name]
    ok = (
        (isinstance(expected, bool) and isinstance(value, bool))
        or (
            isinstance(expected, int)
            and not isinstance(expected, bool)
            and isinstance(value, int)
            and not isinstance(value, bool)
        )
        or (isinstance(expected, float) and isinstance(value, int | float) and not isinstance(value, bool))
        or (isinstance(expected, list) and isinstance(value, list))
    )
    if not ok:
        raise InvalidInput(
            f"override {name}={value!r}: the recipe has {type(expected).__name__} {expected!r}"
        )
    value = float(value) if isinstance(expected, float) else value
    return _in_range(doc, name, value, f"{name}={value!r}")
