"""Blob ids are the BLAKE3 hash of the bytes (what b3sum prints), whatever the size."""

from __future__ import annotations

import os
from pathlib import Path

import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pacha
from pacha.hashing import hash_bytes


@given(st.binary(max_size=1 << 16))
def test_hash_bytes_is_blake3(data: bytes) -> None:
    assert hash_bytes(data) == blake3.blake3(data).hexdigest()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.binary(max_size=4096), min_size=1, max_size=8))
def test_cli_hash_object_matches_blake3(cli, tmp_path: Path, contents: list[bytes]) -> None:
    paths = []
    for i, data in enumerate(contents):
        path = tmp_path / f"f{i}"
        path.write_bytes(data)
        paths.append(path)
    out = cli("hash-object", *paths).lines
    assert out == [blake3.blake3(d).hexdigest() for d in contents]


def test_large_file_hash_crosses_block_boundaries(cli, tmp_path: Path) -> None:
    data = os.urandom((8 << 20) * 2 + 12345)  # more than two 8 MiB read blocks
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    expected = blake3.blake3(data).hexdigest()
    assert cli("hash-object", path).text.strip() == expected
    assert cli("hash-object", "-w", path).text.strip() == expected
    assert cli("hash-object", "--stdin", input=data).text.strip() == expected


def test_stdin_paths_answers_each_path(cli, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b with space"
    a.write_bytes(b"alpha")
    b.write_bytes(b"beta")
    out = cli("hash-object", "--stdin-paths", input=f"{a}\n{b}\n").lines
    assert out == [hash_bytes(b"alpha"), hash_bytes(b"beta")]


def test_hash_without_w_stores_nothing(cli, tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"not stored")
    object_id = cli("hash-object", path).text.strip()
    assert cli("cat-object", "-e", object_id, ok=False).code == 1
    assert cli("count-objects").text.startswith("0 objects")


def test_structured_kinds_must_be_canonical(cli, tmp_path: Path) -> None:
    good = pacha.make_record("note", {"text": "hi", "n": 1})
    path = tmp_path / "rec.json"
    path.write_bytes(good)
    assert cli("hash-object", "-t", "record", path).text.strip() == hash_bytes(good)
    path.write_bytes(b'{"type": "note", "text": "hi"}')  # not compact
    result = cli.fails("hash-object", "-t", "record", "-w", path, code=128)
    assert "canonical" in result.err
    assert cli("count-objects").text.startswith("0 objects")
    result = cli.fails("hash-object", "-t", "commit", path, code=128)
    assert "unknown object kind" in result.err
