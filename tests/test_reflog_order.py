"""The reflog's order and times: a hybrid logical clock, never a writer's wall clock."""

from __future__ import annotations

import json
import os
import time
from itertools import pairwise
from pathlib import Path

import lmdb
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacha.refs import store as refstore
from tests.conftest import Cli

HOUR_NS = 3600 * 10**9

SKEW = """\
import time

_real_ns, _real = time.time_ns, time.time
time.time_ns = lambda: _real_ns() + {skew_ns}
time.time = lambda: _real() + {skew_ns} / 1e9
"""


def skewed(cli: Cli, tmp_path: Path, skew_ns: int) -> Cli:
    """The same registry through a `pacha` whose machine clock is off by skew_ns."""
    site = tmp_path / f"clock{skew_ns}"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SKEW.format(skew_ns=skew_ns))
    other = Cli(cli.registry, cli.cwd)
    other.env = dict(
        cli.env, PYTHONPATH=os.pathsep.join(filter(None, [str(site), cli.env.get("PYTHONPATH")]))
    )
    return other


def history(cli: Cli, name: str) -> list[tuple[str, str | None, str | None]]:
    moves = json.loads(cli("model", "history", name, "--json").text)
    return [(m["version"], m["from"], m["to"]) for m in moves]


def history_by_transaction(cli: Cli, name: str) -> list[set[tuple[str, str | None, str | None]]]:
    """History as the moves of each transaction (one transaction: one time), in listed order."""
    out: list[set] = []
    last = None
    for m in json.loads(cli("model", "history", name, "--json").text):
        if m["when_ns"] != last:
            out.append(set())
            last = m["when_ns"]
        out[-1].add((m["version"], m["from"], m["to"]))
    return out


def history_times(cli: Cli, name: str) -> list[int]:
    return [m["when_ns"] for m in json.loads(cli("model", "history", name, "--json").text)]


def in_production_at(cli: Cli, name: str, when: str) -> str:
    return json.loads(cli("model", "get", f"{name}@production", "--at", when, "--json").text)["version"]


def iso(ns: int) -> str:
    return refstore.iso_time(ns)


def test_a_clock_an_hour_ahead_does_not_reorder_history(cli, tmp_path: Path) -> None:
    """The issue's input: a promotion by a machine whose clock is an hour ahead, then a rollback
    by a correct clock. History lists them as they happened; --at later names the rolled-back-to
    version; stored times never go backwards."""
    ahead = skewed(cli, tmp_path, HOUR_NS)
    for i, version in enumerate(["1.0.0", "1.1.0"]):
        artifact = tmp_path / f"m{i}.bin"
        artifact.write_bytes(os.urandom(100))
        cli("model", "register", "m", artifact, "-v", version)
    cli("model", "stage", "m:1.0.0", "-t", "production")
    before_skew = time.time_ns()
    ahead("model", "stage", "m:1.1.0", "-t", "production")  # archives 1.0.0, stamped an hour ahead
    cli("model", "stage", "m:1.1.0", "-t", "staging")  # the rollback, by a correct clock
    cli("model", "stage", "m:1.0.0", "-t", "development")
    cli("model", "stage", "m:1.0.0", "-t", "production")
    assert history_by_transaction(cli, "m") == [
        {("1.0.0", None, "development")},
        {("1.1.0", None, "development")},
        {("1.0.0", "development", "production")},
        {("1.1.0", "development", "production"), ("1.0.0", "production", "archived")},
        {("1.1.0", "production", "staging")},
        {("1.0.0", "archived", "development")},
        {("1.0.0", "development", "production")},
    ]
    times = history_times(cli, "m")
    assert times == sorted(times)  # never backwards, although the rollback's clock was behind
    assert times[-1] >= before_skew + HOUR_NS
    later = iso(time.time_ns() + 2 * HOUR_NS)
    assert in_production_at(cli, "m", later) == "1.0.0"
    # exactly at the skewed promotion's stored time: what it left; just before: what was before it
    assert in_production_at(cli, "m", iso(times[4])) == "1.1.0"
    assert in_production_at(cli, "m", iso(times[2])) == "1.0.0"
    # the plumbing reflog lists every ref's entries newest first in the same order
    names = [line.split("\t")[0].split("@")[0] for line in cli("reflog").lines]
    assert names[0] == "stages/models/m/production/1.0.0"
    assert names[1] == "stages/models/m/development/1.0.0"


