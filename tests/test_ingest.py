"""The ingest pipeline: large objects, encoding choice, piecewise writes, bounded memory."""

from __future__ import annotations

import os
import random
from pathlib import Path

import blake3
import pytest

from pacha.blocks import BLOCK
from pacha.codec import CHUNKS, IDENTITY, ZSTD

PARTS = [1, 1000, BLOCK - 1, BLOCK, 3 * BLOCK + 17]


def compressible(size: int) -> bytes:
    rng = random.Random(size)
    words = [rng.randbytes(8).hex().encode() for _ in range(64)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b","
    return bytes(out[:size])


def encoding_of(registry, object_id: str) -> int:
    return registry.objects.stat(object_id).encoding


def store_disk_size(registry) -> int:
    return sum(p.stat().st_size for p in (registry.root / "objects").rglob("*") if p.is_file())


def chunk_encodings(registry, object_id: str) -> set[int]:
    return {encoding_of(registry, c.id) for c in registry.objects.chunk_list(object_id)}


@pytest.mark.parametrize("size", [3 * BLOCK + 12345, BLOCK + 1])
def test_large_compressible_file_is_chunked_zstd_and_round_trips(registry, tmp_path: Path, size: int) -> None:
    data = compressible(size)
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    object_id = registry.objects.put_file(path)
    assert object_id == blake3.blake3(data).hexdigest()
    assert encoding_of(registry, object_id) == CHUNKS
    assert chunk_encodings(registry, object_id) == {ZSTD}
    assert store_disk_size(registry) < size // 2
    assert registry.objects.read(object_id) == data


def test_medium_compressible_file_is_one_zstd_object(registry, tmp_path: Path) -> None:
    data = compressible(BLOCK - 10)
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    object_id = registry.objects.put_file(path)
    assert encoding_of(registry, object_id) == ZSTD
    assert registry.objects.read(object_id) == data


def test_incompressible_file_is_stored_as_is(registry, tmp_path: Path) -> None:
    data = os.urandom(2 * BLOCK + 5)
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    object_id = registry.objects.put_file(path)
    assert encoding_of(registry, object_id) == CHUNKS
    assert chunk_encodings(registry, object_id) == {IDENTITY}
    assert registry.objects.read(object_id) == data


def test_small_incompressible_object_is_stored_as_is(registry) -> None:
    object_id = registry.objects.put_bytes(os.urandom(100))
    assert encoding_of(registry, object_id) == IDENTITY
    assert encoding_of(registry, registry.objects.put_bytes(b"a" * 1000)) == ZSTD


def test_stream_and_file_paths_store_the_same_object(registry, tmp_path: Path) -> None:
    data = compressible(2 * BLOCK + 99)
    path = tmp_path / "x"
    path.write_bytes(data)
    with open(path, "rb") as f:
        from_stream = registry.objects.put_stream(f)
    stored = set(registry.objects.iter_ids())
    assert from_stream == registry.objects.put_file(path)
    assert set(registry.objects.iter_ids()) == stored  # the same chunks: nothing new
    assert len(stored) == len(registry.objects.chunk_list(from_stream)) + 1


def test_writer_accepts_pieces_of_any_size(registry) -> None:
    data = compressible(2 * BLOCK + 1000)
    rng = random.Random(5)
    with registry.objects.writer("blob") as writer:
        pos = 0
        while pos < len(data):
            step = rng.choice(PARTS)
            writer.write(data[pos : pos + step])
            pos += step
        object_id = writer.commit()
    assert object_id == blake3.blake3(data).hexdigest()
    assert registry.objects.read(object_id) == data


def test_a_pipe_is_read_as_a_stream(cli, tmp_path: Path) -> None:
    """A pipe passed on purpose (`<(cmd)`, /dev/fd/N) is read to its end; a named FIFO on disk,
    which may never get a writer, is refused (tests/test_usage_and_sources.py)."""
    import shlex
    import subprocess

    from tests.conftest import PACHA

    data = os.urandom(BLOCK + 3)
    (tmp_path / "data").write_bytes(data)
    command = " ".join(map(shlex.quote, [*PACHA, "hash-object", "-w"]))
    command += f" <(cat {shlex.quote(str(tmp_path / 'data'))})"
    proc = subprocess.run(["bash", "-c", command], capture_output=True, env=cli.env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode().strip()
    assert out == blake3.blake3(data).hexdigest()
    assert cli("cat-object", "blob", out).out == data


def test_failed_read_leaves_nothing(registry) -> None:
    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError(5, "Input/output error")
            return os.urandom(n)

    with pytest.raises(OSError):
        registry.objects.put_stream(Broken())
    assert list(registry.objects.iter_ids()) == []
    assert list((registry.root / "tmp").iterdir()) == []
