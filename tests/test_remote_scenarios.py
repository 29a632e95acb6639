"""A team sharing one registry through a remote: a real SeaweedFS bucket and a directory alike.

Each scenario runs twice (the `shared` fixture): against `s3://bucket/prefix` on a real
SeaweedFS server and against a filesystem path. No mocks. Most steps go through the Python
API in this process (a `pacha` process pays its start-up and an S3 client set-up each time);
the command line is used where its output (one-line refusals, exit codes) is what is tested.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from blake3 import blake3

import pacha
from pacha.transport.errors import RemoteObjectCorrupt
from pacha.transport.partial import BLOB_LIMIT
from porcelain.errors import CheckFailed
from porcelain.registry import Registry
from porcelain.remotes import admin, lazy, sync
from porcelain.remotes.history import remote_history
from porcelain.remotes.rules import name_of
from tests.conftest import Cli
from tests.remotes import Shared, artifact, as_member, member, shared_place


@pytest.fixture(params=["file", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from shared_place(request, tmp_path)


def refs_of(cli: Cli) -> dict[str, str]:
    """The registry's own refs (remote-tracking refs left out; their objects may not be here)."""
    refs = pacha.open_registry(cli.registry).refs
    return {name: oid for name, oid in refs.iter() if not name.startswith("remotes/")}


def api(cli: Cli) -> Registry:
    return Registry.open(cli.registry)


def _id(path: Path) -> str:
    """The object id of a file's bytes (BLAKE3, as `pacha hash-object` prints)."""
    return str(blake3(path.read_bytes()).hexdigest())


def register(cli: Cli, name: str, path: Path, version: str) -> str:
    with as_member(cli):
        return api(cli).register_model(name, path, version=version).version.record_id


def stage(cli: Cli, reference: str, target: str, why: str = "") -> None:
    with as_member(cli):
        api(cli).set_stage("model", reference, target, why=why)


def push(cli: Cli, *wanted: str, force: bool = False) -> sync.SyncReport:
    with as_member(cli):
        return sync.push(api(cli).plumbing, None, wanted, force=force)


def pull(cli: Cli, *wanted: str, force: bool = False) -> sync.SyncReport:
    with as_member(cli):
        return sync.pull(api(cli).plumbing, None, wanted, force=force)


def trail(cli: Cli, name: str) -> list[tuple[str, str, str | None, str | None, str]]:
    """Stage changes of model name on origin (as of the last fetch): version, who, from, to, why."""
    moves = remote_history(api(cli).plumbing, "model", name, "origin")
    return [(t.version, t.who, t.from_stage, t.to_stage, t.why) for t in moves]


def fsck_clean(cli: Cli) -> bool:
    # through the command, as a user runs it
    return cli("fsck", ok=False).code == 0


def test_two_registries_share_models_and_a_clone_equals_the_original(shared: Shared, tmp_path: Path) -> None:
    ada, bob = member(tmp_path, "ada", shared), member(tmp_path, "bob", shared)
    first, second = artifact(tmp_path, "m1.bin"), artifact(tmp_path, "m2.bin")
    register(ada, "fraud", first, "1.0.0")
    register(ada, "fraud", second, "1.1.0")
    stage(ada, "fraud:1.0.0", "production", "first release")
    with as_member(ada):
        api(ada).register_dataset("train", artifact(tmp_path, "train.csv"), version="1.0.0")
    pushed = push(ada)
    assert pushed.objects > 0 and len(pushed.moved) == 6

    pull(bob)
    assert refs_of(bob) == refs_of(ada)
    stage(bob, "fraud:1.1.0", "production", "better recall")
    push(bob)
    pull(ada)
    assert refs_of(ada) == refs_of(bob)
    assert api(ada).in_stage("model", "fraud", "production") == ["1.1.0"]

    carol = member(tmp_path, "carol", shared, add=False)
    carol("clone", shared.url, carol.registry, *shared.add_args())
    assert refs_of(carol) == refs_of(ada)
    assert carol("fsck").code == 0
    out = tmp_path / "out.bin"
    carol("model", "download", "fraud@production", "-o", out)
    assert out.read_bytes() == second.read_bytes()
    # the audit trail travels: who promoted what, from either machine
    promoted = [(v, who, why) for v, who, _, to, why in trail(carol, "fraud") if to == "production"]
    assert [(v, who) for v, who, _ in promoted] == [
        ("1.0.0", "Ada <ada@example.com>"),
        ("1.1.0", "Bob <bob@example.com>"),
    ]
    assert "first release" in promoted[0][2] and promoted[1][2] == "better recall"
    assert trail(ada, "fraud") == trail(carol, "fraud")  # the same trail, read from any machine


