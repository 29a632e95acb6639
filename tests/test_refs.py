"""Refs: compare-and-swap, atomic transactions, reflog, concurrency."""

from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path

import pytest

import pacha
from pacha.ids import ZERO_ID
from tests.conftest import snapshot


@pytest.fixture
def ids(cli, tmp_path: Path) -> list[str]:
    out = []
    for i in range(3):
        path = tmp_path / f"obj{i}"
        path.write_bytes(f"object {i}".encode())
        out.append(cli("hash-object", "-w", path).text.strip())
    return out


def test_write_read_and_reflog(cli, ids) -> None:
    cli("write-ref", "models/m/1.0.0", ids[0], "--create", "-m", "register")
    assert cli("read-ref", "models/m/1.0.0").text.strip() == ids[0]
    cli("write-ref", "models/m/1.0.0", ids[1][:10], "--old", ids[0], "-m", "fix")
    lines = cli("reflog", "models/m/1.0.0").lines
    assert len(lines) == 2
    newest = lines[0].split("\t")
    assert newest[0] == "models/m/1.0.0@{0}"
    assert newest[1:3] == [ids[0], ids[1]]
    assert newest[4] == "Test User <test@example.com>" and newest[5] == "fix"
    assert lines[1].split("\t")[1] == ZERO_ID
    assert cli("rev-parse", "models/m/1.0.0@{1}").text.strip() == ids[0]


def test_cas_refuses_stale_old_value(cli, ids) -> None:
    cli("write-ref", "stages/m/production", ids[0], "--create")
    cli("write-ref", "stages/m/production", ids[1], "--old", ids[0])
    before = snapshot(cli.registry)
    stale = cli.fails("write-ref", "stages/m/production", ids[2], "--old", ids[0], code=1)
    assert "not the expected" in stale.err
    dup = cli.fails("write-ref", "stages/m/production", ids[2], "--create", code=1)
    assert "already exists" in dup.err
    assert snapshot(cli.registry) == before
    assert cli("read-ref", "stages/m/production").text.strip() == ids[1]


def test_ref_to_missing_object_refused(cli) -> None:
    missing = "ab" * 32
    result = cli.fails("write-ref", "models/m/1.0.0", missing, code=1)
    assert missing in result.err
    assert cli("read-ref", "-q", "models/m/1.0.0", ok=False).code == 1


def test_transaction_is_all_or_nothing(cli, ids) -> None:
    cli("write-ref", "models/m/1.0.0", ids[0])
    before = snapshot(cli.registry)
    script = (
        f"create models/m/2.0.0 {ids[1]}\n"
        f"update stages/m/production {ids[1]}\n"
        f"verify models/m/1.0.0 {ids[2]}\n"  # fails: it holds ids[0]
    )
    result = cli.fails("update-ref", "--stdin", input=script, code=1)
    assert "models/m/1.0.0" in result.err
    assert snapshot(cli.registry) == before
    assert cli("for-each-ref", "--format", "%(refname)").lines == ["models/m/1.0.0"]
    good = script.replace(ids[2], ids[0])
    cli("update-ref", "--stdin", "-m", "release", input=good)
    assert cli("for-each-ref", "--format", "%(refname)").lines == [
        "models/m/1.0.0",
        "models/m/2.0.0",
        "stages/m/production",
    ]
    entries = pacha.open_registry(cli.registry).refs.reflog_all()
    release = [e for e in entries if e.message == "release"]
    assert len(release) == 2 and len({e.when_ns for e in release}) == 1


def test_update_ref_nul_format(cli, ids) -> None:
    data = (
        f"create models/a/1.0.0\0{ids[0]}\0update models/b/1.0.0\0{ids[1]}\0\0verify models/c/1.0.0\0\0"
    ).encode()
    cli("update-ref", "--stdin", "-z", input=data)
    assert cli("read-ref", "models/b/1.0.0").text.strip() == ids[1]
    data = f"delete models/a/1.0.0\0{ids[1]}\0".encode()  # wrong old value
    cli.fails("update-ref", "--stdin", "-z", input=data, code=1)
    cli("update-ref", "--stdin", "-z", input=f"delete models/a/1.0.0\0{ids[0]}\0".encode())
    assert cli("read-ref", "-q", "models/a/1.0.0", ok=False).code == 1


