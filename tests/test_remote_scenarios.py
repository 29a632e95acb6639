"""A team sharing one registry through a remote: a real SeaweedFS bucket and a directory alike.

Each scenario runs twice (the `shared` fixture): against `s3://bucket/prefix` on a real
SeaweedFS server and against a filesystem path. No mocks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import pacha
from porcelain.errors import CheckFailed
from porcelain.registry import Registry
from porcelain.remotes import sync
from tests.conftest import Cli
from tests.remotes import Shared, artifact, as_member, member, shared_place


@pytest.fixture(params=["file", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from shared_place(request, tmp_path)


def refs_of(cli: Cli) -> dict[str, str]:
    """The registry's own refs (remote-tracking refs left out; their objects may not be here)."""
    refs = pacha.open_registry(cli.registry).refs
    return {name: oid for name, oid in refs.iter() if not name.startswith("remotes/")}


def history(cli: Cli, name: str, *remote: str) -> list[tuple[str, str, str | None, str | None, str]]:
    rows = json.loads(cli("model", "history", name, *remote, "--json").text)
    return [(r["version"], r["who"], r["from"], r["to"], r["why"]) for r in rows]


def test_two_registries_share_models_and_a_clone_equals_the_original(shared: Shared, tmp_path: Path) -> None:
    ada, bob = member(tmp_path, "ada", shared), member(tmp_path, "bob", shared)
    first, second = artifact(tmp_path, "m1.bin"), artifact(tmp_path, "m2.bin")
    ada("model", "register", "fraud", first, "-v", "1.0.0")
    ada("model", "register", "fraud", second, "-v", "1.1.0")
    ada("model", "stage", "fraud:1.0.0", "--to", "production", "-m", "first release")
    ada("data", "register", "train", artifact(tmp_path, "train.csv"), "-v", "1.0.0")
    pushed = json.loads(ada("push", "--json").text)
    assert pushed["objects"] > 0 and pushed["refs"]

    bob("pull")
    assert refs_of(bob) == refs_of(ada)
    bob("model", "stage", "fraud:1.1.0", "--to", "production", "-m", "better recall")
    bob("push")
    ada("pull")
    assert refs_of(ada) == refs_of(bob)
    assert (
        json.loads(ada("model", "list", "fraud", "--stage", "production", "--json").text)[0]["version"]
        == "1.1.0"
    )

    clone = Cli(tmp_path / "carol" / ".pacha", tmp_path)
    clone.env.update(ada.env)
    clone("clone", shared.url, tmp_path / "carol" / ".pacha", *shared.add_args())
    assert refs_of(clone) == refs_of(ada)
    assert clone("fsck").code == 0
    out = tmp_path / "out.bin"
    clone("model", "download", "fraud@production", "-o", out)
    assert out.read_bytes() == second.read_bytes()
    # the audit trail travels: who promoted what, from either machine
    trail = history(clone, "fraud", "--remote", "origin")
    promoted = [(v, who, why) for v, who, _, to, why in trail if to == "production"]
    assert [(v, who) for v, who, _ in promoted] == [
        ("1.0.0", "Ada <ada@example.com>"),
        ("1.1.0", "Bob <bob@example.com>"),
    ]
    assert "first release" in promoted[0][2] and promoted[1][2] == "better recall"
    ada("fetch")
    assert history(ada, "fraud", "--remote", "origin") == trail  # the same trail, read from any machine


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
        ada("model", "register", "m", artifact(tmp_path, f"{version}.bin", 1000), "-v", version)
    ada("push")
    bob("pull")
    ada("model", "stage", "m:1.1.0", "--to", "production")
    ada("push")
    bob("model", "stage", "m:1.2.0", "--to", "production")
    refused = bob.fails("push", code=1)
    assert refused.err.count("\n") == 1 and "Ada" in refused.err, refused.err
    forced = bob.fails("push", "--force", code=1)
    assert "2 versions in production" in forced.err and "1.1.0" in forced.err, forced.err
    bob("fetch")
    assert [t[0] for t in history(bob, "m", "--remote", "origin") if t[3] == "production"] == ["1.1.0"]


