"""`remote prune` racing a push that stalled between a pack and its index: whatever the order of
their requests, no remote ref ever names a pack that is gone (pacha.transport.prune's lock and
pacha.transport.confirm). Each interleaving is driven step by step through
pacha.transport.hooks (no sleeps, no timing): the prune runs inside a step of the push, or the
push runs in a thread started inside a step of the prune and the prune goes on once the push
has reached the step where it sees the prune's lock. A directory and a real SeaweedFS bucket."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pacha
from pacha.transport import confirm, hooks
from pacha.transport.errors import RemoteError
from pacha.transport.layout import PACK_DIR, pack_id_of_index, pack_id_of_prune_lock, prune_lock_key
from pacha.transport.prune import PruneReport, prune
from pacha.transport.remote import Remote, open_remote
from porcelain.remotes.sync import push
from tests.conftest import Cli
from tests.remotes import Shared, artifact, as_member, member, shared_place

WAIT = 300.0  # seconds a step waits for the other side at most (it never takes this long)


@pytest.fixture(params=["file", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from shared_place(request, tmp_path)


class Interrupted(Exception):
    """Raised at a step: the push stops there, as if its process had been killed."""


def _remote(shared: Shared) -> Remote:
    return open_remote(shared.url, endpoint_url=shared.endpoint)


def _push(cli: Cli) -> None:
    with as_member(cli):
        push(pacha.open_registry(cli.registry), "origin")


def _at(step: str, action: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(hooks.STEPS, step, action)


def _packs(remote: Remote) -> tuple[set[str], set[str]]:
    """(pack ids with an index, pack ids of .pack files)."""
    keys = [s.key for s in remote.backend.list(PACK_DIR)]
    packs = {k[len(PACK_DIR) + 5 : -5] for k in keys if k.endswith(".pack")}
    return {p for p in map(pack_id_of_index, keys) if p}, packs


def _whole_for_a_colleague(shared: Shared, tmp_path: Path, model: Path) -> None:
    """What the refs name is all there: a clone downloads the model byte for byte, fsck clean."""
    remote = _remote(shared)
    indexed, packs = _packs(remote)
    assert indexed <= packs, "an index names a pack that is gone"
    bob = member(tmp_path, "bob", shared)
    bob("pull")
    bob("model", "download", "fraud:1.0.0", "-o", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == model.read_bytes()
    bob("fsck")


def _interrupted_push(ada: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A push stopped between its pack and its index: the pack is on the remote, index-less."""

    def stop() -> None:
        raise Interrupted

    _at("push-pack-before-index", stop, monkeypatch)
    with pytest.raises(Interrupted):
        _push(ada)
    monkeypatch.delitem(hooks.STEPS, "push-pack-before-index")


def _push_in_thread(ada: Cli) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _push(ada)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _removed_packs(report: PruneReport) -> list[str]:
    return [item.key for item in report.removed if item.what == "pack without index"]


def test_a_pack_pruned_while_its_push_stalled_before_the_index_is_sent_again(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The push stalls after its pack, the prune removes it (no index yet), the push resumes:
    before, it wrote the index and moved the refs to a pack that was gone."""
    ada = member(tmp_path, "ada", shared)
    model = artifact(tmp_path, "m.bin", 300_000)
    ada("model", "register", "fraud", model, "-v", "1.0.0")
    reports: list[PruneReport] = []

    def prune_once() -> None:  # at the first pack's index only (not at the pack sent again)
        if not reports:
            reports.append(prune(_remote(shared), grace=0))

    _at("push-pack-before-index", prune_once, monkeypatch)
    _push(ada)
    assert len(_removed_packs(reports[0])) == 1  # the push's pack was removed
    _whole_for_a_colleague(shared, tmp_path, model)


@pytest.mark.parametrize(
    ("push_starts_at", "removed"),
    [
        # prune: lock; push: index, sees the lock, waits; prune: sees the index, keeps the pack
        ("prune-locked", 0),
        # prune: lock, no index yet; push: index, sees the lock, waits; prune: removes the pack,
        # unlocks; push: finds its pack gone, sends it again, then moves the refs
        ("prune-before-delete", 1),
    ],
    ids=["index-arrives-under-the-lock-pack-kept", "pack-removed-then-sent-again"],
)
def test_a_push_waiting_on_a_prune_s_lock_ends_with_its_pack_on_the_remote(
    shared: Shared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    push_starts_at: str,
    removed: int,
) -> None:
    """Whether the prune kept the pack (its index arrived under the lock) or removed it (before
    the index), the refs move only once the pack is there: a colleague gets the whole version."""
    ada = member(tmp_path, "ada", shared)
    model = artifact(tmp_path, "m.bin", 300_000)
    ada("model", "register", "fraud", model, "-v", "1.0.0")
    _interrupted_push(ada, monkeypatch)
    saw_lock = threading.Event()
    started: list[tuple[threading.Thread, list[BaseException]]] = []

    def push_meanwhile() -> None:
        started.append(_push_in_thread(ada))
        assert saw_lock.wait(WAIT), "the push never saw the prune's lock"

    _at("push-waits-for-prune", saw_lock.set, monkeypatch)
    _at(push_starts_at, push_meanwhile, monkeypatch)
    report = prune(_remote(shared), grace=0)
    thread, errors = started[0]
    thread.join(WAIT)
    assert not thread.is_alive() and not errors, errors
    assert len(_removed_packs(report)) == removed
    _whole_for_a_colleague(shared, tmp_path, model)


def test_a_lock_left_by_a_killed_prune_stops_the_push_and_the_next_prune_removes_it(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = member(tmp_path, "ada", shared)
    model = artifact(tmp_path, "m.bin", 300_000)
    ada("model", "register", "fraud", model, "-v", "1.0.0")
    _interrupted_push(ada, monkeypatch)
    remote = _remote(shared)
    _, packs = _packs(remote)
    (pack_id,) = packs
    remote.backend.put(prune_lock_key(pack_id, "0123456789abcdef"), b"")  # a prune killed holding it
    monkeypatch.setattr(confirm, "PRUNE_WAIT", 0.0)
    with pytest.raises(RemoteError, match=r"remote prune. has been removing pack"):
        _push(ada)
    assert remote.read_refs().refs == {}  # no ref moved
    report = prune(remote, grace=0)
    assert [item.what for item in report.removed] == ["prune lock"]  # the pack has its index now
    assert not [s for s in remote.backend.list(PACK_DIR) if pack_id_of_prune_lock(s.key)]
    _push(ada)
    _whole_for_a_colleague(shared, tmp_path, model)


def test_with_no_prune_about_each_pack_is_sent_once_and_listed_by_its_name(
    shared: Shared, tmp_path: Path
) -> None:
    """The check before the refs move finds every pack (a listing by the pack's name: S3's key
    prefix, and a directory remote's file names alike) and sends nothing again."""
    import json

    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "fraud", artifact(tmp_path, "m.bin", 300_000), "-v", "1.0.0")
    sent = json.loads(ada("push", "--json").text)["bytes"]
    remote = _remote(shared)
    stored = sum(s.size for s in remote.backend.list(PACK_DIR) if s.key.endswith((".pack", ".idx")))
    assert sent == stored
    (pack_id,) = _packs(remote)[1]
    named = {s.key[len(PACK_DIR) :] for s in remote.backend.list(f"{PACK_DIR}pack-{pack_id}")}
    assert named == {f"pack-{pack_id}.pack", f"pack-{pack_id}.idx"}
