"""Folders stored as trees: on threads for a few files, in worker processes for many."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from pacha import trees
from pacha.codec import DELTA, IDENTITY, ZSTD
from pacha.errors import InvalidInput
from pacha.objects import decode_tree
from pacha.store.ingest import CompressionProbe


@pytest.fixture(params=["threads", "processes"])
def mode(request, monkeypatch) -> str:
    """Store small files on threads, or (past zero files) in worker processes."""
    if request.param == "processes":
        monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
    return request.param


def packs(registry) -> list[Path]:
    return sorted((registry.root / "objects" / "pack").glob("*.pack"))


def make_folder(root: Path, files: int = 300) -> Path:
    rng = random.Random(1)
    folder = root / "set"
    for i in range(files):
        sub = folder / f"part-{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 2:
            (sub / f"{i:04d}.txt").write_text("".join(f"{rng.random():.5f}\n" for _ in range(200)))
        else:
            (sub / f"{i:04d}.bin").write_bytes(rng.randbytes(rng.randint(0, 3000)))
    (folder / "empty").mkdir()
    (folder / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(folder / "run.sh", 0o755)
    (folder / "large.bin").write_bytes(rng.randbytes(trees.SMALL_FILE + 10))
    return folder


def snapshot(folder: Path) -> dict[str, tuple[bytes, bool]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), os.access(p, os.X_OK))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_folder_round_trips_with_the_id_hashing_alone_gives(registry, tmp_path: Path, mode: str) -> None:
    folder = make_folder(tmp_path)
    tree_id = trees.write_tree(registry.objects, folder)
    assert tree_id == trees.write_tree(None, folder)  # same tree whoever stored the files
    assert len(packs(registry)) == (3 if mode == "processes" else 1)  # each worker packs its own
    trees.checkout(registry.objects, tree_id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(folder)
    assert (tmp_path / "out" / "empty").is_dir()
    for object_id in registry.objects.iter_ids():
        registry.objects.open(object_id).verify()


def test_next_version_reuses_unchanged_files_and_deltas_changed_ones(
    registry, tmp_path: Path, mode: str
) -> None:
    folder = make_folder(tmp_path)
    first = trees.write_tree(registry.objects, folder)
    edited = folder / "part-1" / "0001.txt"
    edited.write_text(edited.read_text().replace("0.", "1.", 1))
    second, _ = trees.write_tree_sized(registry.objects, folder, base=first)

    def entry(tree_id: str, *path: str):
        for name in path:
            tree_id = next(
                e for e in decode_tree(registry.objects.read(tree_id)).entries if e.name == name
            ).id
        return tree_id

    assert entry(second, "part-0", "0000.bin") == entry(first, "part-0", "0000.bin")
    changed = entry(second, "part-1", "0001.txt")
    assert registry.objects.stat(changed).encoding == DELTA
    assert registry.objects.storage_links(changed) == [entry(first, "part-1", "0001.txt")]
    assert registry.objects.read(changed) == edited.read_bytes()


def test_a_file_gone_after_listing_fails_the_whole_folder_and_leaves_nothing(
    registry, tmp_path: Path, mode: str, monkeypatch
) -> None:
    folder = make_folder(tmp_path, files=50)
    victim = folder / "part-3" / "0003.txt"
    listing = trees._TreeWriter._list

    def list_then_remove(self, directory, base, *rest):
        items = listing(self, directory, base, *rest)
        if directory == victim.parent:
            victim.unlink()  # removed between listing and reading
        return items

    monkeypatch.setattr(trees._TreeWriter, "_list", list_then_remove)
    with pytest.raises(InvalidInput, match=r"0003\.txt"):
        trees.write_tree(registry.objects, folder)
    assert packs(registry) == []
    assert list(registry.objects.iter_ids()) == []
    assert list((registry.root / "tmp").iterdir()) == []  # the workers' temp packs are gone too


def test_many_files_go_to_worker_processes_by_default(registry, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(trees.PROCESS_AFTER + 300):
        (folder / f"{i}.txt").write_text(f"file {i}\n")
    tree_id = trees.write_tree(registry.objects, folder)
    assert len(packs(registry)) == 3
    trees.checkout(registry.objects, tree_id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(folder)


def test_compression_is_skipped_after_a_run_of_incompressible_files_until_one_compresses(
    registry, tmp_path: Path, mode: str
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = random.Random(2)
    count = CompressionProbe.MISSES + 2 * CompressionProbe.PROBE
    for i in range(count):  # sorted names: all the random files come first
        (folder / f"a{i:04d}.bin").write_bytes(rng.randbytes(2000))
    for i in range(count):
        (folder / f"b{i:04d}.txt").write_text(f"line {i} of a text file\n" * 100)
    tree_id = trees.write_tree(registry.objects, folder)
    entries = decode_tree(registry.objects.read(tree_id)).entries
    encodings = [registry.objects.stat(e.id).encoding for e in entries]
    random_files, text_files = encodings[:count], encodings[count:]
    assert set(random_files) == {IDENTITY}
    assert text_files.count(IDENTITY) <= CompressionProbe.PROBE  # until a probe compresses
    assert set(text_files[-CompressionProbe.PROBE :]) == {ZSTD}  # then every one is tried


def test_probe_tries_every_probe_th_object_after_a_run_of_misses() -> None:
    probe = CompressionProbe()
    for _ in range(CompressionProbe.MISSES):
        assert probe.worth_trying()
        probe.saw(1000, 999)  # saved under 10 %
    tried = [probe.worth_trying() for _ in range(2 * CompressionProbe.PROBE)]
    assert tried.count(True) == 2
    probe.saw(1000, 100)  # a probe that compressed well
    assert all(probe.worth_trying() for _ in range(10))


def test_threads_take_over_when_worker_processes_cannot_start(registry, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-python-here"))
    folder = make_folder(tmp_path, files=20)
    tree_id = trees.write_tree(registry.objects, folder)
    assert len(packs(registry)) == 1
    trees.checkout(registry.objects, tree_id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(folder)
