"""Storing and reading objects: round trips, dedup, verification, atomic writes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pacha
from pacha.hashing import hash_bytes

FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]  # too_slow: load, not a property


def object_path(registry: Path, object_id: str) -> Path:
    return registry / "objects" / object_id[:2] / object_id[2:]


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE)
@given(st.binary(max_size=1 << 15))
def test_api_round_trip(registry, data: bytes) -> None:
    object_id = registry.objects.put_bytes(data)
    assert object_id == hash_bytes(data)
    assert registry.objects.read(object_id) == data
    info = registry.objects.stat(object_id)
    assert (info.kind, info.size) == ("blob", len(data))


@pytest.mark.parametrize("size", [0, 1, 4096, (8 << 20) + 1])
def test_cli_round_trip(cli, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    object_id = cli("hash-object", "-w", path).text.strip()
    assert cli("cat-object", "blob", object_id).out == data
    assert cli("cat-object", "-s", object_id).text.strip() == str(size)
    assert cli("cat-object", "-t", object_id[:8]).text.strip() == "blob"


def test_same_content_is_stored_once(cli, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"same bytes" * 1000)
    b.write_bytes(b"same bytes" * 1000)
    first = cli("hash-object", "-w", a).text
    second = cli("hash-object", "-w", b, "--stdin", input=b"same bytes" * 1000).lines
    assert second == [first.strip(), first.strip()]
    files = [p for p in (cli.registry / "objects").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert cli("count-objects").text.startswith("1 objects")


def test_objects_are_compressed_and_read_only(cli, tmp_path: Path) -> None:
    path = tmp_path / "text"
    path.write_bytes(b"highly compressible line\n" * 10000)
    object_id = cli("hash-object", "-w", path).text.strip()
    stored = object_path(cli.registry, object_id)
    assert stored.stat().st_size < 2000
    assert stored.read_bytes()[:4] == b"PCHO"
    assert not stored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def flip_byte(path: Path, offset: int) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["body", "size-field", "truncate"])
def test_corruption_is_detected_by_read_fsck_and_verify(cli, tmp_path: Path, where: str) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(50000))
    object_id = cli("hash-object", "-w", source).text.strip()
    cli("write-ref", "models/m/1.0.0", object_id)
    stored = object_path(cli.registry, object_id)
    if where == "body":
        flip_byte(stored, stored.stat().st_size - 100)
    elif where == "size-field":
        flip_byte(stored, 7 + len("blob"))
    else:
        os.chmod(stored, 0o644)
        stored.write_bytes(stored.read_bytes()[:-10])
    read = cli.fails("cat-object", "blob", object_id, code=1)
    assert object_id in read.err and "corrupt" in read.err
    assert len(read.err.strip().splitlines()) == 1
    check = cli.fails("fsck", code=1)
    assert object_id in check.text and "corrupt" in check.text
    cli.fails("verify-object", "models/m/1.0.0", code=1)
    batch = cli("cat-object", "--batch", input=object_id + "\n", ok=False)
    assert batch.code == 1 and batch.out == f"{object_id} corrupt\n".encode()


def test_corrupt_object_in_a_tree_is_found_and_named(cli, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "weights").write_bytes(os.urandom(1000))
    blob = cli("hash-object", "-w", folder / "weights").text.strip()  # loose; write-tree reuses it
    tree = cli("write-tree", folder).text.strip()
    cli("write-ref", "models/m/1.0.0", tree)  # reachable: a missing link is damage (unreachable: a note)
    os.chmod(object_path(cli.registry, blob), 0o644)
    object_path(cli.registry, blob).unlink()
    check = cli.fails("fsck", code=1)
    assert f"missing object {blob}" in check.text and tree in check.text


def test_api_reader_raises_on_mismatch(registry) -> None:
    object_id = registry.objects.put_bytes(b"x" * 100000)
    flip_byte(registry.root / "objects" / object_id[:2] / object_id[2:], 20)
    with pytest.raises(pacha.CorruptObject, match=object_id):
        registry.objects.read(object_id)


def test_interrupted_write_leaves_no_object(cli, tmp_path: Path) -> None:
    """Kill -9 a writer in the middle of a large object: nothing becomes visible."""
    proc = subprocess.Popen(
        [*cli_cmd(), "hash-object", "-w", "--stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.env,
    )
    assert proc.stdin is not None
    for _ in range(24):
        proc.stdin.write(os.urandom(1 << 20))
    proc.stdin.flush()
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert cli("count-objects").text.startswith("0 objects")
    verbose = dict(line.split(": ") for line in cli("count-objects", "-v").lines)
    assert int(verbose["tmp"]) == 1  # the partial write is only a temp file
    cli("fsck")


def test_writer_abort_leaves_nothing(registry) -> None:
    with registry.objects.writer("blob") as writer:
        writer.write(b"partial")
        # leaving without commit() aborts
    assert list(registry.objects.iter_ids()) == []
    assert list((registry.root / "tmp").iterdir()) == []


def cli_cmd() -> list[str]:
    from tests.conftest import PACHA

    return PACHA


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("data", [os.urandom(5000), b"compressible text\n" * 500])
def test_reading_a_damaged_small_object_whole_names_it(registry, packed: bool, data: bytes) -> None:
    from pacha.errors import CorruptObject
    from tests.conftest import damage_object

    if packed:
        with registry.objects.batch():
            object_id = registry.objects.put_bytes(data)
    else:
        object_id = registry.objects.put_bytes(data)
    assert registry.objects.read(object_id) == data
    damage_object(registry.root, object_id, from_end=3)
    registry.objects.forget_packs()
    with pytest.raises(CorruptObject, match=f"object {object_id} is corrupt"):
        registry.objects.read(object_id)


def test_a_body_of_several_zstd_frames_reads_back_whole(registry) -> None:
    import zstandard

    from pacha import codec

    data = b"first frame " * 300 + b"second frame " * 300
    compressor = zstandard.ZstdCompressor()
    body = compressor.compress(data[:3600]) + compressor.compress(data[3600:])  # as another writer may
    object_id = hash_bytes(data)
    registry.objects.loose.write_stored(object_id, codec.pack_header("blob", len(data), codec.ZSTD), body)
    assert registry.objects.read(object_id) == data


def test_writeback_file_writes_every_byte_and_starts_writeback_as_it_goes(tmp_path, monkeypatch) -> None:
    from pacha.store import tmpfile

    monkeypatch.setattr(tmpfile, "WRITEBACK_EVERY", 1 << 20)
    data = os.urandom(5 * (1 << 20) + 123)
    with open(tmp_path / "out", "wb", buffering=0) as out:
        wrapped = tmpfile.WritebackFile(out)
        for offset in range(0, len(data), 300_000):
            wrapped.write(data[offset : offset + 300_000])
    assert (tmp_path / "out").read_bytes() == data
    assert wrapped.written == len(data)
    if tmpfile._sync_file_range() is not None:  # Linux: writeback started for all but the tail
        assert len(data) - (1 << 20) < wrapped._started <= len(data)
    else:
        assert wrapped._started == 0


def test_copy_to_writes_everything_to_a_file_that_takes_a_little_at_a_time(tmp_path) -> None:
    import io

    import pacha as p

    class Trickle(io.RawIOBase):  # as an unbuffered file may: fewer bytes than asked
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            taken = bytes(b[:1000])
            self.data += taken
            return len(taken)

    p.init_registry(tmp_path / "reg")
    reg = p.open_registry(tmp_path / "reg")
    data = os.urandom(3 * (1 << 20) + 5)
    (tmp_path / "big").write_bytes(data)
    object_id = reg.objects.put_file(tmp_path / "big")
    out = Trickle()
    with reg.objects.open(object_id) as reader:
        assert reader.copy_to(out) == len(data)
    assert bytes(out.data) == data
