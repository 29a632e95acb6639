"""The multi-pack index: one lookup for many packs, and never the only word on a miss."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import pacha
from pacha.store import midx as midx_module
from pacha.store.midx import MIDX_AFTER, MIDX_NAME, MultiPackIndex, build_midx
from pacha.store.pack import Pack
from pacha.store.pack_writer import PackWriter


def blobs_in_packs(registry, packs: int, per_pack: int = 3) -> list[list[str]]:
    """packs packs of per_pack small blobs each; the ids, pack by pack."""
    out = []
    for _ in range(packs):
        with registry.objects.batch():
            out.append([registry.objects.put_bytes(os.urandom(100)) for _ in range(per_pack)])
    return out


def midx_path(registry) -> Path:
    return registry.root / "objects" / "pack" / MIDX_NAME


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40), min_size=1, max_size=6),
    st.lists(st.binary(min_size=32, max_size=32), max_size=20),
)
def test_the_index_names_a_pack_holding_each_id_and_nothing_else(
    tmp_path_factory, groups: list[list[bytes]], probes: list[bytes]
) -> None:
    root = tmp_path_factory.mktemp("midx")
    packs = []
    for group in groups:  # ids may repeat across packs: each is listed once
        writer = PackWriter(root / "pack", root / "tmp")
        for raw in group:
            writer.add(raw.hex(), b"x")
        packs.append(Pack(writer.finish()))
    (root / "pack" / MIDX_NAME).write_bytes(build_midx(packs))
    index = MultiPackIndex(root / "pack" / MIDX_NAME)
    everything = {raw for group in groups for raw in group}
    assert index.count == len(everything)
    assert index.pack_names == [p.name for p in packs]
    for _ in range(midx_module.EAGER_AFTER + 1):  # searched in place, then as a list
        for raw in everything:
            assert packs[index.pack_of(raw)].position(raw) >= 0
        for raw in probes:
            if raw not in everything:
                assert index.pack_of(raw) == -1
    assert isinstance(index._ids, list)
    assert midx_module.verify_midx(index, {p.name: p for p in packs}) == []
    index.close()
    for pack in packs:
        pack.close()


def test_write_verify_and_every_object_found_through_the_index(cli, registry) -> None:
    ids = blobs_in_packs(registry, MIDX_AFTER + 2)
    out = cli("multi-pack-index", "write").text
    assert f"{MIDX_AFTER + 2} packs" in out
    assert "ok (30 ids" in cli("multi-pack-index", "verify").text
    later = blobs_in_packs(registry, 2)  # packs added since are searched on their own
    store = pacha.open_registry(cli.registry).objects
    assert store.packs.uncovered == 2
    counts = dict(line.split(": ") for line in cli("count-objects", "-v").text.splitlines())
    assert (counts["packs"], counts["packs-outside-midx"]) == (str(MIDX_AFTER + 4), "2")
    for object_id in (i for group in ids + later for i in group):
        assert store.packs.find(object_id) is not None
        assert len(store.read(object_id)) == 100
    assert store.packs.find("ab" * 32) is None
    cli("fsck")


def test_few_packs_need_no_index(cli, registry) -> None:
    blobs_in_packs(registry, MIDX_AFTER - 1)
    assert "fewer than" in cli("multi-pack-index", "write").text
    assert not midx_path(registry).exists()
    assert cli("multi-pack-index", "verify").text == "no multi-pack index\n"


def test_a_stale_or_damaged_index_is_not_used_and_is_reported(cli, registry) -> None:
    ids = blobs_in_packs(registry, MIDX_AFTER)
    cli("multi-pack-index", "write")
    path = midx_path(registry)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-40] ^= 0xFF  # a pack number: only the checksum tells
    path.write_bytes(bytes(data))
    store = pacha.open_registry(cli.registry).objects
    assert store.packs.uncovered == MIDX_AFTER  # damaged: every pack is searched
    assert all(store.has(i) for group in ids for i in group)
    result = cli("multi-pack-index", "verify", ok=False)
    assert result.code == 1 and "checksum does not match" in result.err
    fsck = cli("fsck", ok=False)
    assert "checksum does not match" in fsck.text + fsck.err
    cli("multi-pack-index", "write")
    cli("repack")  # one pack left: the index goes with the packs it named
    assert not midx_path(registry).exists()
    cli("fsck")


def test_an_index_naming_a_removed_pack_is_set_aside(cli, registry) -> None:
    ids = blobs_in_packs(registry, MIDX_AFTER)
    cli("multi-pack-index", "write")
    store = pacha.open_registry(cli.registry).objects
    gone = store.packs.packs[0]
    (store.packs.dir / f"{gone.name}.idx").unlink()  # as a repack does, before it rewrites the index
    moved = ids[next(i for i, group in enumerate(ids) if store.packs.find(group[0])[0] is gone)]
    store.forget_packs()
    assert store.packs.uncovered == MIDX_AFTER - 1
    assert all(store.packs.find(i) is None for i in moved)  # really gone, not misreported
    result = cli("multi-pack-index", "verify", ok=False)
    assert "names missing pack" in result.err


def test_an_index_that_lacks_an_id_is_reported_and_rewritten(cli, registry) -> None:
    """Lookups take the index's word for a miss (as Git's): fsck must catch one that is wrong."""

    class Lacking:  # a pack as build_midx sees it, without its first id
        def __init__(self, pack: Pack) -> None:
            self.pack_id, self.count = pack.pack_id, pack.count - 1
            self._ids = bytes(pack.id_column())[32:]

        def id_column(self) -> memoryview:
            return memoryview(self._ids)

    blobs_in_packs(registry, MIDX_AFTER)
    store = registry.objects
    store.packs.refresh(force=True)
    packs = list(store.packs.packs)
    midx_path(registry).write_bytes(build_midx([Lacking(packs[0]), *packs[1:]]))
    missing = packs[0].id_at(0)
    assert f"lacks {missing}" in cli("multi-pack-index", "verify", ok=False).err
    fsck = cli("fsck", ok=False)
    assert f"lacks {missing}" in fsck.text + fsck.err
    cli("multi-pack-index", "write")
    fresh = pacha.open_registry(cli.registry).objects
    assert fresh.packs.uncovered == 0
    assert len(fresh.read(missing)) == 100
    cli("fsck")


def test_registrations_write_the_index_once_enough_packs_are_outside_it(tmp_path: Path) -> None:
    from porcelain import Registry

    pacha.init_registry(tmp_path / "reg")
    reg = Registry.open(tmp_path / "reg")
    path = tmp_path / "reg" / "objects" / "pack" / MIDX_NAME
    seen = []
    for n in range(MIDX_AFTER + 1):
        (tmp_path / f"w{n}.bin").write_bytes(os.urandom(1000))
        reg.register_model("m", tmp_path / f"w{n}.bin", version=f"{n + 1}.0.0")
        seen.append(path.exists())
    assert seen.index(True) >= MIDX_AFTER - 1 and seen[-1]
    index = MultiPackIndex(path)
    assert len(index.pack_names) >= MIDX_AFTER
    index.close()
    for n in range(MIDX_AFTER + 1):
        reg.download("model", f"m:{n + 1}.0.0", tmp_path / f"out{n}.bin")
        assert (tmp_path / f"out{n}.bin").read_bytes() == (tmp_path / f"w{n}.bin").read_bytes()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.binary(min_size=2, max_size=2), min_size=1, max_size=30), min_size=2, max_size=7),
    st.integers(min_value=1, max_value=6),
)
def test_an_index_extended_by_new_packs_is_the_one_built_over_all_of_them(
    tmp_path_factory, groups: list[list[bytes]], split: int
) -> None:
    """extend_midx (a pull or registration adding packs) gives byte for byte what build_midx
    over every pack gives: ids shared with covered packs keep their pack, new ones are
    merged in place. Ids are drawn from 2-byte prefixes so that packs share many of them."""
    root = tmp_path_factory.mktemp("extend")
    packs = []
    for group in groups:
        writer = PackWriter(root / "pack", root / "tmp")
        for raw in group:
            writer.add((raw * 16).hex(), b"x")
        packs.append(Pack(writer.finish()))
    names = [p.name for p in packs]
    if len(set(names)) != len(names):  # two equal groups are one pack: not two packs to cover
        return
    split = min(split, len(packs) - 1)
    (root / "old").write_bytes(build_midx(packs[:split]))
    old = MultiPackIndex(root / "old")
    assert midx_module.extend_midx(old, packs[split:]) == build_midx(packs)
    old.close()
    for pack in packs:
        pack.close()
