"""Semantic versions (SemVer 2.0.0) with precedence ordering, via the `semver` library.

ML meaning of the parts: MAJOR = architecture change (incompatible inputs or
outputs), MINOR = retrained on new data, PATCH = fix, quantization, optimization.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cmp_to_key
from typing import Any

from porcelain.errors import InvalidInput

BUMP_PARTS = ("major", "minor", "patch")


def parse(text: str) -> Any:
    """A semver.Version, or InvalidInput naming the rule that was broken."""
    import semver

    try:
        return semver.Version.parse(text)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"version {text!r} is not a SemVer 2.0.0 version: use MAJOR.MINOR.PATCH with optional "
            "-prerelease and +build, e.g. 1.2.0, 2.0.0-rc.1, 1.0.0+run.42"
        ) from None


def check(text: str) -> str:
    parse(text)
    return text


def compare(a: str, b: str) -> int:
    """SemVer precedence (build metadata ignored); -1, 0 or 1."""
    return parse(a).compare(parse(b))


def sort(versions: Iterable[str]) -> list[str]:
    """Oldest to newest by SemVer precedence (ties, differing only in build, by text)."""
    return sorted(versions, key=cmp_to_key(lambda a, b: compare(a, b) or (a > b) - (a < b)))


def is_prerelease(text: str) -> bool:
    return parse(text).prerelease is not None


def latest(versions: Iterable[str]) -> str | None:
    """The highest release; pre-releases count only when there is no release."""
    ordered = sort(versions)
    releases = [v for v in ordered if not is_prerelease(v)]
    pool = releases or ordered
    return pool[-1] if pool else None


def bump(current: str, part: str) -> str:
    """The next version after current: major, minor or patch (build metadata dropped)."""
    if part not in BUMP_PARTS:
        raise InvalidInput(f"cannot bump {part!r}: use major, minor or patch")
    version = parse(current)
    return str(getattr(version, f"bump_{part}")())
