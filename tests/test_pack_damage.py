"""A damaged pack, pack index or multi-pack index costs only itself (issue 12.3).

Readers check each index cheaply when opening it and set a damaged one aside with
one warning naming the file; what other packs and loose objects hold is still
served; fsck reports the damage (never crashes) and names `pacha index-pack`, which
rebuilds an index byte for byte from its pack.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pacha
from pacha.refs.store import close_all
from pacha.store.midx import MIDX_AFTER, MIDX_NAME

# --- helpers ---------------------------------------------------------------------


def _writable(path: Path) -> None:
    os.chmod(path, 0o644)


def truncate(path: Path, size: int) -> None:
    _writable(path)
    os.truncate(path, size)


def flip(path: Path, offset: int, mask: int = 0xFF) -> None:
    _writable(path)
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def packs_of(root: Path) -> list[Path]:
    return sorted((root / "objects" / "pack").glob("*.idx"))


def two_versions(cli, tmp_path: Path) -> tuple[Path, Path, str]:
    """A model in two packs (two versions) and one loose blob; returns the two index
    files (version 1's, version 2's) and the loose blob's id."""
    for version, seed in (("1.0.0", 1), ("2.0.0", 2)):
        folder = tmp_path / f"m{seed}"
        folder.mkdir()
        for i in range(5):
            (folder / f"f{i}.txt").write_text(f"version {seed} file {i}\n" * (50 + i))
        before = set(packs_of(cli.registry))
        cli("model", "register", "m", folder, "-v", version)
        (new,) = set(packs_of(cli.registry)) - before
        if seed == 1:
            first = new
    loose_file = tmp_path / "loose.bin"
    loose_file.write_bytes(b"a loose object " * 100)
    loose = cli("hash-object", "-w", loose_file).text.strip()
    return first, new, loose


def download_ok(cli, version: str, out: Path, expected_seed: int) -> None:
    cli("model", "download", f"m:{version}", "-o", out)
    assert (out / "f0.txt").read_text() == f"version {expected_seed} file 0\n" * 50


# --- the inputs, through the CLI -------------------------------------------