def test_transactions_are_numbered_registry_wide(cli, tmp_path: Path) -> None:
    """Every write transaction has its own number; all entries of one share it and its time."""
    artifact = tmp_path / "a.bin"
    for i in range(3):
        artifact.write_bytes(os.urandom(50))
        cli("model", "register", "m", artifact, "-v", f"1.{i}.0")
    cli("model", "stage", "m:1.0.0", "-t", "production")
    cli("model", "stage", "m:1.1.0", "-t", "production")
    entries = json.loads(cli("reflog", "--json").text)[::-1]
    numbers = [e["txn"] for e in entries]
    assert numbers == sorted(numbers) and numbers[0] == 1
    by_txn: dict[int, set[int]] = {}
    for e in entries:
        by_txn.setdefault(e["txn"], set()).add(e["when_ns"])
    assert sorted(by_txn) == list(range(1, 6))  # 3 registrations, 2 promotions
    assert all(len(times) == 1 for times in by_txn.values())
    assert len(by_txn[5]) == 1 and len([e for e in entries if e["txn"] == 5]) == 4


def _make_old(registry: Path, future_ns: int) -> None:
    """Rewrite the reflog as a registry from before the clock: no txn, no map:clock;
    and the newest entry stamped by a clock that was ahead."""
    refstore.close_all()
    env = lmdb.open(str(registry / "refs"), max_dbs=16, subdir=True)
    reflog = env.open_db(b"reflog")
    with env.begin(write=True) as txn:
        rows = [(key, msgspec.json.decode(value)) for key, value in txn.cursor(db=reflog)]
        newest = max(doc["when_ns"] for _, doc in rows)
        for key, doc in rows:
            doc.pop("txn", None)
            if doc["when_ns"] == newest:  # every entry of the last transaction
                doc["when_ns"] = future_ns
            txn.put(key, msgspec.json.encode(doc, order="sorted"), db=reflog)
        txn.drop(env.open_db(b"map:clock", txn=txn), delete=True)
    env.close()


def test_a_registry_from_before_the_clock_stays_readable_and_in_order(cli, tmp_path: Path) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(os.urandom(50))
    cli("model", "register", "old", artifact, "-v", "1.0.0")
    cli("model", "stage", "old:1.0.0", "-t", "staging")
    future = time.time_ns() + HOUR_NS
    _make_old(cli.registry, future)
    assert "txn" not in json.dumps(msgspec.json.decode(_raw_reflog(cli.registry)[0]))
    assert history(cli, "old") == [("1.0.0", None, "development"), ("1.0.0", "development", "staging")]
    cli("model", "stage", "old:1.0.0", "-t", "production")
    assert history(cli, "old")[-1] == ("1.0.0", "staging", "production")
    times = history_times(cli, "old")
    assert times == sorted(times) and times[-1] > future  # the clock starts at the newest old time
    entries = json.loads(cli("reflog", "--json").text)
    assert [e["txn"] for e in entries] == [1, 1, 0, 0, 0, 0]  # numbering starts after the old entries
    cli("fsck")


def _raw_reflog(registry: Path) -> list[bytes]:
    refstore.close_all()
    env = lmdb.open(str(registry / "refs"), max_dbs=16, subdir=True, readonly=True, lock=False)
    with env.begin(db=env.open_db(b"reflog", create=False)) as txn:
        values = [v for _, v in txn.cursor()]
    env.close()
    return values


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(offsets=st.lists(st.integers(-2 * HOUR_NS, 2 * HOUR_NS), min_size=1, max_size=12))
def test_stored_times_never_go_backwards_whatever_the_clocks(registry, monkeypatch, offsets) -> None:
    """Writers whose clocks jump back and forth: the reflog keeps commit order, its times only
    rise, and no stored time is earlier than the writer's own clock said."""

    class Clock:
        reading = 0

        def time_ns(self) -> int:
            return self.reading

    clock = Clock()
    monkeypatch.setattr(refstore, "time", clock)
    blob = registry.objects.put_bytes(b"payload")
    prefix = f"clock/{len(registry.refs.reflog_all('clock/'))}/"
    base = time.time_ns()
    for i, offset in enumerate(offsets):
        clock.reading = base + offset
        with registry.transaction(f"step {i}") as tx:
            tx.create(f"{prefix}{i:03d}", blob)
        assert registry.refs.reflog(f"{prefix}{i:03d}")[0].when_ns >= clock.reading
    entries = registry.refs.reflog_all(prefix)
    assert [e.message for e in entries] == [f"step {i}" for i in range(len(offsets))]
    assert all(a.when_ns < b.when_ns and a.txn < b.txn for a, b in pairwise(entries))
    everything = registry.refs.reflog_all()
    assert all(a.when_ns <= b.when_ns for a, b in pairwise(everything))
