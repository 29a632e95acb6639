"""What a remote holds was written by someone else: its documents are checked as a registry
checks untrusted input, and a damaged or foreign remote is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacha.ids import ZERO_ID
from pacha.refs.names import ref_name_problem
from pacha.transport.errors import RemoteFormatError
from pacha.transport.fetch import fetch
from pacha.transport.layout import Change, LogSegment, decode_segment, decode_table
from pacha.transport.remote import open_remote
from tests.transport_fixtures import new_registry

ID = "ab" * 32


def table(refs: dict[str, str]) -> bytes:
    return json.dumps({"format": 1, "refs": refs, "seq": 1, "log": None, "who": "x", "when_ns": 1}).encode()


@given(st.text(max_size=40))
def test_a_remote_ref_name_is_accepted_exactly_when_a_local_one_would_be(name: str) -> None:
    if ref_name_problem(name) is None:
        assert decode_table(table({name: ID}), '"e"').refs == {name: ID}
    else:
        with pytest.raises(RemoteFormatError, match="ref table is damaged"):
            decode_table(table({name: ID}), '"e"')


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"refs": {}}', table({"models/m/1": "xyz"}), table({"models/m/1": ID})[:-1]],
)
def test_a_damaged_ref_table_is_refused(data: bytes) -> None:
    with pytest.raises(RemoteFormatError):
        decode_table(data, '"e"')


def test_a_segment_round_trips_and_a_damaged_one_is_refused() -> None:
    carried = Change("stages/model/m/staging/1", ZERO_ID, ID, "Ada <ada@example.com>", 4, "review", 17)
    changes = [Change("models/m/1", ZERO_ID, ID), carried]
    segment = LogSegment(3, "logs/0000000000000002-00", "Alice", 5, "push", changes)
    assert decode_segment(segment.encode(), segment.key()) == segment
    own, theirs = segment.entries()
    assert (own.who, own.when_ns, own.message, own.pushed_by, own.txn) == ("Alice", 5, "push", "Alice", 0)
    assert (theirs.who, theirs.when_ns, theirs.message, theirs.pushed_by, theirs.pushed_ns, theirs.txn) == (
        "Ada <ada@example.com>", 4, "review", "Alice", 5, 17
    )
    bad = json.loads(segment.encode())
    bad["entries"][0]["name"] = "models/../m"
    with pytest.raises(RemoteFormatError, match="segment"):
        decode_segment(json.dumps(bad).encode(), "logs/x")
    bad = json.loads(segment.encode())
    bad["entries"][1]["when_ns"] = "yesterday"
    with pytest.raises(RemoteFormatError, match="segment"):
        decode_segment(json.dumps(bad).encode(), "logs/x")


def test_fetch_from_a_damaged_or_foreign_remote_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "remote"
    root.mkdir()
    (root / "pacha-remote").write_text('{"format":"pacha-remote","version":1}')
    (root / "refs").write_bytes(table({"models/../evil": ID}))
    bob = new_registry(tmp_path, "bob")
    with pytest.raises(RemoteFormatError, match="ref table is damaged"):
        fetch(bob, open_remote(str(root)), "origin")
    assert dict(bob.refs.iter("")) == {}
    (root / "pacha-remote").write_text('{"format":"pacha-remote","version":2}')
    with pytest.raises(RemoteFormatError, match="upgrade"):
        fetch(bob, open_remote(str(root)), "origin")
    (root / "pacha-remote").write_text('{"format":"something-else"}')
    with pytest.raises(RemoteFormatError, match="not a Pacha remote"):
        fetch(bob, open_remote(str(root)), "origin")
