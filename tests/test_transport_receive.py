"""Receiving a chunked file: its chunks are verified where they arrive and the file's hash is
computed as they come in order; a chunk list whose chunks are each sound but do not make the
file it names (entries swapped on the remote) is still refused, and a sound one installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacha import codec
from pacha.hashing import hash_bytes
from pacha.transport.errors import RemoteObjectCorrupt
from pacha.transport.fetch import fetch_objects
from pacha.transport.layout import pack_key
from pacha.transport.push import RefUpdate, push
from tests.transport_fixtures import connect, make_model, new_registry, remote_url_fixture  # noqa: F401


def test_a_chunk_list_whose_chunks_do_not_make_its_file_is_refused(tmp_path: Path, remote_url: str) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    weights = (tmp_path / "w" / "m-1.0.0" / "weights.bin").read_bytes()
    victim = hash_bytes(weights)
    remote = connect(remote_url)
    where = remote.refresh_objects(None)[victim]
    pack = bytearray(remote.backend.get(pack_key(where.pack_id))[0])
    entry = pack[where.offset : where.offset + where.length]
    header = codec.parse_header(bytes(entry[: codec.MAX_HEADER_LEN]), victim)
    assert header.encoding == codec.CHUNKS and where.length - header.length >= 80  # two chunks at least
    first = header.length
    a, b = bytes(entry[first : first + 40]), bytes(entry[first + 40 : first + 80])
    assert a != b
    entry[first : first + 80] = b + a  # each entry still names a sound chunk of the right size
    pack[where.offset : where.offset + where.length] = entry
    remote.backend.put(pack_key(where.pack_id), bytes(pack))

    bob = new_registry(tmp_path, "bob")
    with pytest.raises(RemoteObjectCorrupt) as caught:
        fetch_objects(bob, connect(remote_url), [v1])
    assert caught.value.object_id == victim
    assert not bob.objects.has(victim)


def test_a_chunked_file_arrives_verified_and_whole(tmp_path: Path, remote_url: str) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    v2 = make_model(alice, tmp_path / "w", b"v2", version="2.0.0")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1), RefUpdate("models/m/2.0.0", v2)])
    bob = new_registry(tmp_path, "bob")
    fetch_objects(bob, connect(remote_url), [v1])
    got = fetch_objects(bob, connect(remote_url), [v2])  # v1's objects here already: not fetched
    assert got.objects > 0
    for version in ("1.0.0", "2.0.0"):
        weights = (tmp_path / "w" / f"m-{version}" / "weights.bin").read_bytes()
        assert bob.objects.read(hash_bytes(weights)) == weights


def test_a_records_only_fetch_leaves_a_chunked_file_on_the_remote(tmp_path: Path, remote_url: str) -> None:
    import os

    from pacha import objects
    from pacha.transport.partial import fetch_records

    alice = new_registry(tmp_path, "alice")
    big = tmp_path / "model.bin"
    big.write_bytes(os.urandom(9 << 20))  # chunked (over 8 MiB): its stored body is a small chunk list
    weights = alice.objects.put_file(big)
    record = objects.make_record("model-version", {"name": "m", "version": "1.0.0"}, [weights])
    v1 = alice.objects.put_bytes(record, "record")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    bob = new_registry(tmp_path, "bob")
    got = fetch_records(bob, connect(remote_url), [v1])
    assert got.bytes < 1 << 20  # the record, not the artifact's chunks
    assert bob.objects.has(v1) and not bob.objects.has(weights)  # the file stays promised
    fetch_objects(bob, connect(remote_url), [weights])  # and comes whole when asked for
    assert bob.objects.read(weights) == big.read_bytes()


def test_a_fetch_looks_up_what_it_lacks_together_not_one_by_one(
    tmp_path: Path, remote_url: str, monkeypatch
) -> None:
    """Each round of a fetch's walk looks its ids up in the local store together
    (local.present): the pack directory is re-listed once per round, not once per object the
    registry lacks (each chunk of a chunked file), which cost a pull ~0.4 s per GiB."""
    from pacha.store.packset import PackSet

    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    listings: list[int] = []
    refresh = PackSet.refresh
    monkeypatch.setattr(
        PackSet, "refresh", lambda self, force=False: listings.append(1) or refresh(self, force)
    )
    bob = new_registry(tmp_path, "bob")
    fetched = fetch_objects(bob, connect(remote_url), [v1])
    assert fetched.objects > 100  # a record, a tree, 31 files, a chunk list and its chunks
    assert len(listings) < 30  # 13 now; one per missing object (157) before
    with bob.objects.open(v1) as reader:
        reader.verify()
