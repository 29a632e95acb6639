"""Packs: the index finds every id, plumbing moves objects in and out, readers never miss one."""

from __future__ import annotations

import os
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import pacha
from pacha.objects import decode_tree
from pacha.store.pack import Entry, Pack
from pacha.store.pack_writer import PackWriter
from tests.conftest import damage_object

ids_strategy = st.lists(st.binary(min_size=32, max_size=32), max_size=300, unique=True)


@settings(max_examples=40, deadline=None)
@given(ids_strategy, st.lists(st.binary(min_size=32, max_size=32), max_size=20))
def test_index_finds_every_id_and_no_other(
    tmp_path_factory, present: list[bytes], probes: list[bytes]
) -> None:
    root = tmp_path_factory.mktemp("pack")
    writer = PackWriter(root / "pack", root / "tmp")
    for raw in present:
        writer.add(raw.hex(), b"x" * (raw[0] + 1))
    index = writer.finish()
    if not present:
        assert index is None
        return
    pack = Pack(index)
    assert pack.count == len(present)
    assert list(pack.iter_ids()) == sorted(r.hex() for r in present)
    for raw in present:
        i = pack.position(raw)
        assert pack.id_at(i) == raw.hex()
        assert pack.entry_at(i).length == raw[0] + 1
    for raw in probes:
        if raw not in present:
            assert pack.position(raw) == -1
    some = sorted(r.hex() for r in present)[0]
    assert some in pack.ids_with_prefix(some[:5])
    assert all(i.startswith(some[:5]) for i in pack.ids_with_prefix(some[:5]))
    assert pack.check_files() == []
    pack.close()


def test_pack_objects_show_index_and_verify_pack(cli) -> None:
    ids = [cli("hash-object", "-w", "--stdin", input=f"object {i}".encode()).text.strip() for i in range(20)]
    name = cli("pack-objects", input="\n".join(ids[:12]) + "\n").text.strip()
    assert name.startswith("pack-")
    shown = cli("show-index", name).lines
    assert [line.split()[1] for line in shown] == sorted(ids[:12])
    offsets = [int(line.split()[0]) for line in shown]
    assert all(o >= 8 for o in offsets) and len(set(offsets)) == 12
    assert "ok (12 objects)" in cli("verify-pack").text
    listing = cli("verify-pack", "-v", name).lines
    assert sum(line.split()[1] == "blob" for line in listing[:-1]) == 12
    counts = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
    assert (counts["count"], counts["in-pack"], counts["packs"]) == ("20", "12", "1")
    missing = "ab" * 32
    assert "not found" in cli.fails("pack-objects", input=missing + "\n", code=1).err


def test_repack_gathers_everything_and_removes_what_it_replaced(cli, tmp_path: Path) -> None:
    loose = [cli("hash-object", "-w", "--stdin", input=f"loose {i}".encode()).text.strip() for i in range(5)]
    for batch in range(2):
        folder = tmp_path / f"f{batch}"
        folder.mkdir()
        for i in range(4):
            (folder / f"{i}.txt").write_text(f"batch {batch} file {i}")
        cli("write-tree", folder)
    before = set(cli("count-objects", "-v").lines)
    assert "packs: 2" in before
    everything = _all_ids(cli.registry)
    cli("repack")
    counts = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
    assert (counts["count"], counts["packs"]) == ("0", "1")
    assert _all_ids(cli.registry) == everything
    for object_id in loose:
        assert cli("cat-object", "-p", object_id).text.startswith("loose")
    cli("fsck")
    assert "nothing to do" in cli("repack").err  # already one pack