def test_pull_of_a_stage_downloads_only_that_versions_closure(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    old, new = artifact(tmp_path, "old.bin", 400_000), artifact(tmp_path, "new.bin", 300_000)
    ada("model", "register", "m", old, "-v", "1.0.0")
    ada("model", "register", "m", new, "-v", "1.1.0")
    ada("model", "stage", "m:1.1.0", "--to", "production")
    ada("push")
    bob = member(tmp_path, "bob", shared)
    pulled = json.loads(bob("pull", "origin", "m@production", "--json").text)
    assert 300_000 <= pulled["bytes"] < 350_000, pulled  # the 1.1.0 artifact and its record, not 1.0.0's
    assert set(refs_of(bob)) == {"models/m/1.1.0", "stages/models/m/production/1.1.0"}
    bob("model", "verify", "m:1.1.0")
    out = tmp_path / "got.bin"
    bob("model", "download", "m@production", "-o", out)
    assert out.read_bytes() == new.read_bytes()


def test_a_lazy_clone_fetches_what_download_and_verify_need(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    big = artifact(tmp_path, "big.bin", 600_000)
    ada("model", "register", "m", big, "-v", "1.0.0")
    ada("model", "register", "m", artifact(tmp_path, "small.bin", 1000), "-v", "1.1.0")
    ada("push")
    lazy = member(tmp_path, "lazy", shared, add=False)
    lazy("clone", "--lazy", shared.url, lazy.registry, *shared.add_args())
    assert refs_of(lazy) == refs_of(ada)
    objects = pacha.open_registry(lazy.registry).objects
    assert not any(True for _ in objects.iter_ids())  # refs and the audit trail only
    lazy("model", "verify", "m:1.1.0")
    out = tmp_path / "got.bin"
    lazy("model", "download", "m:1.0.0", "-o", out)
    assert out.read_bytes() == big.read_bytes()
    assert lazy("fsck").code == 0


def test_an_object_corrupted_in_the_remote_is_detected_and_never_installed(
    shared: Shared, tmp_path: Path
) -> None:
    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "m", artifact(tmp_path, "m.bin", 200_000), "-v", "1.0.0")
    ada("push")
    (pack,) = [k for k in shared.keys("objects/pack") if k.endswith(".pack")]
    data = bytearray(shared.read(pack))
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the artifact
    shared.write(pack, bytes(data))
    bob = member(tmp_path, "bob", shared)
    failed = bob("pull", ok=False)
    assert failed.code == 1 and failed.err.count("\n") == 1, failed.err
    assert "corrupt" in failed.err.lower() or "does not match" in failed.err, failed.err
    assert refs_of(bob) == {}  # fetched refs are remote-tracking only; nothing of the pull installed
    assert not any(True for _ in pacha.open_registry(bob.registry).objects.iter_ids())
    carol = member(tmp_path, "carol", shared, add=False)
    carol.fails("clone", shared.url, carol.registry, *shared.add_args(), code=1, registry=tmp_path)
    assert not carol.registry.exists()  # a failed clone leaves nothing behind


def _remote_complete(reg: Registry) -> tuple[dict[str, str], set[str]]:
    """The remote's refs and the ids its visible packs hold."""
    from porcelain.remotes import settings, wire

    remote = wire.connect(settings.get_remote(reg.plumbing, None))
    return dict(remote.read_refs().refs), set(remote.refresh_objects(None))


def test_an_interrupted_push_resumes_sending_only_what_is_missing(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    model = artifact(tmp_path, "big.bin", 40 << 20)  # random: two packs (at most 32 MiB each)
    ada("model", "register", "m", model, "-v", "1.0.0")
    killed = ada("push", ok=False, env=dict(ada.env, PACHA_CRASH_AT="push-after-pack"))
    assert killed.code == -9, killed  # SIGKILL once the first pack and its index are up
    refs, held = _remote_complete(Registry.open(ada.registry))
    assert "models/m/1.0.0" not in refs and held  # objects first, refs last
    arrived = shared.arrived()
    resumed = json.loads(ada("push", "--json").text)
    # the pack that arrived is not sent again: the rest is (and the indexes: 1 MiB at most)
    assert arrived > 0 and resumed["bytes"] <= model.stat().st_size - arrived + (1 << 20), (arrived, resumed)
    refs, held = _remote_complete(Registry.open(ada.registry))
    assert set(refs.values()) <= held  # no remote ref names an object the remote lacks
    bob = member(tmp_path, "bob", shared)
    bob("pull", "origin", "m:1.0.0")
    out = tmp_path / "got.bin"
    bob("model", "download", "m:1.0.0", "-o", out)
    assert out.read_bytes() == model.read_bytes()
