"""Compare-and-swap on a remote: conditional writes, the probe, not-fast-forward, races.

Against a directory and a real SeaweedFS (whose 4.x honours If-None-Match: * and If-Match)."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from pacha.errors import CheckFailed
from pacha.transport.backend import PreconditionFailed
from pacha.transport.errors import RemoteRefMoved, RemoteUnsafeRefs
from pacha.transport.fetch import fetch
from pacha.transport.file_backend import FileBackend
from pacha.transport.push import RefUpdate, push
from pacha.transport.remote import Remote
from tests.transport_fixtures import connect, make_model, new_registry, remote_url_fixture  # noqa: F401


def test_create_only_once_and_replace_only_the_version_read(remote_url: str) -> None:
    backend = connect(remote_url).backend
    etag = backend.create("cas/key", b"one")
    with pytest.raises(PreconditionFailed):
        backend.create("cas/key", b"two")
    assert backend.get("cas/key") == (b"one", etag)
    new_etag = backend.replace("cas/key", b"three", etag)
    with pytest.raises(PreconditionFailed):
        backend.replace("cas/key", b"four", etag)  # the ETag read before the replace: stale
    with pytest.raises(PreconditionFailed):
        backend.replace("cas/missing", b"five", etag)
    assert backend.get("cas/key") == (b"three", new_etag)


def test_racing_replaces_have_exactly_one_winner(remote_url: str) -> None:
    backend = connect(remote_url).backend
    etag = backend.create("cas/race", b"start")
    for round_ in range(10):
        wins: list[str] = []
        start = threading.Barrier(6)

        def contender(
            i: int,
            etag: str = etag,
            round_: int = round_,
            start: threading.Barrier = start,
            wins: list[str] = wins,
        ) -> None:
            start.wait()
            with contextlib.suppress(PreconditionFailed):
                wins.append(backend.replace("cas/race", f"{round_}-{i}".encode(), etag))

        threads = [threading.Thread(target=contender, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1, f"round {round_}: {len(wins)} writers won"
        data, etag = backend.get("cas/race")
        assert data.startswith(f"{round_}-".encode()) and etag == wins[0]


def test_probe_finds_conditional_writes_honoured(remote_url: str) -> None:
    result = connect(remote_url).probe()
    assert (result.readable, result.writable, result.conditional_writes) == (True, True, True)
    assert connect(remote_url).backend.list("probe/") == []  # the test key is removed


def test_a_directory_remote_keeps_no_empty_probe_or_temp_directory(tmp_path: Path) -> None:
    """The probe's key and every temp file go, and with them the directories that held only
    them: a new directory remote holds its marker, refs, logs and packs, nothing else."""
    url = str(tmp_path / "remote")
    assert connect(url).probe().conditional_writes is True
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == []  # probed: nothing left
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    push(alice, connect(url), [RefUpdate("models/m/1.0.0", v1)])
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == [
        "logs",
        "objects",
        "pacha-remote",
        "refs",
    ]


def test_a_push_does_not_probe_a_store_that_passed_lately(
    tmp_path: Path, remote_url: str, monkeypatch
) -> None:
    """The probe writes and removes a test key with five requests: a push remembers that the
    store passed (a day, pacha.transport.known) instead of probing it each time."""
    from pacha.transport import cas

    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    v2 = make_model(alice, tmp_path / "w", b"v2", version="2.0.0")
    probes: list[int] = []
    real = cas.probe_conditional_writes
    monkeypatch.setattr(cas, "probe_conditional_writes", lambda backend: probes.append(1) or real(backend))
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    push(alice, connect(remote_url), [RefUpdate("models/m/2.0.0", v2)])
    assert len(probes) == 1
    assert connect(remote_url).read_refs().refs == {"models/m/1.0.0": v1, "models/m/2.0.0": v2}


class IgnoresConditions(FileBackend):
    """A store that accepts conditional writes but ignores the condition (as GCS's S3 interop
    has been reported to do with If-None-Match on PUT)."""

    def create(self, key: str, data: bytes) -> str:
        return self.put(key, data)

    def replace(self, key: str, data: bytes, etag: str) -> str:
        return self.put(key, data)


def test_a_store_ignoring_conditional_writes_is_refused_for_refs(tmp_path: Path) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    remote = Remote(str(tmp_path / "r"), IgnoresConditions(tmp_path / "r"), 4, False, "origin")
    assert remote.probe().conditional_writes is False
    with pytest.raises(RemoteUnsafeRefs, match=r"remote\.origin\.unsafe-refs = true"):
        push(alice, remote, [RefUpdate("models/m/1.0.0", v1)])
    assert remote.read_refs().refs == {}
    assert remote.backend.list("objects/") == []  # refused before sending anything
    single_writer = Remote(str(tmp_path / "r"), IgnoresConditions(tmp_path / "r"), 4, True, "origin")
    push(alice, single_writer, [RefUpdate("models/m/1.0.0", v1)])
    assert single_writer.read_refs().refs == {"models/m/1.0.0": v1}


def test_a_ref_moved_by_someone_else_is_refused_naming_who(tmp_path: Path, remote_url: str) -> None:
    alice, bob = new_registry(tmp_path, "alice"), new_registry(tmp_path, "bob")
    a1 = make_model(alice, tmp_path / "wa", b"alice")
    b1 = make_model(bob, tmp_path / "wb", b"bob")
    push(
        alice,
        connect(remote_url),
        [RefUpdate("stages/model/m/production", a1, None)],
        who="Alice",
        message="promote",
    )
    with pytest.raises(RemoteRefMoved, match=r"moved by Alice .*promote.*not a fast-forward") as caught:
        push(bob, connect(remote_url), [RefUpdate("stages/model/m/production", b1, None)], who="Bob")
    assert (caught.value.name, caught.value.who) == ("stages/model/m/production", "Alice")
    assert connect(remote_url).read_refs().refs == {"stages/model/m/production": a1}
    # after a fetch Bob knows where it is, and may move it on purpose
    fetch(bob, connect(remote_url), "origin")
    seen = bob.refs.get("remotes/origin/stages/model/m/production")
    push(bob, connect(remote_url), [RefUpdate("stages/model/m/production", b1, seen)], who="Bob")
    assert connect(remote_url).read_refs().refs == {"stages/model/m/production": b1}
    # --force overwrites whatever is there
    push(
        alice,
        connect(remote_url),
        [RefUpdate("stages/model/m/production", a1, None)],
        force=True,
        who="Alice",
    )
    assert connect(remote_url).read_refs().refs == {"stages/model/m/production": a1}
    assert [(e.who, e.new) for e in connect(remote_url).read_log()] == [
        ("Alice", a1),
        ("Bob", b1),
        ("Alice", a1),
    ]


def test_check_sees_the_table_about_to_be_written_and_can_refuse(tmp_path: Path, remote_url: str) -> None:
    alice = new_registry(tmp_path, "alice")
    a1 = make_model(alice, tmp_path / "w1", b"a1")
    a2 = make_model(alice, tmp_path / "w2", b"a2", version="2.0.0")
    push(alice, connect(remote_url), [RefUpdate("stages/model/m/production/1.0.0", a1)])
    seen: list[dict[str, str]] = []

    def one_in_production(table) -> None:
        seen.append(dict(table))
        if sum(name.startswith("stages/model/m/production/") for name in table) > 1:
            raise CheckFailed("m already has a version in production")

    with pytest.raises(CheckFailed, match="already has a version in production"):
        push(
            alice,
            connect(remote_url),
            [RefUpdate("stages/model/m/production/2.0.0", a2)],
            check=one_in_production,
        )
    assert seen == [{"stages/model/m/production/1.0.0": a1, "stages/model/m/production/2.0.0": a2}]
    assert connect(remote_url).read_refs().refs == {"stages/model/m/production/1.0.0": a1}


def test_two_pushers_racing_for_one_ref_exactly_one_wins_each_round(tmp_path: Path, remote_url: str) -> None:
    alice, bob = new_registry(tmp_path, "alice"), new_registry(tmp_path, "bob")
    ids = {"Alice": make_model(alice, tmp_path / "wa", b"a"), "Bob": make_model(bob, tmp_path / "wb", b"b")}
    registries = {"Alice": alice, "Bob": bob}
    current: str | None = None
    for round_ in range(20):
        outcome: dict[str, str] = {}
        start = threading.Barrier(2)

        def pusher(
            who: str,
            expected: str | None = current,
            start: threading.Barrier = start,
            outcome: dict = outcome,
        ) -> None:
            remote = connect(remote_url)
            remote.require_safe_refs()  # probe before the barrier: the race is the push itself
            start.wait()
            try:
                push(registries[who], remote, [RefUpdate("models/m/latest", ids[who], expected)], who=who)
                outcome[who] = "won"
            except RemoteRefMoved:
                outcome[who] = "refused"

        # both expect the ref not to exist: the first to move it wins, the other is refused
        threads = [threading.Thread(target=pusher, args=(w,)) for w in ("Alice", "Bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [w for w, o in outcome.items() if o == "won"]
        assert sorted(outcome.values()) == ["refused", "won"], f"round {round_}: {outcome}"
        current = connect(remote_url).read_refs().refs["models/m/latest"]
        assert current == ids[winners[0]]
        # start the next round from a neutral value so that both pushers change it
        push(alice, connect(remote_url), [RefUpdate("models/m/latest", None, current)], who="reset")
        current = None
    log = connect(remote_url).read_log()
    assert len(log) == 40  # 20 wins and 20 resets: no lost and no doubled entry