_POOL = ThreadPoolExecutor(2)  # two long-lived threads: each keeps its connection to the remote


def _race(*jobs: Callable[[], object]) -> list[BaseException | None]:
    """Run two jobs at the same moment on two threads; each one's exception or None."""
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], object]) -> BaseException | None:
        start.wait()
        try:
            job()
        except BaseException as exc:  # reported to the test
            return exc
        return None

    return list(_POOL.map(run, jobs))


ROUNDS = 20


def test_concurrent_pushes_and_promotions_one_wins_each_round(shared: Shared, tmp_path: Path) -> None:
    ada, bob = member(tmp_path, "ada", shared), member(tmp_path, "bob", shared)
    regs = {c: Registry.open(c.registry) for c in (ada, bob)}
    remote_refs = _remote_reader(regs[ada])
    with as_member(ada):  # the versions the promotion races pick from, shared once
        for k in range(ROUNDS):
            for patch in (0, 1):
                regs[ada].register_model(
                    "p", artifact(tmp_path, f"p{k}{patch}.bin", 300), version=f"2.{k}.{patch}"
                )
    sync.push(regs[ada].plumbing)
    sync.pull(regs[bob].plumbing)
    for k in range(ROUNDS):
        # two pushes of the same new ref: the same version, different contents
        mine = {}
        for c in (ada, bob):
            with as_member(c):
                made = regs[c].register_model(
                    "m", artifact(tmp_path, f"{c.cwd.name}{k}.bin", 300), version=f"1.{k}.0"
                )
            mine[c] = made.version.record_id
        winner, loser = _one_winner(
            _race(*(lambda c=c: sync.push(regs[c].plumbing) for c in (ada, bob))), (ada, bob)
        )
        assert remote_refs()[f"models/m/1.{k}.0"] == mine[winner]
        assert regs[loser].plumbing.refs.get(f"models/m/1.{k}.0") == mine[loser]  # refused: it keeps its own
        sync.pull(regs[loser].plumbing, force=True)  # then takes the winner's (its own stays in its reflog)
        # two promotions of different versions to production, one from each clone
        for c, patch in ((ada, 0), (bob, 1)):
            with as_member(c):
                regs[c].set_stage("model", f"p:2.{k}.{patch}", "production")
        winner, loser = _one_winner(
            _race(*(lambda c=c: sync.push(regs[c].plumbing) for c in (ada, bob))), (ada, bob)
        )
        promoted = regs[winner].in_stage("model", "p", "production")
        assert [r for r in remote_refs() if r.startswith("stages/models/p/production/")] == [
            f"stages/models/p/production/{promoted[0]}"
        ]
        assert regs[loser].in_stage("model", "p", "production") != promoted  # refused: its own kept
        sync.pull(regs[loser].plumbing, force=True)
        assert regs[loser].in_stage("model", "p", "production") == promoted


def _one_winner(errors: list[BaseException | None], who: tuple[Cli, Cli]) -> tuple[Cli, Cli]:
    failed = [e for e in errors if e is not None]
    assert len(failed) == 1, errors
    assert isinstance(failed[0], CheckFailed), repr(failed[0])  # refused: not a fast-forward / stage rule
    assert "moved" in str(failed[0]) or "meanwhile" in str(failed[0]) or "fast-forward" in str(failed[0])
    return (who[1], who[0]) if errors[0] is not None else (who[0], who[1])


def _remote_reader(reg: Registry):
    from porcelain.remotes import settings, wire

    remote = wire.connect(settings.get_remote(reg.plumbing, None))
    return lambda: dict(remote.read_refs().refs)


