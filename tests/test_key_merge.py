"""The three-way merge of key slots (pacha.crypto.keyring_merge), over the space of changes
each side can make to a base: add, remove, re-wrap (a new passphrase: a different slot under
the same name), or leave a slot alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacha.crypto.kdf import Argon2Params
from pacha.crypto.keyring import Slot
from pacha.crypto.keyring_merge import KeyringConflict, by_name, merge3, same_slots

NAMES = ["a", "b", "c", "d"]


def _slot(name: str, version: int) -> Slot:
    """A slot told apart by (name, version): version stands for its salt and wrapped keys."""
    return Slot(name, Argon2Params(bytes([version]) * 16), {}, version, f"maker {version}")


def _side(base: dict[str, Slot], edits: dict[str, str], version: int) -> list[Slot]:
    """base after edits: name -> keep / remove / rewrap / add."""
    out = []
    for name in NAMES:
        edit = edits.get(name, "keep")
        if name in base and edit == "keep":
            out.append(base[name])
        elif (name in base and edit == "rewrap") or (name not in base and edit == "add"):
            out.append(_slot(name, version))
    return out


EDIT = st.sampled_from(["keep", "remove", "rewrap", "add"])
SPACE = st.tuples(
    st.sets(st.sampled_from(NAMES)),
    st.dictionaries(st.sampled_from(NAMES), EDIT),
    st.dictionaries(st.sampled_from(NAMES), EDIT),
)


def _expected(base: dict[str, Slot], m: dict[str, Slot], t: dict[str, Slot]) -> dict[str, Slot] | None:
    """The rules, name by name (None: a conflict)."""
    out = {}
    for name in NAMES:
        b, ms, ts = base.get(name), m.get(name), t.get(name)
        if b is not None and ms is None and ts is None:
            continue  # removed on both sides: removed
        if b is not None and (ms is None or ts is None):
            if (ms if ms is not None else ts) is not b:
                return None  # removed on one side, re-wrapped on the other
            continue  # removed on one side, left alone on the other: removed
        if ms is not None and ts is not None and ms is not b and ts is not b:
            return None  # added, or re-wrapped, on both sides
        keep = ms if ms is not b else ts
        if keep is not None:
            out[name] = keep
    return out or None  # no slot left is refused too


@given(SPACE)
def test_every_change_of_either_side_is_in_the_merge_or_it_is_a_conflict(case) -> None:
    names, mine_edits, their_edits = case
    base = {n: _slot(n, 1) for n in names}
    mine, theirs = _side(base, mine_edits, 2), _side(base, their_edits, 3)
    expected = _expected(base, by_name(mine), by_name(theirs))
    for first, second in ((mine, theirs), (theirs, mine)):  # the same whichever side is "mine"
        if expected is None:
            with pytest.raises(KeyringConflict):
                merge3(base, first, second, "remote r")
        else:
            merged = merge3(base, first, second, "remote r")
            assert by_name(merged).keys() == expected.keys()
            assert all(by_name(merged)[n] is expected[n] for n in expected)


@given(SPACE)
def test_a_side_that_changed_nothing_takes_the_other_side_whole(case) -> None:
    names, edits, _ = case
    base = {n: _slot(n, 1) for n in names}
    changed = _side(base, edits, 2)
    if not changed:
        return  # the empty result is refused (below)
    assert same_slots(merge3(base, list(base.values()), changed, "r"), changed)
    assert same_slots(merge3(base, changed, list(base.values()), "r"), changed)


def test_the_conflicts_are_one_line_naming_the_slot_and_the_way_out() -> None:
    base = {"a": _slot("a", 1)}
    with pytest.raises(KeyringConflict, match=r"'b' was added here and on remote r.*pacha key remove b"):
        merge3(base, [base["a"], _slot("b", 2)], [base["a"], _slot("b", 3)], "remote r")
    with pytest.raises(KeyringConflict, match=r"'a' was given a new passphrase both here and on remote r"):
        merge3(base, [_slot("a", 2)], [_slot("a", 3)], "remote r")
    kept = {"a": _slot("a", 1), "b": _slot("b", 1)}
    with pytest.raises(KeyringConflict, match=r"'a' was removed on one side and given a new pass.*remote r"):
        merge3(kept, [_slot("a", 2), kept["b"]], [kept["b"]], "remote r")
    two = {"a": _slot("a", 1), "b": _slot("b", 1)}
    with pytest.raises(KeyringConflict, match="would leave no key slot"):
        merge3(two, [two["a"]], [two["b"]], "remote r")