def test_unpack_objects_turns_a_pack_into_loose_objects(cli, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    data = {f"{i}.bin": os.urandom(1000 + i) for i in range(6)}
    for name, content in data.items():
        (folder / name).write_bytes(content)
    tree = cli("write-tree", folder).text.strip()
    (pack,) = (cli.registry / "objects" / "pack").glob("*.pack")
    cli("unpack-objects", "-d", pack)
    assert not pack.exists()
    counts = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
    assert (counts["count"], counts["packs"]) == ("7", "0")
    cli("checkout-object", tree, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == data
    cli("fsck")


def test_a_pack_can_be_carried_to_another_registry(cli, tmp_path: Path) -> None:
    data = random.Random(3).randbytes(20 << 20)  # chunked: chunk list + chunks, one pack
    (tmp_path / "big").write_bytes(data)
    blob = cli("hash-object", "-w", tmp_path / "big").text.strip()
    (pack,) = (cli.registry / "objects" / "pack").glob("*.pack")
    other = tmp_path / "other"
    cli("init", "-q", other)
    cli("--registry", other, "unpack-objects", pack)
    assert cli("--registry", other, "cat-object", "blob", blob).out == data
    cli("--registry", other, "fsck")


def test_verify_pack_reports_damage(cli, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a").write_bytes(os.urandom(5000))
    tree = cli("write-tree", folder).text.strip()
    blob = cli("ls-tree", tree).text.split()[2]
    damage_object(cli.registry, blob)
    result = cli.fails("verify-pack", code=1)
    assert blob in result.err
    (index,) = (cli.registry / "objects" / "pack").glob("*.idx")
    os.chmod(index, 0o644)
    raw = bytearray(index.read_bytes())
    raw[-40] ^= 1
    index.write_bytes(bytes(raw))
    assert "checksum does not match" in cli.fails("verify-pack", index, code=1).err


def test_reader_finds_objects_after_another_process_repacks(cli, registry, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a").write_bytes(b"first pack")
    tree = cli("write-tree", folder).text.strip()
    assert registry.objects.has(tree)  # the reader has listed the packs (and not opened this one)
    cli("hash-object", "-w", "--stdin", input=b"a loose one")
    cli("repack")  # replaces the pack this reader has listed
    assert decode_tree(registry.objects.read(tree)).entries[0].name == "a"


def test_gc_rewrites_a_pack_without_its_garbage(cli, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "keep").write_bytes(b"kept")
    (folder / "drop").write_bytes(b"dropped")
    kept_tree = cli("write-tree", folder).text.strip()
    (folder / "drop").unlink()
    tree = cli("write-tree", folder).text.strip()
    cli("write-ref", "models/m/1.0.0", tree)
    dropped = pacha.hash_bytes(b"dropped")
    old = 1_000_000_000
    for path in (cli.registry / "objects" / "pack").iterdir():
        os.utime(path, (old, old))
    removed = cli("gc", "--dry-run").lines
    assert sorted(removed) == sorted(f"would remove {i}" for i in (dropped, kept_tree))
    cli("gc")
    assert cli("cat-object", "-e", dropped, ok=False).code == 1
    assert cli("cat-object", "blob", pacha.hash_bytes(b"kept")).out == b"kept"
    cli("fsck")


def _all_ids(registry: Path) -> set[str]:
    store = pacha.open_registry(registry).objects
    return set(store.iter_ids())


def test_entry_type_is_offset_and_length() -> None:
    assert Entry(8, 100) == (8, 100)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=10**9), max_size=40), st.integers(min_value=2, max_value=4)
)
def test_geometric_merge_leaves_a_progression_and_merges_no_more_than_needed(sizes, factor) -> None:
    from pacha.store.repack import geometric_merge

    sizes = sorted(sizes)
    k = geometric_merge(sizes, factor)
    for i in range(k, len(sizes)):  # every pack left outgrows all smaller ones together
        assert sizes[i] >= factor * sum(sizes[:i])
    if k:  # and merging one pack fewer would not do
        assert sizes[k - 1] < factor * sum(sizes[: k - 1])


def make_packs(registry, tmp_path: Path, sizes: list[int]) -> list[str]:
    """One folder stored per size (one pack each, of about that many bytes); their tree ids."""
    rng = random.Random(5)
    trees = []
    for n, size in enumerate(sizes):
        folder = tmp_path / f"f{n}"
        folder.mkdir()
        (folder / "data.bin").write_bytes(rng.randbytes(size))
        trees.append(pacha.write_tree(registry.objects, folder))
    return trees


def test_repack_geometric_merges_only_the_small_packs(cli, registry, tmp_path: Path) -> None:
    trees = make_packs(registry, tmp_path, [1000, 1200, 1500, 2000, 400_000])
    big = max((registry.root / "objects" / "pack").glob("*.pack"), key=lambda p: p.stat().st_size)
    cli("repack", "--geometric", "2")
    packs = sorted((registry.root / "objects" / "pack").glob("*.pack"))
    assert len(packs) == 2 and big in packs  # four small packs became one; the big one stayed
    registry.objects.forget_packs()
    for tree in trees:
        cli("checkout-object", tree, tmp_path / f"out-{tree[:8]}")
    cli("fsck")


def test_registrations_merge_small_packs_once_there_are_too_many(tmp_path: Path, monkeypatch) -> None:
    from pacha.store import repack
    from porcelain import Registry

    monkeypatch.setattr(repack, "AUTO_PACK_LIMIT", 3)
    pacha.init_registry(tmp_path / "reg")
    reg = Registry.open(tmp_path / "reg")
    pack_dir = tmp_path / "reg" / "objects" / "pack"
    counts = []
    for n in range(8):
        folder = tmp_path / f"v{n}"
        folder.mkdir()
        (folder / "weights.bin").write_bytes(os.urandom(1000 * (n + 1)))
        reg.register_model("m", folder, version=f"{n + 1}.0.0")
        counts.append(len(list(pack_dir.glob("*.pack"))))
    assert max(counts) <= 4  # never more than the limit plus the registration's own pack
    assert counts[:3] == [1, 2, 3]  # nothing merged below the limit
    for n in range(8):
        reg.download("model", f"m:{n + 1}.0.0", tmp_path / f"out{n}")
        assert (tmp_path / f"out{n}" / "weights.bin").read_bytes() == (
            tmp_path / f"v{n}" / "weights.bin"
        ).read_bytes()


def test_a_failed_automatic_repack_leaves_the_registration_standing(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from pacha.store import repack
    from porcelain import Registry

    def fail(store, limit=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(repack, "auto_repack", fail)
    pacha.init_registry(tmp_path / "reg")
    reg = Registry.open(tmp_path / "reg")
    (tmp_path / "w.bin").write_bytes(b"weights")
    reg.register_model("m", tmp_path / "w.bin", version="1.0.0")
    assert "automatic repack skipped" in capsys.readouterr().err
    reg.download("model", "m:1.0.0", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b"weights"