def test_push_refused_as_not_fast_forward_names_who_and_force_cannot_break_production(
    shared: Shared, tmp_path: Path
) -> None:
    ada, bob = member(tmp_path, "ada", shared), member(tmp_path, "bob", shared)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        register(ada, "m", artifact(tmp_path, f"{version}.bin", 1000), version)
    stage(ada, "m:1.0.0", "production")
    push(ada)
    pull(bob)
    stage(ada, "m:1.1.0", "production", "ada's pick")
    push(ada)
    stage(bob, "m:1.2.0", "production")
    refused = bob.fails("push", code=1)  # both archive 1.0.0: not a fast-forward
    assert refused.err.count("\n") == 1 and "Ada" in refused.err and "fast-forward" in refused.err, (
        refused.err
    )
    # its way out is the pull: a forced push would be refused below, so it is not offered
    assert "`pacha pull origin --force`" in refused.err and "push origin --force" not in refused.err
    forced = bob.fails("push", "--force", code=1)  # force overrides that, not the stage rules
    assert "2 versions in production" in forced.err and "Ada" in forced.err, forced.err
    sync.fetch(api(bob).plumbing)
    assert [t[0] for t in trail(bob, "m") if t[3] == "production"] == ["1.0.0", "1.1.0"]
    assert api(bob).in_stage("model", "m", "production") == ["1.2.0"]  # bob's promotion is kept here
    before = refs_of(bob)
    refused = bob("pull", ok=False)  # and a pull would leave two in production here
    assert refused.code == 1 and "is in production here but not on origin" in refused.err, refused.err
    assert refs_of(bob) == before  # (the fetch it began with moved only remotes/origin/…)
    pull(bob, force=True)
    assert api(bob).in_stage("model", "m", "production") == ["1.1.0"]


