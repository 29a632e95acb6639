"""The ref database's integrity: a truncated, damaged, edited or lost ref database is
detected (never taken for an empty registry), gc removes nothing while the roots fail their
check, and `pacha fsck --recover-refs` restores a usable registry from what objects know."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import lmdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pacha
from pacha.refs.integrity import check_refs
from tests.conftest import Cli


def count_objects(cli: Cli) -> int:
    return sum(1 for _ in pacha.open_registry(cli.registry).objects.iter_ids())


@pytest.fixture
def team(cli: Cli, tmp_path: Path) -> Cli:
    """Three versions, one in production, one dataset; a repack (ref snapshot), then one more."""
    for name in ("a", "b", "c"):
        (tmp_path / name).write_bytes(os.urandom(20_000))
    cli("model", "register", "m", "a", "-v", "1.0.0")
    cli("model", "register", "m", "b", "-v", "1.1.0")
    cli("model", "stage", "m:1.0.0", "-t", "production")
    cli("data", "register", "d", "a", "-v", "1.0.0")
    cli("repack")
    cli("model", "register", "m", "c", "-v", "1.2.0")  # after the snapshot
    return cli


def _refs(cli: Cli) -> list[str]:
    return cli("for-each-ref").lines


def _one_fatal_line(result) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 128, (result.code, result.err)  # not a signal (SIGBUS: -7)
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err, result.err


@pytest.mark.parametrize("keep", [0, 100, 4096, 8192, 8193, 12288, 20000, -4096, -1])
def test_a_truncated_ref_database_is_never_an_empty_registry(team: Cli, keep: int) -> None:
    data = team.registry / "refs" / "data.mdb"
    size = data.stat().st_size
    objects = count_objects(team)
    os.truncate(data, keep if keep >= 0 else size + keep)
    for command in (["for-each-ref"], ["model", "list"], ["fsck"], ["gc", "--prune", "now"], ["stats"]):
        result = team(*command, ok=False)
        _one_fatal_line(result)
        assert "ref database" in result.err and "--recover-refs" in result.err, result.err
    assert count_objects(team) == objects  # gc removed nothing


def test_a_one_bit_flip_in_a_ref_name_is_found_and_stops_gc(team: Cli) -> None:
    data = team.registry / "refs" / "data.mdb"
    original = data.read_bytes()
    at = original.find(b"stages/models/m/production/1.0.0")
    while True:  # the live copy of the key (LMDB's copy-on-write leaves old ones in free pages)
        assert at > 0
        raw = bytearray(original)
        raw[at + len("stages/models/m/")] ^= 0x01  # one bit: production -> qroduction
        data.write_bytes(bytes(raw))
        if any("qroduction" in line for line in _refs(team)):  # LMDB itself notices nothing
            break
        at = original.find(b"stages/models/m/production/1.0.0", at + 1)
    check = team.fails("fsck", code=1)
    assert "does not match its digest" in check.out.decode()
    objects = count_objects(team)
    refused = team.fails("gc", "--prune", "now", code=1)
    assert "gc refused to remove anything" in refused.err
    assert count_objects(team) == objects
    team("fsck", "--recover-refs")
    refs = _refs(team)
    assert any(line.endswith("\tstages/models/m/production/1.0.0") for line in refs)
    assert not any("qroduction" in line for line in refs)
    team("fsck")


def test_recovery_rebuilds_a_truncated_database_from_snapshot_and_records(team: Cli) -> None:
    before = _refs(team)
    os.truncate(team.registry / "refs" / "data.mdb", 12288)
    out = team("fsck", "--recover-refs").text
    assert "rebuilt the ref database" in out
    after = _refs(team)
    # everything comes back: the snapshot's refs (production stage included) and the
    # version registered after it, in its first stage
    assert after == before
    assert list(team.registry.glob("refs.damaged-*"))  # the damaged file is kept, not deleted
    team("fsck")
    team("reindex")
    assert "production" in team("model", "list").text


def test_a_lost_database_is_reported_and_rebuilt(team: Cli) -> None:
    before = _refs(team)
    shutil.rmtree(team.registry / "refs")
    for command in (["model", "list"], ["gc", "--prune", "now"]):
        result = team(*command, ok=False)
        _one_fatal_line(result)
        assert "missing" in result.err
    team("fsck", "--recover-refs")
    assert _refs(team) == before


def test_an_emptied_database_stops_gc_and_its_versions_come_back(team: Cli) -> None:
    """A valid but empty ref database (refs lost some other way) is not an empty registry."""
    before = _refs(team)
    shutil.rmtree(team.registry / "refs")
    (team.registry / "refs").mkdir()
    env = lmdb.open(str(team.registry / "refs"), max_dbs=16, map_size=1 << 20)
    env.open_db(b"refs")
    env.close()
    assert _refs(team) == []
    check = team.fails("fsck", code=1)
    assert "models/m/1.2.0" in check.out.decode() and "was never deleted" in check.out.decode()
    objects = count_objects(team)
    refused = team.fails("gc", "--prune", "now", code=1)
    assert "version record(s) would go whose refs were never deleted" in refused.err
    assert count_objects(team) == objects
    out = team("fsck", "--recover-refs").text
    assert "restored 4 lost version(s)" in out
    versions = [line.split("\t")[1] for line in _refs(team) if not line.split("\t")[1].startswith("stages/")]
    assert versions == [
        line.split("\t")[1] for line in before if not line.split("\t")[1].startswith("stages/")
    ]
    team("fsck")


def test_recovery_leaves_a_sound_database_as_it_is(team: Cli) -> None:
    before = _refs(team)
    log = team("reflog").text
    assert "restored 0 lost version(s)" in team("fsck", "--recover-refs").text
    assert _refs(team) == before and team("reflog").text == log
    assert not list(team.registry.glob("refs.damaged-*"))


def test_deleted_versions_do_not_stop_gc(team: Cli) -> None:
    team("model", "delete", "m:1.1.0")
    team("gc", "--prune", "now", "--keep-last", "1")  # expires m:1.0.0 and m:1.1.0's history too
    team("fsck")


def test_a_damaged_snapshot_is_not_used(team: Cli) -> None:
    snapshot = team.registry / "ref-snapshot"
    text = snapshot.read_text()
    snapshot.write_text(text.replace("production", "qroduction"))
    os.truncate(team.registry / "refs" / "data.mdb", 8192)
    result = team("fsck", "--recover-refs")
    assert "damaged" in result.err
    refs = _refs(team)
    assert not any("qroduction" in line for line in refs)
    assert any(line.endswith("\tmodels/m/1.0.0") for line in refs)  # the records still restore versions


names = st.sampled_from([f"models/x{i}/1.0.0" for i in range(5)] + ["stages/models/x0/production/1.0.0"])


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["set", "delete"]), names, st.integers(0, 2)), max_size=25))
def test_the_digest_follows_every_change(tmp_path_factory, ops) -> None:  # type: ignore[no-untyped-def]
    registry, _ = pacha.init_registry(tmp_path_factory.mktemp("digest") / "reg")
    blobs = [registry.objects.put_bytes(bytes([i])) for i in range(3)]
    for op, name, value in ops:
        current = registry.refs.get(name)
        with registry.transaction(op) as tx:
            if op == "set":
                tx.update(name, blobs[value])
            elif current is not None:
                tx.delete(name, expire=value == 0)
    assert check_refs(registry.refs) == []
    pacha.refs.store.close_all()
