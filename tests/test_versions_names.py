"""SemVer 2.0.0 precedence and artifact-name rules (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from porcelain import semver as versions
from porcelain.errors import InvalidInput
from porcelain.names import check_name, name_problem

NUMERIC = st.integers(min_value=0, max_value=10**6).map(str)
ALNUM = st.from_regex(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True).filter(lambda s: len(s) <= 8)
IDENTIFIER = NUMERIC | ALNUM
BUILD_ID = st.from_regex(r"[0-9A-Za-z-]{1,6}", fullmatch=True)


@st.composite
def semver_text(draw) -> str:
    core = ".".join(draw(NUMERIC) for _ in range(3))
    pre = draw(st.lists(IDENTIFIER, max_size=3))
    build = draw(st.lists(BUILD_ID, max_size=2))
    return core + (f"-{'.'.join(pre)}" if pre else "") + (f"+{'.'.join(build)}" if build else "")


def spec_key(text: str):
    """Precedence straight from SemVer 2.0.0 section 11, written independently of the library."""
    body = text.split("+", 1)[0]
    core, _, pre = body.partition("-")
    major, minor, patch = (int(x) for x in core.split("."))
    if not pre:
        return (major, minor, patch, 1, ())
    idents = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, idents)


@given(semver_text(), semver_text())
def test_precedence_matches_the_spec(a: str, b: str) -> None:
    expected = (spec_key(a) > spec_key(b)) - (spec_key(a) < spec_key(b))
    assert versions.compare(a, b) == expected


def test_spec_example_chain() -> None:
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    assert versions.sort(reversed(chain)) == chain


@given(st.lists(semver_text(), min_size=1, max_size=8))
def test_latest_prefers_releases(items: list[str]) -> None:
    latest = versions.latest(items)
    releases = [v for v in items if "-" not in v.split("+")[0]]
    pool = releases or items
    assert latest in pool
    assert all(versions.compare(latest, v) >= 0 for v in pool)


@pytest.mark.parametrize("bad", ["1.0", "01.0.0", "1.0.0-", "1.0.0+", "v1.0.0", "1.0.0-01", "", "latest"])
def test_invalid_versions_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="SemVer"):
        versions.check(bad)


def test_bump() -> None:
    assert versions.bump("1.2.3", "major") == "2.0.0"
    assert versions.bump("1.2.3", "minor") == "1.3.0"
    assert versions.bump("1.2.3+build.5", "patch") == "1.2.4"
    with pytest.raises(InvalidInput):
        versions.bump("1.2.3", "huge")


@given(st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), min_size=1, max_size=3))
def test_valid_names_accepted(parts: list[str]) -> None:
    name = "/".join(parts)
    assert name_problem(name) is None


@given(
    st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
    st.sampled_from([" ", "..", "/", "\x00", "\n", "A", "@", ":", "~", "*", "\\"]),
)
def test_names_with_bad_characters_refused(base: str, bad: str) -> None:
    for name in (bad + base, base + bad, base + bad + base):
        if bad == "/" and name.strip("/") == name and "//" not in name:
            continue  # a single inner '/' is a namespace separator
        assert name_problem(name) is not None, name


@pytest.mark.parametrize(
    "bad",
    ["", "../etc", "a/../b", "/abs", "trail/", "Upper", "sp ace", "x.lock", "team/1.0.0", ".hidden", "a//b"],
)
def test_name_edge_cases(bad: str) -> None:
    with pytest.raises(InvalidInput, match="invalid name"):
        check_name(bad)
