"""An interrupted push (the process killed mid-transfer) resumes, sending only what is missing;
the remote never holds a ref to an object it lacks. A corrupted object in the remote is
detected on fetch, named, and nothing of that fetch is installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pacha.transport import transfer
from pacha.transport.errors import RemoteObjectCorrupt
from pacha.transport.fetch import fetch, fetch_objects
from pacha.transport.layout import pack_id_of_index, pack_key
from pacha.transport.push import RefUpdate, push
from tests.transport_fixtures import connect, make_model, new_registry, remote_url_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
PUSH = """
import sys
from pacha.registry import Registry
from pacha.transport import transfer, upload
from pacha.transport.push import RefUpdate, push
from pacha.transport.remote import open_remote

transfer.PACK_TARGET = int(sys.argv[4])
upload.MULTIPART_THRESHOLD = upload.PART_SIZE = int(sys.argv[5])
push(Registry(sys.argv[1]), open_remote(sys.argv[2], jobs=1), [RefUpdate("models/m/1.0.0", sys.argv[3])])
"""
PACK_TARGET = 3 << 20  # the 9 MiB model goes in 4 packs
PART = 5 << 20  # S3's (and SeaweedFS's) smallest part but the last


def killed_push(registry, url: str, record: str, crash_at: str, target: int = PACK_TARGET) -> None:
    env = {**os.environ, "PACHA_CRASH_AT": crash_at}
    proc = subprocess.run(
        [sys.executable, "-c", PUSH, str(registry.root), url, record, str(target), str(16 << 20)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr  # killed at the crash point, as kill -9 would


def remote_packs(remote) -> tuple[set[str], set[str]]:
    """(pack ids with an index, pack ids of .pack files) on the remote."""
    listed = [s.key for s in remote.backend.list("objects/pack/")]
    indexed = {p for p in map(pack_id_of_index, listed) if p}
    packs = {k[len("objects/pack/pack-") : -len(".pack")] for k in listed if k.endswith(".pack")}
    return indexed, packs


@pytest.mark.parametrize("crash_at", ["push-after-pack", "push-pack-before-index", "push-before-refs"])
def test_a_killed_push_resumes_and_sends_only_what_is_missing(
    tmp_path: Path, remote_url: str, crash_at: str, monkeypatch
) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    killed_push(alice, remote_url, v1, crash_at)
    remote = connect(remote_url)
    assert remote.read_refs().refs == {}  # objects first, refs last: no ref to anything missing
    indexed, packs = remote_packs(remote)
    if crash_at == "push-pack-before-index":
        assert (len(indexed), len(packs)) == (0, 1)  # a pack without its index: invisible
    elif crash_at == "push-after-pack":
        assert len(indexed) == len(packs) == 1

    monkeypatch.setattr(transfer, "PACK_TARGET", PACK_TARGET)
    resumed = push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    assert connect(remote_url).read_refs().refs == {"models/m/1.0.0": v1}
    indexed_after, packs_after = remote_packs(connect(remote_url))
    assert indexed_after == packs_after  # every pack has its index now
    assert len(packs_after) == 4  # nothing arrived twice under another name
    total = sum(connect(remote_url).backend.head(pack_key(p)).size for p in packs_after)
    if crash_at == "push-before-refs":
        assert (resumed.objects_sent, resumed.bytes_sent) == (0, 0)
    elif crash_at == "push-after-pack":
        [first] = indexed
        first_size = connect(remote_url).backend.head(pack_key(first)).size
        assert resumed.packs_sent == 3
        assert resumed.bytes_sent < total - first_size + 3 * 200_000  # + the three indexes
    else:  # the pack had arrived: only its index is sent for it
        [first] = packs
        first_size = connect(remote_url).backend.head(pack_key(first)).size
        assert resumed.packs_sent == 4
        assert resumed.bytes_sent < total - first_size + 4 * 200_000

    bob = new_registry(tmp_path, "bob")
    fetch(bob, connect(remote_url), "origin")
    with bob.objects.open(bob.refs.get("remotes/origin/models/m/1.0.0")) as reader:
        reader.verify()


def test_a_resumed_push_reads_only_the_packs_that_did_not_arrive(
    tmp_path: Path, remote_url: str, monkeypatch
) -> None:
    """A killed push leaves no temp pack in the registry, and the push run again neither builds
    nor reads again a pack that arrived whole: its name (its id) is known from the planned
    entries before a byte is read."""
    from pacha.transport import outgoing

    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    killed_push(alice, remote_url, v1, "push-after-pack")  # the first of 4 packs arrived whole
    assert [p.name for p in (alice.root / "tmp").iterdir()] == []  # nothing of it on local disk
    [first] = remote_packs(connect(remote_url))[0]
    arrived = {i for i, loc in connect(remote_url).refresh_objects(None).items() if loc.pack_id == first}
    read: list[str] = []
    sendable_many = outgoing.sendable_many

    def reading(store, entries):  # what the push reads of the local store to send it
        read.extend(object_id for object_id, _ in entries)
        return sendable_many(store, entries)

    monkeypatch.setattr(outgoing, "sendable_many", reading)
    monkeypatch.setattr(transfer, "PACK_TARGET", PACK_TARGET)
    resumed = push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    assert resumed.packs_sent == 3
    assert arrived and not arrived & set(read)  # the pack that arrived is not read again
    assert len(read) == len(set(read)) == resumed.objects_sent  # each object sent is read once


def test_a_killed_multipart_upload_resumes_with_the_parts_that_arrived(
    tmp_path: Path, seaweedfs, monkeypatch
) -> None:
    from tests.seaweedfs import SeaweedFS

    server: SeaweedFS = seaweedfs
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    url = f"s3://{server.new_bucket()}/reg"
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    # one pack of ~9 MiB in two parts; killed after the first (5 MiB) arrived
    env = {**os.environ, "PACHA_CRASH_AT": "push-multipart-part"}
    proc = subprocess.run(
        [sys.executable, "-c", PUSH, str(alice.root), url, v1, str(32 << 20), str(PART)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    from pacha.transport import upload

    monkeypatch.setattr(upload, "MULTIPART_THRESHOLD", PART)
    monkeypatch.setattr(upload, "PART_SIZE", PART)
    resumed = push(alice, connect(url), [RefUpdate("models/m/1.0.0", v1)])
    [pack] = remote_packs(connect(url))[1]
    total = connect(url).backend.head(pack_key(pack)).size
    assert resumed.bytes_sent < total - PART + 200_000  # the part that arrived is not sent again
    assert connect(url).read_refs().refs == {"models/m/1.0.0": v1}
    bob = new_registry(tmp_path, "bob")
    fetch(bob, connect(url), "origin")
    with bob.objects.open(v1) as reader:
        reader.verify()


def test_a_corrupted_object_in_the_remote_is_named_and_nothing_is_installed(
    tmp_path: Path, remote_url: str
) -> None:
    from pacha.hashing import hash_bytes

    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    remote = connect(remote_url)
    victim = hash_bytes((tmp_path / "w" / "m-1.0.0" / "part7.txt").read_bytes())
    where = remote.refresh_objects(None)[victim]
    data = bytearray(remote.backend.get(pack_key(where.pack_id))[0])
    data[where.offset + where.length - 1] ^= 0x01  # one bit of the entry's last byte
    remote.backend.put(pack_key(where.pack_id), bytes(data))

    bob = new_registry(tmp_path, "bob")
    with pytest.raises(RemoteObjectCorrupt) as caught:
        fetch(bob, connect(remote_url), "origin")
    assert caught.value.object_id == victim
    assert victim in str(caught.value)
    assert dict(bob.refs.iter("")) == {}  # no tracking ref moved
    assert not bob.objects.has(victim)  # never installed
    with pytest.raises(RemoteObjectCorrupt):
        fetch_objects(bob, connect(remote_url), [v1])
    assert not bob.objects.has(victim)


FETCH = """
import sys
from pacha.registry import Registry
from pacha.transport import receive
from pacha.transport.fetch import fetch
from pacha.transport.remote import open_remote

