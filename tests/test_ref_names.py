"""Ref names follow rules like `git check-ref-format`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacha.errors import InvalidRefName
from pacha.refs.names import check_ref_name, ref_name_problem

SAFE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_+=,ü", min_size=1, max_size=12)
COMPONENT = st.builds(lambda head, rest: head + rest, st.sampled_from("abcxyz019"), SAFE | st.just(""))
VALID = st.lists(COMPONENT, min_size=1, max_size=5).map("/".join)


@given(VALID)
def test_well_formed_names_are_accepted(name: str) -> None:
    assert ref_name_problem(name) is None
    assert check_ref_name(name) == name


BAD_FRAGMENTS = ["..", " ", "~", "^", ":", "?", "*", "[", "\\", "\x00", "\x1f", "\x7f", "@{", "//"]


@given(VALID, st.sampled_from(BAD_FRAGMENTS), st.integers(min_value=0))
def test_names_with_forbidden_fragments_are_refused(name: str, fragment: str, where: int) -> None:
    pos = where % (len(name) + 1)
    bad = name[:pos] + fragment + name[pos:]
    assert ref_name_problem(bad) is not None


@given(VALID)
def test_structural_rules(name: str) -> None:
    for bad in (
        "/" + name,
        name + "/",
        name + ".",
        "." + name,
        name + ".lock",
        name + "/.hidden",
        name + "/x.lock/y",
    ):
        assert ref_name_problem(bad) is not None, bad


@pytest.mark.parametrize("name", ["", "@", "a" * 256, "models/x/../y", "models/x@{1}"])
def test_edge_cases_refused(name: str) -> None:
    with pytest.raises(InvalidRefName, match="invalid ref name"):
        check_ref_name(name)


@pytest.mark.parametrize(
    "name", ["models/fraud-detector/1.0.0", "datasets/team/tx/2.0.0-rc.1+build.5", "runs/0001", "x"]
)
def test_real_names_accepted(name: str) -> None:
    assert check_ref_name(name) == name
