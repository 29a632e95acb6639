"""A damaged stored copy is never trusted by a write: every write that finds its object
already stored checks the copy (header, kind, size, stored length, pack entry bounds, a
delta's base) and, if it is damaged, stores the good bytes where readers find them first.
fsck names what restores each damaged object; fsck --repair rewrites from good copies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pacha
from pacha import codec
from pacha.hashing import hash_bytes
from pacha.objects import decode_tree
from pacha.store import ingest
from pacha.trees import write_tree_sized

FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]  # too_slow: load, not a property


def loose_path(registry_root: Path, object_id: str) -> Path:
    return registry_root / "objects" / object_id[:2] / object_id[2:]


def damage_loose(registry_root: Path, object_id: str, how: str) -> None:
    path = loose_path(registry_root, object_id)
    os.chmod(path, 0o644)
    raw = path.read_bytes()
    damaged = {
        "empty": b"",
        "truncated": raw[: len(raw) // 2],
        "header only": raw[:15],
        "bad magic": b"XXXX" + raw[4:],
        "other size": raw[:11] + (len(raw) + 7).to_bytes(8, "little") + raw[19:],
        "longer": raw + b"\0" * 9,
    }[how]
    path.write_bytes(damaged)


def damage_packed(registry, object_id: str, how: str = "bad magic") -> Path:
    store = registry.objects
    store.packs.refresh(force=True)
    pack, i = store.packs.find(object_id)
    offset, length = pack.entry_at(i)
    os.chmod(pack.path, 0o644)
    with open(pack.path, "r+b") as f:
        if how == "bad magic":
            f.seek(offset)
            f.write(b"XXXX")
        else:  # a bit flipped in the body: only a full read sees it
            f.seek(offset + length - 1)
            last = f.read(1)
            f.seek(offset + length - 1)
            f.write(bytes((last[0] ^ 1,)))
    return pack.path


HOWS = ["empty", "truncated", "header only", "bad magic", "other size", "longer"]


# --- the inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("how", HOWS)
def test_hash_object_w_replaces_a_damaged_loose_copy(cli, tmp_path: Path, how: str) -> None:
    data = b"model weights, small enough to store loose\n" * 20
    (tmp_path / "w.bin").write_bytes(data)
    object_id = cli("hash-object", "-w", "w.bin").text.strip()
    damage_loose(cli.registry, object_id, how)
    assert cli("hash-object", "-w", "w.bin").text.strip() == object_id
    assert cli("cat-object", "blob", object_id).out == data
    cli("fsck")


@pytest.mark.parametrize("how", ["empty", "bad magic", "other size"])
def test_registering_again_replaces_a_damaged_copy_and_downloads(cli, tmp_path: Path, how: str) -> None:
    data = b"v1 of a small model\n"
    (tmp_path / "m.bin").write_bytes(data)
    cli("model", "register", "m", "m.bin", "-v", "1.0.0")
    blob = cli("hash-object", "m.bin").text.strip()
    damage_loose(cli.registry, blob, how)
    cli("model", "register", "m", "m.bin", "-v", "1.0.1")
    cli("model", "download", "m:1.0.1", "-o", "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    cli("model", "download", "m:1.0.0", "-o", "old.bin")  # the same object: restored for both
    assert (tmp_path / "old.bin").read_bytes() == data


# --- every write path, loose and packed copies -------------------------------------------


def test_a_damaged_packed_copy_is_shadowed_by_a_good_loose_one(cli, registry, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "step.txt").write_bytes(b"step 100\n")
    (folder / "weights.bin").write_bytes(os.urandom(5000))
    cli("model", "register", "ckpt", "run", "-v", "1.0.0")  # a folder: its files go into a pack
    blob = hash_bytes(b"step 100\n")
    assert not loose_path(cli.registry, blob).exists()
    damage_packed(registry, blob)
    cli("model", "register", "ckpt", "run", "-v", "1.0.1")
    assert loose_path(cli.registry, blob).exists()  # the good copy, which readers prefer
    cli("model", "download", "ckpt:1.0.1", "-o", "out")
    assert (tmp_path / "out" / "step.txt").read_bytes() == b"step 100\n"
    # fsck still reports the damaged packed copy, and names the good one
    result = cli("fsck", ok=False)
    assert result.code == 1
    assert f"object {blob}: its copy in pack-" in result.text
    assert f"restore {blob}: its loose copy is good; `pacha fsck --repair`" in result.text
    repaired = cli("fsck", "--repair")
    assert f"repaired {blob}: dropped its damaged copy in pack-" in repaired.text
    cli("fsck")
    cli("model", "download", "ckpt:1.0.0", "-o", "out0")
    assert (tmp_path / "out0" / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()


def test_a_damaged_chunk_and_chunk_list_are_replaced(registry, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ingest, "_settled", lambda info: True)
    store = registry.objects
    data = os.urandom(9 << 20)
    (tmp_path / "big").write_bytes(data)
    blob = store.put_file(tmp_path / "big")
    chunks = store.chunk_list(blob)
    assert chunks
    damage_packed(registry, chunks[3].id)
    damage_packed(registry, blob)  # the chunk list itself
    fresh = pacha.open_registry(registry.root).objects
    assert fresh.put_file(tmp_path / "big") == blob
    with fresh.open(blob) as reader:
        assert reader.read() == data


def test_a_delta_whose_base_is_damaged_is_stored_whole(registry, tmp_path: Path) -> None:
    store = registry.objects
    v1 = os.urandom(800).hex().encode() + b"\nepochs = 10\n"
    v2 = v1.replace(b"epochs = 10", b"epochs = 12", 1)
    base = store.put_bytes(v1)
    new = store.put_prepared(store.prepare(v2), base)
    assert store.stat(new).encoding == codec.DELTA
    damage_loose(registry.root, base, "empty")
    (tmp_path / "v2").write_bytes(v2)
    fresh = pacha.open_registry(registry.root).objects
    assert fresh.put_file(tmp_path / "v2") == new
    assert fresh.read(new) == v2
    assert fresh.stat(new).encoding != codec.DELTA


def test_trees_and_records_are_replaced(cli, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.csv").write_text("x,y\n1,2\n")
    tree = cli("write-tree", "data").text.strip()
    record = b'{"name":"r","type":"note"}'
    (tmp_path / "r.json").write_bytes(record)
    record_id = cli("hash-object", "-w", "-t", "record", "r.json").text.strip()
    for object_id in (tree, record_id):
        path = loose_path(cli.registry, object_id)
        if not path.exists():  # the folder's tree went into a pack: write a loose copy first
            continue
        damage_loose(cli.registry, object_id, "truncated")
    assert cli("write-tree", "data").text.strip() == tree
    assert cli("hash-object", "-w", "-t", "record", "r.json").text.strip() == record_id
    cli("fsck")
    assert cli("cat-object", "record", record_id).out == record


def test_a_packed_tree_is_replaced(registry, tmp_path: Path) -> None:
    store = registry.objects
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a").write_bytes(b"a")
    tree, _ = write_tree_sized(store, folder)
    damage_packed(registry, tree)
    fresh = pacha.open_registry(registry.root).objects
    assert write_tree_sized(fresh, folder)[0] == tree
    assert decode_tree(fresh.read(tree)).entries[0].name == "a"


def test_worker_processes_replace_damaged_copies(registry, tmp_path: Path, monkeypatch) -> None:
    from pacha import trees

    monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
    store = registry.objects
    folder = tmp_path / "many"
    folder.mkdir()
    files = {f"f{i:03d}": b"file %d\n" % i for i in range(120)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    tree, _ = write_tree_sized(store, folder)
    for name in ("f000", "f050", "f119"):
        damage_packed(registry, hash_bytes(files[name]))
    fresh = pacha.open_registry(registry.root).objects
    assert write_tree_sized(fresh, folder, base=tree)[0] == tree
    for entry in decode_tree(fresh.read(tree)).entries:
        assert fresh.read(entry.id) == files[entry.name]


def test_unpack_objects_replaces_a_damaged_loose_copy(cli, registry, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"some content")
    blob = cli("hash-object", "-w", "a").text.strip()
    cli("repack", "-q")
    pack = next((cli.registry / "objects" / "pack").glob("*.pack"))
    cli("unpack-objects", pack, "-q")
    damage_loose(cli.registry, blob, "empty")
    cli("unpack-objects", pack, "-q")
    assert loose_path(cli.registry, blob).read_bytes()[:4] == b"PCHO"
    cli("fsck")


@settings(max_examples=80, deadline=None, suppress_health_check=FIXTURE)
@given(
    st.one_of(st.binary(max_size=300), st.binary(min_size=1, max_size=40).map(lambda b: b * 50)),
    st.data(),
)
def test_any_truncation_extension_or_header_damage_is_replaced(registry, data: bytes, draw) -> None:
    """Cheap checks find every cut, every appended byte and every damaged header byte of a
    copy, identity or zstd (a flipped bit inside a body is for fsck, which reads it whole)."""
    store = registry.objects
    object_id = hash_bytes(data)
    header, body = store.loose.encode("blob", data)
    raw = header + body
    cut = draw.draw(st.integers(0, len(raw)))
    extra = draw.draw(st.binary(max_size=3))
    flip = draw.draw(st.one_of(st.none(), st.integers(0, len(header) - 1)))
    damaged = bytearray(raw[:cut]) + (extra if cut == len(raw) else b"")
    if flip is not None and flip < len(damaged):
        damaged[flip] ^= 0x40
    path = loose_path(registry.root, object_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.chmod(path, 0o644)
    path.write_bytes(bytes(damaged))
    assert store.put_bytes(data) == object_id
    assert store.read(object_id) == data
    if bytes(damaged) != raw:
        assert path.read_bytes() == raw  # the damaged file was replaced


# --- fsck names what restores each damaged object ---------------------------------------


def test_fsck_names_the_file_that_restores_a_damaged_blob(cli, tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"onnx bytes")
    cli("model", "register", "tiny", "model.onnx", "-v", "1.0.0")
    blob = hash_bytes(b"onnx bytes")
    damage_loose(cli.registry, blob, "empty")
    result = cli("fsck", ok=False)
    assert result.code == 1
    hint = next(line for line in result.lines if line.startswith(f"restore {blob}"))
    assert "`pacha hash-object -w FILE`" in hint
    assert "models/tiny/1.0.0:model.onnx" in hint
    repaired = cli("fsck", "--repair", ok=False)
    assert repaired.code == 1
    assert f"cannot repair {blob}: no good copy" in repaired.text
    cli("hash-object", "-w", "model.onnx")  # what the hint says
    cli("fsck")


def test_fsck_names_the_folder_that_restores_a_damaged_tree(cli, registry, tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "a.csv").write_text("x\n1\n")
    cli("data", "register", "ds", "ds", "-v", "1.0.0")
    sub = next(
        e for e in decode_tree(registry.objects.read(_artifact(registry, "datasets/ds/1.0.0"))).entries
    )
    damage_packed(registry, sub.id)
    result = cli("fsck", ok=False)
    hint = next(line for line in result.lines if line.startswith(f"restore {sub.id}"))
    assert "`pacha write-tree DIR`" in hint and "datasets/ds/1.0.0:ds/train" in hint


def _artifact(registry, ref: str) -> str:
    import msgspec

    record = msgspec.json.decode(registry.objects.read(registry.refs.get(ref)))
    return record["artifact"]


def test_fsck_repair_rewrites_a_damaged_loose_copy_from_a_packed_one(cli, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"kept twice")
    blob = cli("hash-object", "-w", "a").text.strip()
    cli("repack", "-q")
    pack = next((cli.registry / "objects" / "pack").glob("*.pack"))
    cli("unpack-objects", pack, "-q")
    damage_loose(cli.registry, blob, "bad magic")
    assert cli("cat-object", "blob", blob).out == b"kept twice"  # readers pass over it
    result = cli("fsck", ok=False)
    assert f"object {blob}: its loose copy is damaged" in result.text
    repaired = cli("fsck", "--repair")
    assert f"repaired {blob}: rewrote its loose copy from its good copy in pack-" in repaired.text
    assert "ok after repair" in repaired.err
    assert loose_path(cli.registry, blob).read_bytes()[:4] == b"PCHO"
    cli("fsck")


def test_fsck_repair_drops_a_body_damaged_packed_copy(cli, registry, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"kept twice, flipped once")
    (tmp_path / "b").write_bytes(b"only packed")
    blob = cli("hash-object", "-w", "a", "b").lines[0]
    other = hash_bytes(b"only packed")
    cli("repack", "-q")
    pack = next((cli.registry / "objects" / "pack").glob("*.pack"))
    cli("unpack-objects", pack, "-q")
    loose_path(cli.registry, other).unlink()
    damage_packed(registry, blob, "flip")
    assert cli("cat-object", "blob", blob).out == b"kept twice, flipped once"  # the loose copy
    result = cli("fsck", ok=False)
    assert f"object {blob}: its copy in pack-" in result.text
    assert cli("verify-pack", ok=False).code == 1  # the pack's own copy, not the loose one
    cli("fsck", "--repair")
    cli("fsck")
    assert cli("cat-object", "blob", other).out == b"only packed"  # the rest of the pack kept


def test_fsck_names_the_file_that_restores_a_damaged_chunk(cli, registry, tmp_path: Path) -> None:
    data = os.urandom((8 << 20) + 4096)
    (tmp_path / "big.bin").write_bytes(data)
    cli("model", "register", "big", "big.bin", "-v", "1.0.0")
    blob = hash_bytes(data)
    chunk = registry.objects.chunk_list(blob)[1].id
    damage_packed(registry, chunk)
    result = cli("fsck", ok=False)
    hint = next(line for line in result.lines if line.startswith(f"restore {chunk}"))
    assert f"it is a chunk of blob {blob}" in hint and "models/big/1.0.0:big.bin" in hint
    cli("hash-object", "-w", "big.bin")  # what the hint says: the chunk is good again, loose
    shadowed = cli("fsck", ok=False)  # the damaged packed copy is left for --repair to drop
    assert f"restore {chunk}: its loose copy is good" in shadowed.text
    cli("fsck", "--repair")
    cli("fsck")
    cli("model", "download", "big:1.0.0", "-o", "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_a_large_loose_record_is_replaced(registry) -> None:
    """Records and trees larger than a block are written through the loose pipeline."""
    store = registry.objects
    record = b'{"note":"' + os.urandom(5 << 20).hex().encode() + b'","type":"r"}'
    with store.writer("record") as writer:
        writer.write(record)
        record_id = writer.commit()
    damage_loose(registry.root, record_id, "truncated")
    with store.writer("record") as writer:
        writer.write(record)
        assert writer.commit() == record_id
    assert store.read(record_id) == record