receive.INSTALL_EVERY = 1 << 20
fetch(Registry(sys.argv[1]), open_remote(sys.argv[2], jobs=1), "origin")
"""


def test_a_killed_fetch_resumes_with_what_arrived(tmp_path: Path, remote_url: str, monkeypatch) -> None:
    from pacha.transport import receive

    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    bob = new_registry(tmp_path, "bob")
    whole = fetch_objects(new_registry(tmp_path, "carol"), connect(remote_url), [v1])
    # each run killed after its first local pack (up to 1 MiB): the record, the tree, the files
    # (the chunk list waits for its chunks), then 1 MiB of chunks twice
    for _ in range(5):
        proc = subprocess.run(
            [sys.executable, "-c", FETCH, str(bob.root), remote_url],
            env={**os.environ, "PACHA_CRASH_AT": "fetch-after-pack"},
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == -9, proc.stderr
    assert dict(bob.refs.iter("")) == {}  # objects first: no tracking ref yet
    monkeypatch.setattr(receive, "INSTALL_EVERY", 1 << 20)
    resumed = fetch(bob, connect(remote_url), "origin")
    assert (
        0 < resumed.objects.bytes < whole.bytes - 2 * (1 << 20) + 300_000
    )  # what arrived is not fetched again
    assert bob.refs.get("remotes/origin/models/m/1.0.0") == v1
    with bob.objects.open(v1) as reader:
        reader.verify()