@pytest.mark.parametrize(
    "script, message",
    [
        ("frobnicate models/a 1234\n", "unknown instruction"),
        ("create models/a\n", "takes 1"),
        ("create ../x {id}\n", "invalid ref name"),
        ("update models/a {id} nothex\n", "not a valid id"),
        ("create models/a {id}\ncreate models/a {id}\n", "twice"),
    ],
)
def test_update_ref_bad_input_changes_nothing(cli, ids, script: str, message: str) -> None:
    before = snapshot(cli.registry)
    result = cli.fails("update-ref", "--stdin", input=script.format(id=ids[0]))
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert snapshot(cli.registry) == before


def test_delete_keeps_the_audit_trail(cli, ids) -> None:
    cli("write-ref", "models/m/0.9.0", ids[0])
    cli.fails("delete-ref", "models/m/0.9.0", "--old", ids[1], code=1)
    cli("delete-ref", "models/m/0.9.0", "-m", "withdrawn")
    assert cli("read-ref", "-q", "models/m/0.9.0", ok=False).code == 1
    log = cli("reflog", "models/m/0.9.0").lines
    assert log[0].split("\t")[2] == ZERO_ID and log[0].endswith("withdrawn")
    cli.fails("delete-ref", "models/m/0.9.0", code=1)


def test_for_each_ref_patterns_format_json(cli, ids) -> None:
    cli("write-ref", "models/a/1.0.0", ids[0])
    cli("write-ref", "models/a/1.1.0", ids[1])
    cli("write-ref", "models/ab/1.0.0", ids[2])
    cli("write-ref", "datasets/t/1.0.0", ids[2])
    names = cli("for-each-ref", "models/a", "--format", "%(refname)").lines
    assert names == ["models/a/1.0.0", "models/a/1.1.0"]
    assert cli("for-each-ref", "models/*/1.0.0", "--format", "%(refname)").lines == [
        "models/a/1.0.0",
        "models/ab/1.0.0",
    ]
    line = cli("for-each-ref", "datasets/", "--format", "%(objectname:short)%09%(objectsize) %%").text
    assert line == f"{ids[2][:12]}\t8 %\n"
    import json

    rows = json.loads(cli("for-each-ref", "--json", "datasets").text)
    assert rows == [{"name": "datasets/t/1.0.0", "id": ids[2], "type": "blob", "size": 8}]
    cli.fails("for-each-ref", "--format", "%(bogus)", code=128)


def _bump_counter(args: tuple[str, str, str, int]) -> int:
    """Worker: read the ref, then CAS it to the next id; retry on conflict."""
    root, prefix, name, rounds = args
    reg = pacha.open_registry(root)
    objects = [reg.objects.put_bytes(f"{prefix}-{i}".encode()) for i in range(rounds)]
    retries = 0
    for target in objects:
        while True:
            current = reg.refs.get(name)
            try:
                with reg.transaction(f"{prefix} step") as tx:
                    if current is None:
                        tx.create(name, target)
                    else:
                        tx.update(name, target, current)
                break
            except pacha.RefConflict:
                retries += 1
    with reg.transaction(f"{prefix} own") as tx:
        tx.create(f"own/{prefix}", objects[-1])
    return retries


def test_concurrent_writers_lose_no_update(cli) -> None:
    workers, rounds = 4, 30
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pool.map(_bump_counter, [(str(cli.registry), f"w{i}", "counter", rounds) for i in range(workers)])
    reg = pacha.open_registry(cli.registry)
    log = reg.refs.reflog("counter")
    # every successful CAS is one entry, and each entry starts where the previous ended
    assert len(log) == workers * rounds
    for older, newer in itertools.pairwise(log):
        assert newer.old == older.new
    assert [e.seq for e in log] == list(range(len(log)))
    assert len(list(reg.refs.iter("own/"))) == workers
    cli("fsck")


def test_index_changes_commit_with_the_refs(registry) -> None:
    blob = registry.objects.put_bytes(b"x")
    with registry.transaction("ok") as tx:
        tx.create("models/a/1.0.0", blob)
        tx.index_add("children", b"parent", b"child-1")
    assert registry.refs.index_values("children", b"parent") == [b"child-1"]
    with pytest.raises(pacha.RefConflict), registry.transaction("conflict") as tx:
        tx.create("models/a/1.0.0", blob)  # exists: the whole transaction fails
        tx.index_add("children", b"parent", b"child-2")
        tx.index_add("fresh-index", b"k", b"v")
    assert registry.refs.index_values("children", b"parent") == [b"child-1"]
    assert registry.refs.index_values("fresh-index", b"k") == []
    assert registry.refs.index_rebuild("children", iter([(b"p", b"c")])) == 1
    assert registry.refs.index_values("children", b"parent") == []
