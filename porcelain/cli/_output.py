"""Output for people (rich) and for programs (--json)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def print_json(data: Any) -> None:
    import msgspec

    sys.stdout.write(msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n")


def when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def parse_time(text: str) -> int:
    """ISO 8601 date or date-time (UTC unless an offset is given) -> ns since the epoch."""
    from porcelain.errors import InvalidInput

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--at {text!r} is not a date-time; use e.g. 2026-03-01T12:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e9)


def parse_metrics(pairs: list[str], what: str = "--metric") -> dict[str, float]:
    """NAME=NUMBER pairs -> {name: finite float}; InvalidInput names the pair that is wrong."""
    from porcelain.errors import InvalidInput
    from porcelain.finite import finite_float

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise InvalidInput(f"{what} {pair!r}: use NAME=NUMBER, e.g. auc=0.93")
        out[key.strip()] = finite_float(value.strip(), f"{what} {pair!r}")
    return out
