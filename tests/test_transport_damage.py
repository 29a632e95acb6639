"""A damaged local object never reaches a remote: a push checks each object it sends from the
very bytes it sends (pacha.transport.outgoing.sendable / sendable_many), and refuses with the
damaged id, naming `pacha fsck --repair`, before any ref moves. A remote that received a bad
copy would keep it for good: a push never sends again what the remote lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pacha.errors import CorruptObject
from pacha.hashing import hash_bytes
from pacha.transport.errors import RemoteMissingObject
from pacha.transport.push import RefUpdate, push
from tests.transport_fixtures import BIG, _random, connect, make_model, new_registry, remote_url_fixture  # noqa: F401


def flip_bit(registry, object_id: str, at: int) -> None:
    """Flip the lowest bit of byte `at` of the object's stored form (negative: from its end),
    in its loose file or its pack entry."""
    store = registry.objects
    loose = registry.root / "objects" / object_id[:2] / object_id[2:]
    if loose.is_file():
        path, offset, length = loose, 0, loose.stat().st_size
    else:
        store.packs.refresh(force=True)
        pack, i = store.packs.find(object_id)
        path = pack.path
        offset, length = pack.entry_at(i)
    where = offset + (at if at >= 0 else length + at)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(where)
        byte = f.read(1)
        f.seek(where)
        f.write(bytes((byte[0] ^ 1,)))


def _header_length(registry, object_id: str) -> int:
    header, raw = registry.objects.open_raw_stored(object_id)
    raw.close()
    return header.length


@pytest.mark.parametrize(
    "victim",
    ["a chunk's last byte", "a chunk's first body byte", "a small file", "a chunk size in the list"],
)
def test_a_damaged_local_object_is_refused_and_never_reaches_the_remote(
    tmp_path: Path, remote_url: str, victim: str
) -> None:
    alice = new_registry(tmp_path, "alice")
    v1 = make_model(alice, tmp_path / "w", b"v1")
    weights = hash_bytes(_random(b"v1", BIG))
    chunks = alice.objects.storage_links(weights)
    small = hash_bytes((tmp_path / "w" / "m-1.0.0" / "part3.txt").read_bytes())
    damaged, at = {
        "a chunk's last byte": (chunks[7], -1),
        "a chunk's first body byte": (chunks[2], _header_length(alice, chunks[2])),
        "a small file": (small, -1),
        "a chunk size in the list": (weights, _header_length(alice, weights) + 3 * 40 + 32),
    }[victim]
    flip_bit(alice, damaged, at)
    with pytest.raises((CorruptObject, RemoteMissingObject)) as refused:
        push(alice, connect(remote_url), [RefUpdate("models/m/1.0.0", v1)])
    assert damaged in str(refused.value)
    if isinstance(refused.value, CorruptObject):
        assert "fsck --repair" in str(refused.value)
    remote = connect(remote_url)
    assert remote.read_refs().refs == {}  # no ref moved
    assert damaged not in remote.refresh_objects(None)  # the bad copy is not there either
