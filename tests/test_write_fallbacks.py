"""Optional optimisations (delta, compression, chunk deltas, mmap, worker processes) never
fail a write: each falls back to plain storage, and what is read back is what was written.
A real failure of the plain write (a full disk) is still an error."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacha import codec
from pacha.hashing import hash_bytes
from pacha.objects import decode_tree
from pacha.store import ingest
from pacha.store.encodings import ENCODINGS
from pacha.store.snapshot import hash_file
from pacha.trees import write_tree_sized

FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]  # too_slow: load, not a property

# Small contents (empty, under zstd's 8-byte minimum prefix, a little above) and a few larger.
tiny = st.binary(max_size=16)
contents = st.one_of(tiny, tiny, st.binary(min_size=17, max_size=600))
pairs = st.tuples(contents, contents)


def fresh_dir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}-{os.urandom(4).hex()}"
    path.mkdir()
    return path


# --- the inputs, through the CLI -----------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"), [(b"v1\n", b"v2\n"), (b"", b"v2\n"), (b"abcd", b"abce"), (b"x", b"")]
)
def test_a_new_version_of_a_tiny_file_registers_and_downloads(cli, tmp_path: Path, old, new) -> None:
    (tmp_path / "a.txt").write_bytes(old)
    (tmp_path / "b.txt").write_bytes(new)
    cli("model", "register", "tiny", "a.txt", "-v", "1.0.0")
    cli("model", "register", "tiny", "b.txt", "-v", "1.1.0")
    cli("model", "download", "tiny:1.1.0", "-o", "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == new
    cli("fsck")


@pytest.mark.parametrize("old", [b"", b"1", b"step", b"step 100\n"])
def test_a_folder_whose_tiny_file_changed_registers_and_downloads(cli, tmp_path: Path, old: bytes) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "weights.bin").write_bytes(os.urandom(3000))
    (run / "step.txt").write_bytes(old)
    cli("model", "register", "ckpt", "run", "-v", "1.0.0")
    (run / "step.txt").write_bytes(b"step 200\n" if old else b"")
    (run / "new.txt").write_bytes(b"1")
    cli("model", "register", "ckpt", "run", "-v", "1.0.1")
    cli("model", "download", "ckpt:1.0.1", "-o", "out")
    assert (tmp_path / "out" / "step.txt").read_bytes() == (run / "step.txt").read_bytes()
    assert (tmp_path / "out" / "new.txt").read_bytes() == b"1"
    cli("fsck")


# --- properties over (base, new) pairs ----------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE)
@given(pairs)
def test_file_with_a_delta_base_round_trips(registry, tmp_path: Path, pair: tuple[bytes, bytes]) -> None:
    base, new = pair
    store = registry.objects
    work = fresh_dir(tmp_path, "file")
    (work / "base").write_bytes(base)
    (work / "new").write_bytes(new)
    base_id = store.put_file(work / "base")
    new_id = store.put_file(work / "new", base=base_id)
    assert new_id == hash_bytes(new)
    assert store.read(new_id) == new
    assert store.read(base_id) == base
    # the in-memory path (folder entries, put_prepared with a base) too
    assert store.put_prepared(store.prepare(new), base_id) == new_id
    assert store.read(new_id) == new


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE)
@given(st.lists(pairs, min_size=1, max_size=4))
def test_folder_entries_with_a_base_tree_round_trip(registry, tmp_path: Path, files) -> None:
    store = registry.objects
    old_dir, new_dir = fresh_dir(tmp_path, "old"), fresh_dir(tmp_path, "new")
    for i, (base, new) in enumerate(files):
        (old_dir / f"f{i}").write_bytes(base)
        (new_dir / f"f{i}").write_bytes(new)
    (old_dir / "sub").mkdir()
    (old_dir / "sub" / "s").write_bytes(files[0][0])
    (new_dir / "sub").mkdir()
    (new_dir / "sub" / "s").write_bytes(files[0][1])
    base_tree, _ = write_tree_sized(store, old_dir)
    new_tree, _ = write_tree_sized(store, new_dir, base=base_tree)
    entries = {e.name: e for e in decode_tree(store.read(new_tree)).entries}
    for i, (_base, new) in enumerate(files):
        assert store.read(entries[f"f{i}"].id) == new
    sub = decode_tree(store.read(entries["sub"].id)).entries
    assert store.read(sub[0].id) == files[0][1]


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE)
@given(st.lists(st.tuples(tiny, tiny), min_size=1, max_size=6))
def test_chunks_with_tiny_base_chunks_round_trip(registry, tmp_path: Path, monkeypatch, chunks) -> None:
    """Chunk deltas: a base blob cut into tiny chunks (a chunk list is readable whatever its
    chunk sizes), and a new blob of the same size, which is cut where the base was."""
    monkeypatch.setattr(ingest, "CHUNK_THRESHOLD", 0)  # every non-empty file is chunked
    monkeypatch.setattr(ingest, "_settled", lambda info: True)  # read in place: cut as the base
    store = registry.objects
    old = [a for a, _b in chunks]
    new = [(b + a)[: len(a)] if a else b"" for a, b in chunks]  # same sizes, other bytes
    old_parts = [p for p in old if p]
    if not old_parts:
        return
    with store.batch() as batch:
        refs = []
        for part in old_parts:
            batch.add(hash_bytes(part), codec.pack_header("blob", len(part), codec.IDENTITY), part)
            refs.append((hash_bytes(part), len(part)))
        from pacha.store.chunked import ChunkRef, encode_chunk_list

        whole = b"".join(old_parts)
        base_id = hash_bytes(whole)
        body = encode_chunk_list([ChunkRef(i, n) for i, n in refs])
        batch.add(base_id, codec.pack_header("blob", len(whole), codec.CHUNKS), body)
    assert store.read(base_id) == whole
    work = fresh_dir(tmp_path, "chunks")
    data = b"".join(new)
    (work / "new").write_bytes(data)
    new_id = store.put_file(work / "new", base=base_id)
    assert new_id == hash_bytes(data)
    assert store.read(new_id) == data


# --- each optimisation failing on its own -------------------------------------------------


def test_a_compressor_error_stores_the_bytes_plainly(registry, tmp_path: Path, monkeypatch) -> None:
    import zstandard

    class Broken:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def compress(self, data):
            raise zstandard.ZstdError("cannot allocate compression context")

    monkeypatch.setattr(zstandard, "ZstdCompressor", Broken)
    monkeypatch.setattr(ENCODINGS[codec.ZSTD], "_local", type(ENCODINGS[codec.ZSTD]._local)())
    store = registry.objects
    small = b"compressible " * 500
    big = b"a large compressible tree " * 800_000  # larger than a block: the loose pipeline
    (tmp_path / "small").write_bytes(small)
    assert store.read(store.put_file(tmp_path / "small")) == small
    with store.writer("blob") as writer:
        writer.write(big)
        big_id = writer.commit()
    assert store.read(big_id) == big
    record = b'{"note":"' + b"x" * (9 << 20) + b'","type":"r"}'
    with store.writer("record") as writer:  # a large non-blob: zstd frames in a loose file
        writer.write(record)
        record_id = writer.commit()
    assert store.read(record_id) == record


def test_a_delta_library_error_stores_the_object_whole(registry, tmp_path: Path, monkeypatch) -> None:
    import pyzstd

    def broken(*args, **kwargs):
        raise pyzstd.ZstdError("out of memory")

    monkeypatch.setattr(pyzstd, "compress", broken)
    store = registry.objects
    base = b"version one of a config file\n" * 40
    new = base.replace(b"one", b"two", 1)
    base_id = store.put_bytes(base)
    new_id = store.put_prepared(store.prepare(new), base_id)
    assert store.read(new_id) == new
    assert store.stat(new_id).encoding != codec.DELTA


def test_a_damaged_base_only_costs_the_delta(registry, tmp_path: Path) -> None:
    store = registry.objects
    base = b"the earlier version " * 50
    base_id = store.put_bytes(base)
    path = registry.root / "objects" / base_id[:2] / base_id[2:]
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))
    new = base + b"and more"
    (tmp_path / "new").write_bytes(new)
    new_id = store.put_file(tmp_path / "new", base=base_id)
    assert store.read(new_id) == new
    # a damaged base tree only costs the deltas of a folder
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "f").write_bytes(new)
    tree_id, _ = write_tree_sized(store, folder, base=base_id)
    assert store.read(decode_tree(store.read(tree_id)).entries[0].id) == new


def test_mmap_refused_reads_the_file_instead(registry, tmp_path: Path, monkeypatch) -> None:
    from pacha import blocks

    def refuse(self, fileobj) -> None:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(blocks.MappedFile, "__init__", refuse)
    monkeypatch.setattr(ingest, "_settled", lambda info: True)
    data = os.urandom((8 << 20) + 12345)
    (tmp_path / "big").write_bytes(data)
    store = registry.objects
    blob_id = store.put_file(tmp_path / "big")
    assert blob_id == hash_bytes(data) == hash_file(str(tmp_path / "big"))
    with store.open(blob_id) as reader:
        reader.verify()
    record = b'{"note":"' + os.urandom(5 << 20).hex().encode() + b'","type":"r"}'
    (tmp_path / "record").write_bytes(record)
    record_id = store.put_file(tmp_path / "record", kind="record")
    assert store.read(record_id) == record


def _many_files(root: Path, count: int) -> dict[str, bytes]:
    files = {f"f{i:04d}": (b"%d" % i) * (i % 7) for i in range(count)}
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


@pytest.mark.parametrize("fail_at", [1, 3, "commit"])
def test_failing_worker_processes_fall_back_to_this_process(
    registry, tmp_path: Path, monkeypatch, fail_at
) -> None:
    from pacha import trees
    from pacha.errors import PachaError
    from pacha.store import workers

    monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
    monkeypatch.setattr(trees, "GROUP", 40)
    real = workers.Workers._receive
    calls = {"n": 0}

    def flaky(self, worker):
        answer = real(self, worker)
        calls["n"] += 1
        if fail_at != "commit" and calls["n"] == 2 + fail_at:  # after the two "ready"s
            raise PachaError("a worker process failed: MemoryError")
        if fail_at == "commit" and answer is None:
            raise PachaError("a worker process stopped unexpectedly")
        return answer

    monkeypatch.setattr(workers.Workers, "_receive", flaky)
    folder = tmp_path / "many"
    folder.mkdir()
    files = _many_files(folder, 300)
    store = registry.objects
    tree_id, size = write_tree_sized(store, folder)
    assert tree_id == trees.write_tree(None, folder)
    assert size == sum(len(d) for d in files.values())
    for entry in decode_tree(store.read(tree_id)).entries:
        assert store.read(entry.id) == files[entry.name]


# --- a real failure of the plain write is not hidden ---------------------------------------


def test_a_full_disk_is_still_an_error_when_the_delta_fell_back(
    registry, tmp_path: Path, monkeypatch
) -> None:
    from pacha.store.pack_writer import PackWriter

    store = registry.objects
    base_id = store.put_bytes(b"v1\n")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PackWriter, "add", full)
    with pytest.raises(OSError) as raised:
        store.put_prepared(store.prepare(b"v2\n"), base_id)
    assert raised.value.errno == errno.ENOSPC


def test_a_full_disk_is_still_an_error_when_workers_fell_back(registry, tmp_path: Path, monkeypatch) -> None:
    from pacha import trees
    from pacha.errors import InvalidInput, PachaError
    from pacha.store import workers
    from pacha.store.pack_writer import PackWriter

    monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
    real = workers.Workers._receive
    calls = {"n": 0}

    def failing(self, worker):
        answer = real(self, worker)
        calls["n"] += 1
        if calls["n"] > 2:
            raise PachaError("a worker process failed: OSError: [Errno 28] No space left on device")
        return answer

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(workers.Workers, "_receive", failing)
    monkeypatch.setattr(PackWriter, "add", full)
    folder = tmp_path / "many"
    folder.mkdir()
    _many_files(folder, 50)
    with pytest.raises((OSError, InvalidInput)) as raised:
        write_tree_sized(registry.objects, folder)
    assert "No space left" in str(raised.value)


def test_worker_processes_store_tiny_changed_files_against_a_base(
    registry, tmp_path: Path, monkeypatch
) -> None:
    """Folder entries stored by worker processes, each against its tiny earlier version."""
    from pacha import trees

    monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
    store = registry.objects
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    old = {f"f{i:03d}": bytes([i % 256]) * (i % 17) for i in range(200)}
    new = {name: data[::-1] + b"!" if i % 3 else b"" for i, (name, data) in enumerate(old.items())}
    for name in old:
        (old_dir / name).write_bytes(old[name])
        (new_dir / name).write_bytes(new[name])
    base, _ = write_tree_sized(store, old_dir)
    tree, _ = write_tree_sized(store, new_dir, base=base)
    for entry in decode_tree(store.read(tree)).entries:
        assert store.read(entry.id) == new[entry.name]
