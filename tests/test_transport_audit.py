"""The remote audit trail holds one entry per stage change, not one per push: each with the who,
time and message of the machine that made it, and another clone's `model history` shows the
same entries after a fetch/pull (a directory remote and a real SeaweedFS bucket)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.remotes import Shared, artifact, member, shared_place


@pytest.fixture(params=["file", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from shared_place(request, tmp_path)


def history(cli: Cli, *extra: str) -> list[tuple[str, str, str | None, str | None, str, int]]:
    rows = json.loads(cli("model", "history", "fraud", "--json", *extra).text)
    return [(r["version"], r["who"], r["from"], r["to"], r["why"], r["when_ns"]) for r in rows]


def test_each_stage_change_travels_with_its_own_who_when_and_why(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "fraud", artifact(tmp_path, "v1.bin"), "-v", "1.0.0")
    ada("push")
    bob = member(tmp_path, "bob", shared)
    bob("pull")
    # Ada promotes twice (two local transactions), then pushes once
    ada("model", "stage", "fraud:1.0.0", "--to", "staging", "-m", "passed tests")
    ada("model", "stage", "fraud:1.0.0", "--to", "production", "-m", "passed review")
    ada("push")
    made_by_ada = history(ada)
    assert [(v, f, t, why) for v, _, f, t, why, _ in made_by_ada][-2:] == [
        ("1.0.0", "development", "staging", "passed tests"),
        ("1.0.0", "staging", "production", "passed review"),
    ]
    bob("pull")
    # Bob's own history and the remote's trail show Ada's two changes exactly as she made them
    assert history(bob)[-2:] == made_by_ada[-2:]
    assert history(bob, "--remote", "origin")[-2:] == made_by_ada[-2:]
    # the registration too, with Ada's time: the whole history is the same on both machines
    assert history(bob) == made_by_ada
    # Bob promotes nothing; a third member cloning later sees the same
    carl_dir = tmp_path / "carl"
    carl = Cli(carl_dir / ".pacha", tmp_path)
    carl.env.update(bob.env)
    carl("clone", shared.url, carl_dir / ".pacha", *shared.add_args())
    assert history(carl) == made_by_ada


def test_a_push_from_a_value_the_reflog_never_held_carries_one_entry(shared: Shared, tmp_path: Path) -> None:
    import pacha
    from pacha.transport.fetch import remote_log

    bob = member(tmp_path, "bob", shared)
    bob("model", "register", "fraud", artifact(tmp_path, "bob.bin"), "-v", "1.0.0", "-m", "bob's build")
    bob("push")
    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "fraud", artifact(tmp_path, "ada.bin"), "-v", "1.0.0", "-m", "ada's build")
    assert "not a fast-forward" in ada.fails("push", code=1).err
    ada("push", "--force")  # from Bob's values, which Ada's reflog never held
    ada("fetch")
    trail = remote_log(pacha.open_registry(ada.registry), "origin")
    bobs = [e for e in trail if e.pushed_by.startswith("Bob")]
    adas = [e for e in trail if e.pushed_by.startswith("Ada")]
    # Bob's push carried his registration as he made it (before his push)
    assert bobs and all(e.who.startswith("Bob") and e.message == "bob's build" for e in bobs)
    assert all(e.when_ns < e.pushed_ns for e in bobs)
    # Ada's forced push: one entry per ref, with the push's who, time and message
    assert adas and all(e.who == e.pushed_by and e.when_ns == e.pushed_ns for e in adas)
    assert len({e.name for e in adas}) == len(adas)


def test_replayed_changes_keep_their_time_apart_from_the_local_clock(tmp_path: Path) -> None:
    from pacha.ids import ZERO_ID
    from pacha.refs.transaction import Recorded
    from pacha.registry import init_registry

    registry = init_registry(tmp_path / "r")[0]
    a = registry.objects.put_bytes(b"a", "blob")
    b = registry.objects.put_bytes(b"b", "blob")
    with registry.refs.transaction("local", "Me <me@x>") as tx:
        tx.create("runs/local", a)
    [mine] = registry.refs.reflog("runs/local")
    history = [
        Recorded(ZERO_ID, a, "Ada <ada@x>", 1_000, "made", 7),
        Recorded(a, b, "Bob <bob@x>", 2_000, "changed", 9),
    ]
    with registry.refs.transaction("pull", "Me <me@x>") as tx:
        tx.replay("runs/x", b, None, history)
        tx.replay("runs/y", a, None, history)  # does not end at a: one plain entry instead
    made, changed = registry.refs.reflog("runs/x")
    assert [(e.who, e.message, e.made_at) for e in (made, changed)] == [
        ("Ada <ada@x>", "made", 1_000),
        ("Bob <bob@x>", "changed", 2_000),
    ]
    # the local clock still orders them: after everything written before, one transaction each
    assert mine.when_ns < made.when_ns < changed.when_ns and mine.txn < made.txn < changed.txn
    [plain] = registry.refs.reflog("runs/y")
    assert (plain.who, plain.message, plain.made_ns, plain.new) == ("Me <me@x>", "pull", 0, a)
    assert plain.txn > changed.txn
    assert registry.refs.get("runs/x") == b and registry.refs.check_digest() == []