def test_pull_of_a_stage_downloads_only_that_versions_closure(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    old, new = artifact(tmp_path, "old.bin", 400_000), artifact(tmp_path, "new.bin", 300_000)
    register(ada, "m", old, "1.0.0")
    register(ada, "m", new, "1.1.0")
    stage(ada, "m:1.1.0", "production")
    push(ada)
    bob = member(tmp_path, "bob", shared)
    pulled = pull(bob, "m@production")
    assert 300_000 <= pulled.bytes < 350_000, pulled  # the 1.1.0 artifact and the records, not 1.0.0's
    assert set(refs_of(bob)) == {"models/m/1.1.0", "stages/models/m/production/1.1.0"}
    bob("model", "verify", "m:1.1.0")
    store = pacha.open_registry(bob.registry).objects
    assert store.has(register(ada, "m", old, "1.0.0"))  # the fetch brings every record (small)
    assert not store.has(_id(old))


def test_a_lazy_clone_fetches_what_download_and_verify_need(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    big = artifact(tmp_path, "big.bin", 600_000)
    register(ada, "m", big, "1.0.0")
    register(ada, "m", artifact(tmp_path, "medium.bin", 200_000), "1.1.0")
    push(ada)
    lazy_dir = tmp_path / "lazy" / ".pacha"
    plumbing, _ = admin.clone(shared.url, lazy_dir, endpoint_url=shared.endpoint, lazy=True, progress=False)
    assert refs_of(Cli(lazy_dir, tmp_path)) == refs_of(ada)
    # the records, no artifact (pacha.transport.partial: blobs over BLOB_LIMIT stay there)
    here = [plumbing.objects.stat(i) for i in plumbing.objects.iter_ids()]
    assert {i.kind for i in here} == {"record"}
    assert all(i.size <= BLOB_LIMIT for i in here) and not plumbing.objects.has(_id(big))
    assert lazy.ensure_local(plumbing, "model", "m:1.1.0", progress=False) > 0
    lazy_cli = member(tmp_path, "lazy", shared, add=False)
    out = tmp_path / "got.bin"
    lazy_cli("model", "download", "m:1.0.0", "-o", out)  # the command fetches what it needs
    assert out.read_bytes() == big.read_bytes()
    assert fsck_clean(lazy_cli)
    # --all: also what no ref names any more (a deleted version, for restore)
    gone = register(ada, "m", artifact(tmp_path, "gone.bin", 1000), "1.2.0")
    push(ada)
    with as_member(ada):
        api(ada).delete("model", "m:1.2.0")
    push(ada)
    every, _ = admin.clone(
        shared.url,
        tmp_path / "all" / ".pacha",
        endpoint_url=shared.endpoint,
        all_objects=True,
        progress=False,
    )
    assert every.objects.has(gone) and "models/m/1.2.0" not in refs_of(Cli(every.root, tmp_path))


def test_an_object_corrupted_in_the_remote_is_detected_and_never_installed(
    shared: Shared, tmp_path: Path
) -> None:
    ada = member(tmp_path, "ada", shared)
    register(ada, "m", artifact(tmp_path, "m.bin", 200_000), "1.0.0")
    push(ada)
    (pack,) = [k for k in shared.keys("objects/pack") if k.endswith(".pack")]
    data = bytearray(shared.read(pack))
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the artifact
    shared.write(pack, bytes(data))
    bob = member(tmp_path, "bob", shared)
    with pytest.raises(RemoteObjectCorrupt):
        pull(bob)
    assert refs_of(bob) == {}  # fetched refs are remote-tracking only; nothing of the pull installed
    store = pacha.open_registry(bob.registry).objects
    for object_id in store.iter_ids():  # what was installed (verified batches) is sound
        with store.open(object_id) as reader:
            reader.verify()
    carol = member(tmp_path, "carol", shared, add=False)
    failed = carol.fails(
        "clone", shared.url, carol.registry, *shared.add_args(), code=1, registry=tmp_path / "carol"
    )
    assert "corrupt" in failed.err.lower() and failed.err.count("\n") == 1, failed.err
    assert not carol.registry.exists()  # a failed clone leaves nothing behind


def _remote_complete(reg: Registry) -> tuple[dict[str, str], set[str]]:
    """The remote's refs and the ids its visible packs hold."""
    from porcelain.remotes import settings, wire

    remote = wire.connect(settings.get_remote(reg.plumbing, None))
    return dict(remote.read_refs().refs), set(remote.refresh_objects(None))


def test_an_interrupted_push_resumes_sending_only_what_is_missing(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    model = artifact(tmp_path, "big.bin", 40 << 20)  # random: two packs (at most 32 MiB each)
    register(ada, "m", model, "1.0.0")
    killed = ada("push", ok=False, env=dict(ada.env, PACHA_CRASH_AT="push-after-pack"))
    assert killed.code == -9, killed  # SIGKILL once the first pack and its index are up
    refs, held = _remote_complete(api(ada))
    assert "models/m/1.0.0" not in refs and held  # objects first, refs last
    arrived = shared.arrived()
    resumed = push(ada)
    # the pack that arrived is not sent again: the rest is (and the indexes: 1 MiB at most)
    assert arrived > 0 and resumed.bytes <= model.stat().st_size - arrived + (1 << 20), (arrived, resumed)
    refs, held = _remote_complete(api(ada))
    assert "models/m/1.0.0" in refs and set(refs.values()) <= held  # no ref names a missing object
    bob = member(tmp_path, "bob", shared)
    pull(bob, "m:1.0.0")
    out = tmp_path / "got.bin"
    api(bob).download("model", "m:1.0.0", out)
    assert out.read_bytes() == model.read_bytes()


def test_after_a_fetch_a_push_sends_only_local_changes(shared: Shared, tmp_path: Path) -> None:
    """A fetch shows a colleague's promotion; pushing an unrelated change must not undo it."""
    ada, bob = member(tmp_path, "ada", shared), member(tmp_path, "bob", shared)
    register(ada, "m", artifact(tmp_path, "1.bin", 500), "1.0.0")
    register(ada, "m", artifact(tmp_path, "2.bin", 500), "1.1.0")
    push(ada)
    pull(bob)
    stage(ada, "m:1.1.0", "production", "ada promotes")
    push(ada)
    sync.fetch(api(bob).plumbing)  # bob now sees it, but has not pulled it
    register(bob, "other", artifact(tmp_path, "o.bin", 500), "1.0.0")
    sent = push(bob)
    assert {name_of(m.ref) for m in sent.moved} == {("model", "other")}
    pull(bob)
    assert api(bob).in_stage("model", "m", "production") == ["1.1.0"]
