"""Push and fetch through a remote (a directory, and a bucket on a real SeaweedFS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pacha.errors import UsageError
from pacha.ids import ZERO_ID
from pacha.transport.errors import RemoteAccessDenied
from pacha.transport.fetch import fetch, fetch_objects, remote_log
from pacha.transport.push import RefUpdate, push
from pacha.transport.urls import parse_url
from tests.transport_fixtures import connect, make_model, new_registry, remote_url_fixture  # noqa: F401


def closure_bytes(registry, root: str) -> dict[str, bytes]:
    """Every object reachable from root, read (and so verified) from registry's store."""
    from pacha.transport import local

    out: dict[str, bytes] = {}
    stack = [root]
    while stack:
        object_id = stack.pop()
        if object_id in out:
            continue
        out[object_id] = registry.objects.read(object_id)
        stack.extend(local.links(registry.objects, object_id))
    return out


def test_round_trip_brings_refs_log_and_every_object(tmp_path: Path, remote_url: str) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "work", b"v1")
    result = push(
        alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1, None)], who="Alice", message="v1"
    )
    # the change carried is the local one (its author and message), pushed by Alice
    [made] = alice.refs.reflog("models/m/1.0.0")
    assert [(e.name, e.old, e.new, e.who, e.message, e.when_ns, e.pushed_by) for e in result.updated] == [
        ("models/m/1.0.0", ZERO_ID, v1, made.who, "register m 1.0.0", made.when_ns, "Alice")
    ]
    assert result.objects_sent == len(closure_bytes(alice, v1))

    bob = new_registry(tmp_path, "bob")
    fetched = fetch(bob, connect(remote_url), "origin")
    assert fetched.updated == [("models/m/1.0.0", ZERO_ID, v1)]
    assert dict(bob.refs.iter("remotes/")) == {"remotes/origin/models/m/1.0.0": v1}
    assert closure_bytes(bob, v1) == closure_bytes(alice, v1)
    [entry] = remote_log(bob, "origin")
    assert (entry.name, entry.new, entry.who, entry.message) == ("models/m/1.0.0", v1, made.who, made.message)
    assert (entry.pushed_by, entry.when_ns) == ("Alice", made.when_ns)
    [local_entry] = bob.refs.reflog("remotes/origin/models/m/1.0.0")
    assert (local_entry.who, local_entry.message, local_entry.new) == (made.who, made.message, v1)
    assert local_entry.made_at == made.when_ns


def test_nothing_is_sent_twice_and_a_new_version_sends_only_its_new_objects(
    tmp_path: Path, remote_url: str
) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "work", b"v1")
    remote = connect(remote_url)
    first = push(alice, remote, [RefUpdate("models/m/1.0.0", v1)])
    again = push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    assert (again.objects_sent, again.bytes_sent, again.updated) == (0, 0, [])

    # v2: the same weights with one small file changed: the chunks are not sent again
    work = tmp_path / "work2"
    v2_folder = work / "m-2.0.0"
    import shutil

    shutil.copytree(tmp_path / "work" / "m-1.0.0", v2_folder)
    (v2_folder / "part0.txt").write_text("changed\n")
    from pacha import objects
    from pacha.trees import write_tree

    tree = write_tree(alice.objects, v2_folder)
    v2 = alice.objects.put_bytes(
        objects.make_record("model-version", {"name": "m", "version": "2"}, [tree]), "record"
    )
    with alice.transaction() as tx:
        tx.create("models/m/2.0.0", v2)
    second = push(alice, connect(remote_url), [RefUpdate("models/m/2.0.0", v2, None)])
    assert second.objects_sent == 3  # the record, the folder's tree, the changed file
    assert second.bytes_sent < first.bytes_sent / 100


def test_fetch_objects_brings_only_the_closure_asked_for(tmp_path: Path, remote_url: str) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w1", b"v1")
    v2 = make_model(alice, tmp_path / "w2", b"v2", version="2.0.0")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1), RefUpdate("models/m/2.0.0", v2)])

    bob = new_registry(tmp_path, "bob")
    fetch(bob, connect(remote_url), "origin", objects=False)  # lazy: refs only
    assert dict(bob.refs.iter("remotes/")) == {
        "remotes/origin/models/m/1.0.0": v1,
        "remotes/origin/models/m/2.0.0": v2,
    }
    assert not bob.objects.has(v1) and not bob.objects.has(v2)
    got = fetch_objects(bob, connect(remote_url), [v2])
    wanted = closure_bytes(alice, v2)
    assert got.objects == len(wanted)
    assert closure_bytes(bob, v2) == wanted
    assert not bob.objects.has(v1)


