"""Chunked blobs: one id for the whole file, shared chunks between versions, every read verified."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import blake3
import pytest

from pacha.blocks import BLOCK
from pacha.codec import CHUNKS, DELTA
from pacha.errors import CorruptObject, InvalidInput, ObjectNotFound
from pacha.objects import decode_tree
from pacha.store import ingest
from pacha.store.chunk_writer import ChunkedIngest


@pytest.fixture(autouse=True, params=["in place", "streamed"])
def reading(request, monkeypatch) -> str:
    """Run each test both ways a large file is read: mapped in place (a file unchanged for
    a while) and into private buffers (a file written moments ago, as every file here is)."""
    # whichever way, fixed: a file written moments ago counts as settled after 2 s, which a
    # loaded machine can take between writing and reading it
    monkeypatch.setattr(ingest, "_settled", lambda info: request.param == "in place")
    return request.param


def pack_bytes(registry) -> int:
    pack_dir = registry.root / "objects" / "pack"
    return sum(p.stat().st_size for p in pack_dir.glob("*.pack")) if pack_dir.is_dir() else 0


def weights(size: int, seed: int = 1) -> bytearray:
    return bytearray(random.Random(seed).randbytes(size))


def test_chunked_blob_id_is_the_whole_file_hash(registry, tmp_path: Path) -> None:
    data = weights(3 * BLOCK + 777)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    object_id = registry.objects.put_file(path)
    assert object_id == blake3.blake3(data).hexdigest()
    info = registry.objects.stat(object_id)
    assert (info.kind, info.size, info.encoding) == ("blob", len(data), CHUNKS)
    chunks = registry.objects.chunk_list(object_id)
    assert sum(c.size for c in chunks) == len(data)
    assert len(chunks) > 100  # content-defined chunks of tens of KiB
    with registry.objects.open(object_id) as reader:
        assert blake3.blake3(b"".join(bytes(b) for b in reader.chunks())).hexdigest() == object_id


def test_second_version_stores_only_changed_chunks(registry, tmp_path: Path) -> None:
    size = 4 * BLOCK
    v1 = weights(size)
    (tmp_path / "v1").write_bytes(v1)
    registry.objects.put_file(tmp_path / "v1")
    before = pack_bytes(registry)
    v2 = bytearray(v1)
    rng = random.Random(2)
    for _ in range(3):  # three scattered 64 KiB edits: 0.6 % of the file
        start = rng.randrange(size - 65536)
        v2[start : start + 65536] = rng.randbytes(65536)
    (tmp_path / "v2").write_bytes(v2)
    v2_id = registry.objects.put_file(tmp_path / "v2")
    added = pack_bytes(registry) - before
    assert added < 0.03 * size  # a few chunks of ~80 KiB each, plus the chunk list
    assert registry.objects.read(v2_id) == v2


def test_inserting_bytes_shifts_no_chunk_boundaries_downstream(registry, tmp_path: Path) -> None:
    v1 = weights(3 * BLOCK)
    v2 = v1[:1000] + b"inserted row\n" + v1[1000:]
    ids = []
    for name, data in (("a", v1), ("b", v2)):
        (tmp_path / name).write_bytes(data)
        ids.append(registry.objects.put_file(tmp_path / name))
    first, second = ({c.id for c in registry.objects.chunk_list(i)} for i in ids)
    assert len(second - first) <= 2


def test_same_size_version_is_cut_where_the_base_was(registry, tmp_path: Path, reading: str) -> None:
    size = 4 * BLOCK
    v1 = weights(size)
    (tmp_path / "v1").write_bytes(v1)
    base = registry.objects.put_file(tmp_path / "v1")
    v2 = bytearray(v1)
    rng = random.Random(5)
    for _ in range(20):  # small in-place edits, as a fine-tune makes
        start = rng.randrange(size - 100)
        v2[start : start + 100] = rng.randbytes(100)
    v2[BLOCK : BLOCK + 200_000] = bytes(200_000)  # zeros: FastCDC alone would cut them small
    (tmp_path / "v2").write_bytes(v2)
    before = pack_bytes(registry)
    v2_id = registry.objects.put_file(tmp_path / "v2", base=base)
    old, new = registry.objects.chunk_list(base), registry.objects.chunk_list(v2_id)
    changed = [c for c in new if c not in old]
    assert 0 < len(changed) <= 24
    if reading == "in place":  # no cutting pass: the layout is the base's
        assert [c.size for c in new] == [c.size for c in old]
        assert all(registry.objects.stat(c.id).encoding == DELTA for c in changed)
        assert pack_bytes(registry) - before < 50_000  # small deltas and a chunk list
    assert registry.objects.read(v2_id) == v2


def test_a_file_changed_while_read_in_place_is_refused(registry, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(weights(2 * BLOCK))
    monkeypatch.setattr(ingest, "_settled", lambda info: True)
    feed_mapped = ChunkedIngest.feed_mapped

    def feed_then_append(self, mapped) -> None:
        feed_mapped(self, mapped)
        with open(path, "ab") as f:  # someone writes to the file meanwhile
            f.write(b"more")

    monkeypatch.setattr(ChunkedIngest, "feed_mapped", feed_then_append)
    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        registry.objects.put_file(path)
    assert pack_bytes(registry) == 0  # the pack was never installed
    assert list(registry.objects.iter_ids()) == []


def test_a_file_written_moments_ago_is_not_read_in_place(registry, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.undo()  # the real check, whatever the fixture chose
    data = weights(2 * BLOCK + 3)
    (tmp_path / "fresh").write_bytes(data)
    ahead = time.time() + 3600  # written a moment ago however long the test takes to read it
    os.utime(tmp_path / "fresh", (ahead, ahead))

    def refuse(self, mapped) -> None:
        raise AssertionError("a file written moments ago was read in place")

    monkeypatch.setattr(ChunkedIngest, "feed_mapped", refuse)
    object_id = registry.objects.put_file(tmp_path / "fresh")
    assert registry.objects.read(object_id) == data


def test_stream_chunking_matches_file_chunking(registry, tmp_path: Path) -> None:
    data = bytes(weights(3 * BLOCK + 5, seed=3))
    path = tmp_path / "f"
    path.write_bytes(data)
    file_id = registry.objects.put_file(path)
    rng = random.Random(4)
    with registry.objects.writer("blob") as writer:
        pos = 0
        while pos < len(data):
            step = rng.choice([1, 4096, BLOCK - 3, BLOCK + 7])
            writer.write(data[pos : pos + step])
            pos += step
        stream_id = writer.commit()
    assert stream_id == file_id


def test_a_damaged_chunk_is_reported_by_read_and_fsck(registry, cli, tmp_path: Path) -> None:
    data = weights(2 * BLOCK + 1)
    (tmp_path / "m").write_bytes(data)
    object_id = registry.objects.put_file(tmp_path / "m")
    (pack,) = (registry.root / "objects" / "pack").glob("*.pack")
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as f:
        f.seek(pack.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    registry.objects.forget_packs()
    with pytest.raises(CorruptObject, match="is corrupt"):
        registry.objects.read(object_id)
    result = cli("fsck", ok=False)
    assert result.code == 1
    assert "is corrupt" in result.text


def test_a_missing_chunk_names_the_chunk(registry, tmp_path: Path) -> None:
    data = weights(2 * BLOCK + 1)
    (tmp_path / "m").write_bytes(data)
    object_id = registry.objects.put_file(tmp_path / "m")
    chunk = registry.objects.chunk_list(object_id)[5]
    for path in (registry.root / "objects" / "pack").iterdir():
        os.unlink(path)
    registry.objects.forget_packs()
    with pytest.raises(ObjectNotFound):
        registry.objects.read(object_id)
    assert not registry.objects.has(chunk.id)


def test_cat_object_and_checkout_see_one_file(registry, cli, tmp_path: Path) -> None:
    data = bytes(weights(2 * BLOCK + 9))
    (tmp_path / "m").write_bytes(data)
    object_id = cli("hash-object", "-w", tmp_path / "m").text.strip()
    assert cli("cat-object", "-t", object_id).text == "blob\n"
    assert cli("cat-object", "-s", object_id).text == f"{len(data)}\n"
    assert cli("cat-object", "blob", object_id).out == data
    cli("checkout-object", object_id, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data


def test_edited_csv_chunks_are_stored_as_deltas(registry, tmp_path: Path) -> None:
    rng = random.Random(7)
    rows = [f"{i},{rng.random():.6f},{rng.choice(['cat', 'dog', 'eel'])}\n" for i in range(600_000)]
    v1 = "".join(rows).encode()
    for i in range(0, len(rows), 50_000):  # a few edited rows, spread through the file
        rows[i] = f"{i},0.5,edited\n"
    v2 = "".join(rows).encode()
    (tmp_path / "v1.csv").write_bytes(v1)
    (tmp_path / "v2.csv").write_bytes(v2)
    base = registry.objects.put_file(tmp_path / "v1.csv")
    before = pack_bytes(registry)
    v2_id = registry.objects.put_file(tmp_path / "v2.csv", base=base)
    chunks = registry.objects.chunk_list(v2_id)
    encodings = [registry.objects.stat(c.id).encoding for c in chunks]
    assert encodings.count(DELTA) >= 8
    assert pack_bytes(registry) - before < 40_000  # twelve tiny deltas and a chunk list
    assert registry.objects.read(v2_id) == v2


def test_small_file_with_a_base_is_stored_as_a_delta(registry, tmp_path: Path) -> None:
    rng = random.Random(8)
    v1 = rng.randbytes(200_000)
    v2 = v1[:5000] + b"changed" + v1[5000:]
    (tmp_path / "v1").write_bytes(v1)
    (tmp_path / "v2").write_bytes(v2)
    base = registry.objects.put_file(tmp_path / "v1")
    object_id = registry.objects.put_file(tmp_path / "v2", base=base)
    assert registry.objects.stat(object_id).encoding == DELTA
    assert registry.objects.storage_links(object_id) == [base]
    assert registry.objects.read(object_id) == v2


def test_folder_versions_reuse_unchanged_files_and_delta_changed_ones(cli, registry, tmp_path: Path) -> None:
    rng = random.Random(9)
    folder = tmp_path / "set"
    (folder / "sub").mkdir(parents=True)
    rows = "".join(f"{i},{rng.random():.6f}\n" for i in range(20_000))
    (folder / "sub" / "table.csv").write_text(rows)
    (folder / "notes.txt").write_text("unchanged")
    cli("data", "register", "set", folder, "-v", "1.0.0")
    (folder / "sub" / "table.csv").write_text(rows.replace("17,", "17 edited,", 1))
    cli("data", "register", "set", folder, "-v", "1.1.0")

    def entry(tree_id: str, name: str):
        return next(e for e in decode_tree(registry.objects.read(tree_id)).entries if e.name == name)

    old, new = (
        json.loads(cli("data", "get", f"set:{v}", "--json").text)["record"]["artifact"]
        for v in ("1.0.0", "1.1.0")
    )
    assert entry(new, "notes.txt").id == entry(old, "notes.txt").id
    table = entry(entry(new, "sub").id, "table.csv")
    assert registry.objects.stat(table.id).encoding == DELTA
    assert registry.objects.storage_links(table.id) == [entry(entry(old, "sub").id, "table.csv").id]
    cli("data", "download", "set:1.1.0", "-o", tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "table.csv").read_text() == (folder / "sub" / "table.csv").read_text()
    cli("fsck")


def test_reading_a_blob_with_a_damaged_chunk_names_the_chunk(registry, tmp_path: Path) -> None:
    from tests.conftest import damage_object

    data = weights(2 * BLOCK + 1)
    (tmp_path / "m").write_bytes(data)
    object_id = registry.objects.put_file(tmp_path / "m")
    chunk = registry.objects.chunk_list(object_id)[7]
    damage_object(registry.root, chunk.id, from_end=10)
    registry.objects.forget_packs()
    with pytest.raises(CorruptObject) as caught:
        registry.objects.read(object_id)
    message = str(caught.value)
    assert message.startswith(f"object {object_id} is corrupt") and f"object {chunk.id} is corrupt" in message


@pytest.mark.parametrize("damage", ["encoding", "kind", "size"])
def test_a_damaged_chunk_header_is_not_read_as_data(registry, tmp_path: Path, damage: str) -> None:
    """Runs of chunks stored back to back are read in one call, headers included: a header
    that is not exactly a whole chunk's stops the run and is reported, never passed on."""
    data = weights(2 * BLOCK + 1)
    (tmp_path / "m").write_bytes(data)
    object_id = registry.objects.put_file(tmp_path / "m")
    chunk = registry.objects.chunk_list(object_id)[9]
    _fd, offset, _length = registry.objects.packed_entry(chunk.id)
    at = {"encoding": 5, "kind": 7, "size": 11}[damage]  # header: magic, version, encoding, kind, size
    (pack,) = (registry.root / "objects" / "pack").glob("*.pack")
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as f:
        f.seek(offset + at)
        byte = f.read(1)
        f.seek(offset + at)
        f.write(bytes([byte[0] ^ {"encoding": 0x01, "kind": 0x20, "size": 0x01}[damage]]))
    registry.objects.forget_packs()
    with pytest.raises(CorruptObject) as caught:
        registry.objects.read(object_id)
    assert object_id in str(caught.value) or chunk.id in str(caught.value)
    with pytest.raises(CorruptObject, match=chunk.id):
        registry.objects.read(chunk.id)


def test_reads_of_any_size_see_the_chunked_blob(registry, tmp_path: Path) -> None:
    data = bytes(weights(3 * BLOCK + 777, seed=4))
    (tmp_path / "m").write_bytes(data)
    object_id = registry.objects.put_file(tmp_path / "m")
    for size in (4096 + 3, 200_000, 1_000_003, BLOCK - 1, 3 * BLOCK):
        buffer = bytearray(size)
        pieces = []
        with registry.objects.open(object_id) as reader:
            while n := reader.readinto(buffer):
                pieces.append(bytes(buffer[:n]))
        assert b"".join(pieces) == data, size