@pytest.mark.parametrize(
    "damage",
    ["zero-length", "truncated", "fan-out flipped", "ids flipped", "pack truncated", "pack missing"],
)
def test_one_damaged_pack_costs_only_itself(cli, tmp_path: Path, damage: str) -> None:
    first, _second, loose = two_versions(cli, tmp_path)
    if damage == "zero-length":
        truncate(first, 0)
    elif damage == "truncated":
        truncate(first, first.stat().st_size - 100)
    elif damage == "fan-out flipped":
        flip(first, 8 + 4 * 200 + 3)  # a high byte of fan-out entry 200
    elif damage == "ids flipped":
        flip(first, 8 + 1024 + 5)
    elif damage == "pack truncated":
        truncate(first.with_suffix(".pack"), first.with_suffix(".pack").stat().st_size - 10)
    else:
        os.unlink(first.with_suffix(".pack"))

    # Everything not in the damaged pack is served, with one warning naming the file.
    assert cli("cat-object", "-p", loose).out == b"a loose object " * 100
    result = cli("model", "download", "m:2.0.0", "-o", tmp_path / "out2")  # reads many objects
    assert (tmp_path / "out2" / "f0.txt").read_text() == "version 2 file 0\n" * 50
    warnings = [line for line in result.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and first.name.removesuffix(".idx") in warnings[0], result.err
    assert "Traceback" not in result.err
    counted = cli("count-objects", "-v").text
    assert "damaged-packs: 1" in counted
    # Version 1 (only in the damaged pack) fails with one line, not a traceback.
    failed = cli("model", "download", "m:1.0.0", "-o", tmp_path / "out1", ok=False)
    assert failed.code != 0 and len(failed.err.strip().splitlines()) <= 2, failed.err
    # fsck reports it (exit 1), never crashes, and says what restores it.
    check = cli("fsck", ok=False)
    assert check.code == 1, check.err
    assert first.name.removesuffix(".idx") in check.text
    if damage in ("zero-length", "truncated", "fan-out flipped", "ids flipped"):
        assert f"pacha index-pack {first.with_suffix('.pack')}" in check.text
        assert cli("index-pack", first.with_suffix(".pack")).text.strip() == str(first)
        cli("fsck")
        download_ok(cli, "1.0.0", tmp_path / "out1", 1)


def test_damaged_multi_pack_index_is_set_aside(cli, tmp_path: Path) -> None:
    reg = pacha.open_registry(cli.registry)
    ids = []
    for i in range(MIDX_AFTER):
        with reg.objects.batch():
            ids.append(reg.objects.put_bytes(f"object {i} ".encode() * 20))
    cli("multi-pack-index", "write")
    midx = cli.registry / "objects" / "pack" / MIDX_NAME
    for damage in ("zero", "flip-count", "flip-fanout"):
        cli("multi-pack-index", "write")
        if damage == "zero":
            truncate(midx, 0)
        elif damage == "flip-count":
            flip(midx, 8 + 3)  # the pack count's high byte: would ask for gigabytes
        else:
            flip(midx, 12 + 32 * MIDX_AFTER + 4 * 100 + 2)
        result = cli("cat-object", "-p", ids[3])
        assert result.out.startswith(b"object 3 ")
        assert result.err.count("warning") == 1 and MIDX_NAME in result.err
        check = cli("fsck", ok=False)
        assert check.code == 1 and "multi-pack-index write" in check.text
    cli("multi-pack-index", "write")
    cli("fsck")


def test_index_pack_rebuilds_every_encoding(cli, tmp_path: Path) -> None:
    """Whole, zstd, delta and chunk-list entries: the rebuilt index is byte for byte the writer's."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "text.txt").write_text("".join(os.urandom(32).hex() + "\n" for _ in range(2000)))  # zstd
    (folder / "random.bin").write_bytes(os.urandom(3000))  # identity
    (folder / "big.bin").write_bytes(os.urandom(20 << 20))  # chunked
    cli("model", "register", "m", folder, "-v", "1.0.0")
    with open(folder / "text.txt", "a") as f:
        f.write("one more line\n")  # a delta against version 1
    (folder / "big.bin").write_bytes((folder / "big.bin").read_bytes()[: 19 << 20] + os.urandom(100))
    cli("model", "register", "m", folder, "-v", "1.1.0")
    cli("repack")
    stats = cli("count-objects", "-v").text
    assert "deltas: 0" not in stats and "chunked: 0" not in stats, stats
    (index,) = packs_of(cli.registry)
    original = index.read_bytes()
    truncate(index, 0)
    assert cli("index-pack", index.with_suffix(".pack")).text.strip() == str(index)
    assert index.read_bytes() == original
    os.unlink(index)  # no index at all
    cli("index-pack", index)  # a .idx path names its pack
    assert index.read_bytes() == original
    cli("fsck")
    assert cli.fails("index-pack", tmp_path / "nothing.pack", code=128).err.count("\n") == 1
    not_a_pack = tmp_path / "x.pack"
    not_a_pack.write_bytes(b"hello" * 100)
    assert "not a pacha pack" in cli.fails("index-pack", not_a_pack).err


# --- every region of every file, in process -----------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A registry with MIDX_AFTER packs (so a multi-pack index) and loose objects."""
    root = tmp_path_factory.mktemp("pristine") / "reg"
    reg, _ = pacha.init_registry(root)
    for i in range(MIDX_AFTER):
        with reg.objects.batch():
            for j in range(3):
                reg.objects.put_bytes(f"pack {i} object {j} ".encode() * (10 + j * 40))
    for j in range(3):
        reg.objects.put_bytes(f"loose object {j}".encode())
    from pacha.store.repack import rewrite_midx

    rewrite_midx(reg.objects)
    assert (root / "objects" / "pack" / MIDX_NAME).exists()
    return root


def _contents(root: Path) -> dict[str, bytes]:
    store = pacha.open_registry(root).objects
    try:
        return {i: store.read(i) for i in store.iter_ids()}
    finally:
        store.forget_packs()


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    which=st.sampled_from(["idx", "pack", "midx"]),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    mode=st.sampled_from(["truncate", "flip"]),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_damage_to_one_file_is_confined(
    pristine: Path, tmp_path_factory, which: str, position: float, mode: str, mask: int
) -> None:
    expected = _contents(pristine)
    root = tmp_path_factory.mktemp("damaged") / "reg"
    shutil.copytree(pristine, root)
    pack_dir = root / "objects" / "pack"
    first_idx = sorted(pack_dir.glob("*.idx"))[0]
    target = {"idx": first_idx, "pack": first_idx.with_suffix(".pack"), "midx": pack_dir / MIDX_NAME}[which]
    size = target.stat().st_size
    offset = int(position * size)
    if mode == "truncate":
        truncate(target, offset)
    else:
        flip(target, offset, mask)
    pristine_store = pacha.open_registry(pristine).objects
    in_damaged = set(pristine_store.packs.packs[0].iter_ids()) if which != "midx" else set()
    pristine_store.forget_packs()

    reg = pacha.open_registry(root)
    try:
        report = pacha.fsck(reg)  # never raises
        unreadable = set()
        for object_id, data in expected.items():
            try:
                assert reg.objects.read(object_id) == data  # never a wrong byte
            except pacha.PachaError:
                unreadable.add(object_id)
    finally:
        reg.objects.forget_packs()
        close_all()  # each LMDB environment reserves 1 TiB of address space
        shutil.rmtree(root)
    assert unreadable <= in_damaged  # only what the damaged file held is lost
    if which in ("idx", "midx") or unreadable:
        assert not report.ok  # checksummed indexes: any change is seen; lost objects are reported
    if which == "midx":
        assert not unreadable


def test_gc_removes_nothing_while_a_pack_is_set_aside(cli, tmp_path: Path) -> None:
    """A tree in a pack whose index is damaged could link to objects that look
    unreachable: gc must not guess, as they would be lost for ever."""
    from tests.conftest import snapshot

    first, _second, _loose = two_versions(cli, tmp_path)
    cli("delete-ref", "--expire", "models/m/2.0.0")  # something gc would remove
    truncate(first, 10)
    before = snapshot(cli.registry / "objects")
    failed = cli.fails("gc", "--prune", "now", code=1)
    assert "gc stopped before removing anything" in failed.err and first.name in failed.err
    assert snapshot(cli.registry / "objects") == before
    assert cli("verify-pack", ok=False).code == 1
    cli("index-pack", first.with_suffix(".pack"))
    cli("gc", "--prune", "now")
    cli("fsck")
    download_ok(cli, "1.0.0", tmp_path / "out1", 1)