def test_a_deleted_remote_ref_is_deleted_from_the_tracking_refs(tmp_path: Path, remote_url: str) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w1", b"v1")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    bob = new_registry(tmp_path, "bob")
    fetch(bob, connect(remote_url), "origin")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", None, v1)], message="withdrawn")
    fetched = fetch(bob, connect(remote_url), "origin")
    assert fetched.updated == [("models/m/1.0.0", v1, ZERO_ID)]
    assert dict(bob.refs.iter("remotes/")) == {}
    # the creation carries its local message; the deletion (not made locally) the push's
    assert [e.message for e in remote_log(bob, "origin")] == ["register m 1.0.0", "withdrawn"]


def test_read_only_credentials_fetch_but_cannot_push(tmp_path: Path, seaweedfs, monkeypatch) -> None:
    bucket = seaweedfs.new_bucket()
    url = f"s3://{bucket}/reg"
    for key, value in seaweedfs.env().items():
        monkeypatch.setenv(key, value)
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w1", b"v1")
    push(alice, connect(url), [RefUpdate("models/m/1.0.0", v1)])

    for key, value in seaweedfs.env(read_only=True).items():
        monkeypatch.setenv(key, value)
    reader = connect(url)
    probe = reader.probe()
    assert (probe.readable, probe.writable, probe.conditional_writes) == (True, False, None)
    bob = new_registry(tmp_path, "bob")
    fetch(bob, reader, "origin")
    assert closure_bytes(bob, v1) == closure_bytes(alice, v1)
    with pytest.raises(RemoteAccessDenied):
        push(bob, connect(url), [RefUpdate("models/m/9", v1)])
    assert connect(url).read_refs().refs == {"models/m/1.0.0": v1}


def test_remote_urls() -> None:
    assert parse_url("s3://my-bucket/a/b/").bucket == "my-bucket"
    assert parse_url("s3://my-bucket/a/b/").prefix == "a/b"
    assert parse_url("s3://my-bucket").prefix == ""
    assert str(parse_url("file:///srv/registry").path) == "/srv/registry"
    assert parse_url("relative/dir").path == Path(os.path.abspath("relative/dir"))
    for bad in (
        "",
        "s3://UPPER/x",
        "s3://ab",
        "s3://bucket/a//b",
        "s3://bucket/../x",
        "http://h/x",
        "file://host/x",
    ):
        with pytest.raises(UsageError):
            parse_url(bad)


def test_a_fetched_registry_passes_fsck(tmp_path: Path, remote_url: str) -> None:
    """Records fetched from a remote are named by remote-tracking refs: not lost versions."""
    import subprocess
    import sys

    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w1", b"v1")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    bob = new_registry(tmp_path, "bob")
    fetch(bob, connect(remote_url), "origin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
    proc = subprocess.run(
        [sys.executable, "-c", "from porcelain.cli import main; main()", "fsck"],
        env={**env, "PACHA_DIR": str(bob.root)}, capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("jobs", [1, 8])
def test_a_pack_sent_in_parts_arrives_whole(tmp_path: Path, remote_url: str, monkeypatch, jobs: int) -> None:
    """A pack above the multipart threshold goes up in parts, several at once (in any order)
    while the next ones are built; on either kind of remote it arrives byte for byte and its
    objects verify on fetch."""
    from pacha.transport import transfer, upload

    monkeypatch.setattr(upload, "MULTIPART_THRESHOLD", 5 << 20)
    monkeypatch.setattr(upload, "PART_SIZE", 5 << 20)  # S3's smallest part (but the last)
    monkeypatch.setattr(transfer, "PACK_TARGET", 64 << 20)  # one pack of ~9 MiB: 2 parts
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    sent = push(alice, connect(remote_url, jobs=jobs), [RefUpdate("models/m/1.0.0", v1)])
    assert sent.packs_sent == 1 and sent.bytes_sent > 9 << 20
    bob = new_registry(tmp_path, "bob")
    fetch(bob, connect(remote_url), "origin")
    with bob.objects.open(v1) as reader:
        reader.verify()
    for object_id in alice.objects.iter_ids():
        with bob.objects.open(object_id) as reader:
            reader.verify()


def test_an_upload_takes_its_parts_in_any_order(remote_url: str) -> None:
    """Parts go up from several threads, so they arrive in any order: each lands at its place."""
    backend = connect(remote_url).backend
    part = 5 << 20  # S3's smallest part (but the last)
    data = os.urandom(2 * part + 1000)
    pieces = [data[:part], data[part : 2 * part], data[2 * part :]]
    upload = backend.start_upload("objects/pack/parts.bin", part, resume=False)
    etags = {n: upload.put_part(n, pieces[n - 1]) for n in (3, 2, 1)}
    upload.complete([etags[1], etags[2], etags[3]])
    assert backend.get("objects/pack/parts.bin")[0] == data
