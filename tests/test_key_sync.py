"""An encrypted remote's keyring follows `pacha key add|remove|rotate` (issue 15): push moves
it by compare-and-swap after a three-way merge of the passphrase slots, fetch/pull bring the
remote's changes in (listed on stderr, recorded in `pacha key log`), a keyring not signed by
the master key or older than the one last seen is refused, and the master key never changes
through a merge. Through the CLI, against a directory remote and a real SeaweedFS."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PACHA, Cli, snapshot
from tests.seaweedfs import SeaweedFS

PASS = "correct horse battery staple"
LAPTOP = "laptop passphrase one"
BOBS = "bob's own passphrase"


class Place:
    """A remote under test: URL, environment, and its `keyring` key read, written and deleted
    directly (as anyone holding the bucket's credentials could)."""

    def __init__(
        self,
        url: str,
        env: dict[str, str],
        get: Callable[[], bytes],
        put: Callable[[bytes], None],
        delete: Callable[[], None] = lambda: None,
    ) -> None:
        self.url, self.env, self.get_keyring, self.put_keyring = url, env, get, put
        self.delete_keyring = delete

    def slots(self) -> list[str]:
        return sorted(s["name"] for s in json.loads(self.get_keyring())["slots"])


@pytest.fixture(params=["dir", "s3"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "dir":
        root = tmp_path / "remote"

        def put(data: bytes) -> None:
            (root / "keyring").unlink()
            (root / "keyring").write_bytes(data)

        return Place(str(root), {}, lambda: (root / "keyring").read_bytes(), put, (root / "keyring").unlink)
    server: SeaweedFS = request.getfixturevalue("seaweedfs")
    bucket = request.getfixturevalue("s3_bucket")
    client = server.client()
    return Place(
        f"s3://{bucket}/team/reg",
        server.env(),
        lambda: client.get_object(Bucket=bucket, Key="team/reg/keyring")["Body"].read(),
        lambda data: client.put_object(Bucket=bucket, Key="team/reg/keyring", Body=data) and None,
        lambda: client.delete_object(Bucket=bucket, Key="team/reg/keyring") and None,
    )


def _cli(tmp_path: Path, name: str, place: Place, passphrase: str = PASS) -> Cli:
    cli = Cli(tmp_path / name, tmp_path)
    cli.env.update(place.env)
    cli.env["PACHA_PASSPHRASE"] = passphrase
    cli.env["PACHA_AUTHOR_NAME"] = name
    cli.env["PACHA_AUTHOR_EMAIL"] = f"{name}@example.com"
    return cli


def _with(cli: Cli, **env: str) -> dict[str, str]:
    return {**cli.env, **env}


def _published(tmp_path: Path, place: Place) -> tuple[Cli, Cli]:
    """ada's encrypted registry, pushed; bob's clone of it."""
    ada = _cli(tmp_path, "ada", place)
    ada("init", "--encrypt")
    (tmp_path / "m.bin").write_bytes(b"model bytes " * 1000)
    ada("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    ada("remote", "add", "origin", place.url, "--default")
    ada("push")
    bob = _cli(tmp_path, "bob", place)
    bob("clone", place.url, bob.registry)
    return ada, bob


def _opens(cli: Cli, passphrase: str, tmp_path: Path) -> bool:
    """Whether passphrase opens cli's registry (a download decrypts the artifact)."""
    out = tmp_path / "opened.bin"
    out.unlink(missing_ok=True)
    env = _with(cli, PACHA_PASSPHRASE=passphrase)
    result = cli("model", "download", "m:1.0.0", "-o", out, ok=False, env=env)
    if result.code == 0:
        assert out.read_bytes() == b"model bytes " * 1000
        return True
    assert result.code == 128 and "does not unlock" in result.err and result.err.count("\n") == 1, result.err
    return False


def _slots(cli: Cli) -> list[str]:
    return sorted(line.split("\t")[0] for line in cli("key", "list").lines[1:])


def test_a_passphrase_added_on_one_side_opens_the_others_registry_after_a_fetch(
    tmp_path: Path, place: Place
) -> None:
    ada, bob = _published(tmp_path, place)
    assert not _opens(bob, LAPTOP, tmp_path)
    ada("key", "add", "--name", "laptop", env=_with(ada, PACHA_NEW_PASSPHRASE=LAPTOP))
    pushed = ada("push")
    assert "sent to remote" in pushed.err and "'laptop' added" in pushed.err, pushed.err
    assert place.slots() == ["default", "laptop"]
    fetched = bob("fetch")
    assert "key slot 'laptop' added by ada <ada@example.com>" in fetched.err, fetched.err
    assert "now opens this registry" in fetched.err
    assert _opens(bob, LAPTOP, tmp_path) and _opens(bob, PASS, tmp_path)
    log = bob("key", "log").text
    assert "fetch from" in log and "added laptop" in log and "made by ada" in log, log
    # a new clone opens with it too, and a second fetch has nothing to say
    carl = _cli(tmp_path, "carl", place, passphrase=LAPTOP)
    carl("clone", place.url, carl.registry)
    assert _opens(carl, LAPTOP, tmp_path)
    assert "keyring" not in bob("fetch").err


def test_a_removed_passphrase_stops_opening_the_others_registry_after_a_fetch(
    tmp_path: Path, place: Place
) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "laptop", env=_with(ada, PACHA_NEW_PASSPHRASE=LAPTOP))
    ada("push")
    bob("pull")
    assert _opens(bob, LAPTOP, tmp_path)
    ada("key", "remove", "laptop")
    ada("push")
    assert place.slots() == ["default"]
    pulled = bob("pull")
    assert "key slot 'laptop' removed" in pulled.err and "no longer opens" in pulled.err, pulled.err
    assert not _opens(bob, LAPTOP, tmp_path) and _opens(bob, PASS, tmp_path)
    assert "removed laptop" in bob("key", "log").text
    # a clone made now with the removed passphrase gets nothing
    dave = _cli(tmp_path, "dave", place, passphrase=LAPTOP)
    err = dave.fails("clone", place.url, dave.registry, code=128, registry=tmp_path / "absent").err
    assert "does not unlock" in err and not dave.registry.exists()


def test_key_changes_made_on_both_sides_at_once_all_survive(tmp_path: Path, place: Place) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "old", env=_with(ada, PACHA_NEW_PASSPHRASE="an old passphrase"))
    ada("push")
    bob("fetch")
    # from the same keyring: ada adds a1 and removes old, bob adds b1 and re-wraps default
    ada("key", "add", "--name", "a1", env=_with(ada, PACHA_NEW_PASSPHRASE="ada's second one"))
    ada("key", "remove", "old")
    bob("key", "add", "--name", "b1", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    ada("push")
    pushed = bob("push")  # merged with ada's change, then moved by compare-and-swap
    assert "key slot 'a1' added" in pushed.err and "'old' removed" in pushed.err, pushed.err
    assert place.slots() == ["a1", "b1", "default"]
    ada("fetch")
    for cli in (ada, bob):
        assert _slots(cli) == ["a1", "b1", "default"]
        assert _opens(cli, BOBS, tmp_path) and _opens(cli, "ada's second one", tmp_path)
        assert not _opens(cli, "an old passphrase", tmp_path)


def test_two_pushes_racing_with_key_changes_both_land(tmp_path: Path, place: Place) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "a1", env=_with(ada, PACHA_NEW_PASSPHRASE="ada's second one"))
    bob("key", "add", "--name", "b1", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    procs = [
        subprocess.Popen([*PACHA, "push"], env=cli.env, cwd=tmp_path, stderr=subprocess.PIPE)
        for cli in (ada, bob)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert place.slots() == ["a1", "b1", "default"]


def test_a_keyring_change_landing_between_read_and_write_is_merged_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compare-and-swap itself: ada's push lands after bob's push read the remote keyring
    and before it writes; bob's write is refused (If-Match), it reads again and merges."""
    import pacha
    from pacha.transport import keyring_sync
    from pacha.transport.remote import open_remote

    remote_dir = tmp_path / "remote"
    place = Place(str(remote_dir), {}, lambda: (remote_dir / "keyring").read_bytes(), lambda _d: None)
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "a1", env=_with(ada, PACHA_NEW_PASSPHRASE="ada's second one"))
    bob("key", "add", "--name", "b1", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    remote = open_remote(str(remote_dir))
    real_replace, calls = remote.backend.replace, []

    def replace_after_ada(key: str, data: bytes, etag: str) -> str:
        if key == "keyring":  # (not the store's conditional-write probe)
            calls.append(key)
            if len(calls) == 1:
                ada("push")  # lands in between: bob's etag is stale now
        return real_replace(key, data, etag)

    monkeypatch.setattr(remote.backend, "replace", replace_after_ada)
    monkeypatch.setenv("PACHA_PASSPHRASE", PASS)
    keyring_sync.sync(pacha.open_registry(bob.registry), remote, push=True)
    assert calls == ["keyring", "keyring"]  # refused once, then the merge was written
    assert place.slots() == ["a1", "b1", "default"]
    assert _slots(bob) == ["a1", "b1", "default"]


def test_a_push_killed_after_the_remote_keyring_moved_converges_on_the_next_sync(
    tmp_path: Path, place: Place
) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "a1", env=_with(ada, PACHA_NEW_PASSPHRASE="ada's second one"))
    ada("push")
    bob("key", "add", "--name", "b1", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    killed = bob("push", ok=False, env=_with(bob, PACHA_CRASH_AT="keyring-sync-remote-written"))
    assert killed.code == -9
    assert place.slots() == ["a1", "b1", "default"] and _slots(bob) == ["b1", "default"]
    assert "'a1' added" in bob("fetch").err  # the merge is found again: no conflict, nothing lost
    assert _slots(bob) == ["a1", "b1", "default"]
    assert "keyring" not in bob("push").err and "keyring" not in bob("fetch").err


def test_one_slot_changed_on_both_sides_is_a_one_line_refusal_and_the_way_out_works(
    tmp_path: Path, place: Place
) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "laptop", env=_with(ada, PACHA_NEW_PASSPHRASE=LAPTOP))
    bob("key", "add", "--name", "laptop", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    ada("push")
    remote_before = place.get_keyring()
    for args in (("push",), ("fetch",)):
        err = bob.fails(*args, code=1).err
        assert err.count("\n") == 1 and "'laptop' was added here and on remote" in err, err
        assert "pacha key remove laptop" in err and "pacha key add --name OTHER" in err
    assert place.get_keyring() == remote_before
    bob("key", "remove", "laptop")
    bob("key", "add", "--name", "bob-laptop", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    bob("push")
    assert place.slots() == ["bob-laptop", "default", "laptop"]
    assert _opens(bob, LAPTOP, tmp_path) and _opens(bob, BOBS, tmp_path)


def test_a_slot_removed_there_and_rotated_here_is_a_refusal_never_a_lock_out(
    tmp_path: Path, place: Place
) -> None:
    """bob drops `default` while ada gives it a new passphrase: ada's push must not merge her
    only way in away (it did: her registry stopped opening with her new passphrase)."""
    ada, bob = _published(tmp_path, place)
    bob("key", "add", "--name", "b1", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    as_bob = _with(bob, PACHA_PASSPHRASE=BOBS)
    bob("key", "remove", "default", env=as_bob)
    bob("push", env=as_bob)
    new = "ada's new passphrase"
    ada("key", "rotate", env=_with(ada, PACHA_NEW_PASSPHRASE=new))
    as_ada = _with(ada, PACHA_PASSPHRASE=new)
    remote_before = place.get_keyring()
    for args in (("push",), ("fetch",)):
        err = ada.fails(*args, code=1, env=as_ada).err
        assert err.count("\n") == 1 and "'default' was removed on one side and given a new pass" in err, err
    assert place.get_keyring() == remote_before and _opens(ada, new, tmp_path)
    # the way out the line names: keep the new passphrase under another name
    ada("key", "add", "--name", "ada", env={**as_ada, "PACHA_NEW_PASSPHRASE": new})
    ada("key", "remove", "default", env=as_ada)
    ada("push", env=as_ada)
    assert place.slots() == ["ada", "b1"]
    assert _opens(ada, new, tmp_path) and not _opens(ada, PASS, tmp_path)


def test_a_forged_or_edited_keyring_on_the_remote_is_refused(tmp_path: Path, place: Place) -> None:
    ada, bob = _published(tmp_path, place)
    genuine = place.get_keyring()
    # someone with bucket credentials and a registry of their own plants their slot
    eve = _cli(tmp_path, "eve", place, passphrase="eve's passphrase")
    eve("init", "--encrypt")
    planted = json.loads(genuine)
    eves_slot = json.loads((eve.registry / "keyring").read_bytes())["slots"][0]
    planted["slots"].append({**eves_slot, "name": "eve"})
    renamed = json.loads(genuine)
    renamed["slots"] = [{**renamed["slots"][0], "name": "renamed"}]
    for forged in (planted, renamed):
        place.put_keyring(json.dumps(forged).encode())
        for cli, args in ((bob, ("fetch",)), (bob, ("pull",)), (ada, ("push",))):
            err = cli.fails(*args, code=128).err
            assert err.count("\n") == 1 and "not signed by this registry's master key" in err, err
    # an unsigned (version 1) keyring that is not the one last seen there
    place.put_keyring(json.dumps({**planted, "version": 1}).encode())
    err = bob.fails("fetch", code=128).err
    assert "is not signed" in err and "last saw" in err, err
    # a clone checks the signature against the master key the passphrase opens
    place.put_keyring(json.dumps(planted).encode())
    carl = _cli(tmp_path, "carl", place)
    err = carl.fails("clone", place.url, carl.registry, code=128, registry=tmp_path / "absent").err
    assert "not signed by this registry's master key" in err and not carl.registry.exists(), err
    place.put_keyring(genuine)
    bob("fetch")


def test_an_older_copy_put_back_on_the_remote_is_refused_by_fetch_and_replaced_by_push(
    tmp_path: Path, place: Place
) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "laptop", env=_with(ada, PACHA_NEW_PASSPHRASE=LAPTOP))
    ada("push")
    with_laptop = place.get_keyring()  # validly signed, and holds the laptop slot
    ada("key", "remove", "laptop")
    ada("push")
    bob("fetch")
    place.put_keyring(with_laptop)  # replayed: a removed passphrase would open again
    err = bob.fails("fetch", code=128).err
    assert err.count("\n") == 1 and "older copy" in err and "pacha push" in err, err
    assert not _opens(bob, LAPTOP, tmp_path)
    pushed = bob("push")
    assert "was an older copy" in pushed.err, pushed.err
    assert place.slots() == ["default"]
    assert "keyring" not in ada("fetch").err


def test_a_new_master_key_is_never_merged_and_the_refusal_names_both(tmp_path: Path, place: Place) -> None:
    _ada, bob = _published(tmp_path, place)
    before_rotation = json.loads((bob.registry / "keyring").read_bytes())["current"]
    bob("key", "rotate", "--data")
    after_rotation = json.loads((bob.registry / "keyring").read_bytes())["current"]
    remote_before = place.get_keyring()
    for args in (("push",), ("fetch",)):
        err = bob.fails(*args, code=128).err
        assert err.count("\n") == 1 and before_rotation in err and after_rotation in err, err
        assert "rotate --data" in err and ("new remote" in err or "clone" in err), err
    assert place.get_keyring() == remote_before


def test_a_merge_that_needs_the_passphrase_refuses_a_wrong_one_and_changes_nothing(
    tmp_path: Path, place: Place
) -> None:
    ada, bob = _published(tmp_path, place)
    ada("key", "add", "--name", "a1", env=_with(ada, PACHA_NEW_PASSPHRASE="ada's second one"))
    ada("push")
    bob("key", "add", "--name", "b1", env=_with(bob, PACHA_NEW_PASSPHRASE=BOBS))
    remote_before = place.get_keyring()
    err = bob.fails("push", code=128, env=_with(bob, PACHA_PASSPHRASE="not the passphrase")).err
    assert err.count("\n") == 1 and "does not unlock" in err, err
    assert place.get_keyring() == remote_before


def test_a_keyring_from_before_signing_is_taken_over_by_the_first_push(tmp_path: Path) -> None:
    """Registries and remotes made by a pacha that wrote version-1 keyrings (unsigned, no
    record of the remote's keyring): the first push signs and sends the local changes."""
    remote = tmp_path / "remote"
    place = Place(str(remote), {}, lambda: (remote / "keyring").read_bytes(), lambda _d: None)
    ada, bob = _published(tmp_path, place)
    v1 = json.loads(place.get_keyring())
    for key in ("generation", "by", "when_ns", "signer", "signature"):
        del v1[key]
    v1["version"] = 1
    data = json.dumps(v1).encode()
    for path in (remote / "keyring", ada.registry / "keyring", bob.registry / "keyring"):
        path.unlink()
        path.write_bytes(data)
    for cli in (ada, bob):
        for base in (cli.registry / "keyring-remotes").iterdir():
            base.unlink()
    assert _opens(bob, PASS, tmp_path)
    ada("key", "add", "--name", "laptop", env=_with(ada, PACHA_NEW_PASSPHRASE=LAPTOP))
    ada("push")
    assert json.loads(place.get_keyring())["version"] == 2 and place.slots() == ["default", "laptop"]
    assert "'laptop' added" in bob("fetch").err
    assert _opens(bob, LAPTOP, tmp_path)
    assert snapshot(remote)  # still a remote


def test_a_keyring_deleted_from_the_remote_is_said_and_put_back_by_a_push(
    tmp_path: Path, place: Place
) -> None:
    ada, bob = _published(tmp_path, place)
    genuine = place.get_keyring()
    place.delete_keyring()
    fetched = bob("fetch")
    assert fetched.err.count("has lost its keyring") == 1 and "pacha push" in fetched.err, fetched.err
    # ada only ever pushed: nothing proves the place was not reused by a plain registry since
    (tmp_path / "n.bin").write_bytes(b"n" * 100)
    ada("model", "register", "n", tmp_path / "n.bin")
    err = ada.fails("push", code=128).err
    assert err.count("\n") == 1 and "no keyring, though this registry saw one" in err, err
    assert "pacha fetch" in err and "nothing was sent" in err
    # bob fetched from it: the place still holds what he saw there, so his push puts it back
    bob("model", "register", "n", tmp_path / "n.bin", "-v", "2.0.0")
    pushed = bob("push")
    assert "put this registry's back" in pushed.err, pushed.err
    assert place.get_keyring() == genuine
    carl = _cli(tmp_path, "carl", place)
    carl("clone", place.url, carl.registry)
    assert _opens(carl, PASS, tmp_path)
