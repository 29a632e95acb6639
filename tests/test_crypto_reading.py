"""The read side of the encryption stage for chunked files: runs of sealed chunks are decrypted
from the pack file mapped in place, or read into a buffer where mmap is refused, with the same
bytes, the same verdict on a damaged chunk, and never a crash on a pack cut short under a
reader that had opened it."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest

import pacha
from pacha.errors import PachaError
from pacha.registry import Registry
from pacha.store import chunked
from tests.conftest import damage_object


def _reading(monkeypatch: pytest.MonkeyPatch, how: str) -> list[bool]:
    """Make sealed runs be read `how` ("mapped" or "read": as where mmap is refused); returns
    the list of whether each run was mapped, filled as runs are read."""
    mapped: list[bool] = []
    real = chunked._map_range

    def map_range(fd: int, start: int, size: int) -> object:
        found = real(fd, start, size) if how == "mapped" else None
        mapped.append(found is not None)
        return found

    monkeypatch.setattr(chunked, "_map_range", map_range)
    return mapped


def _store_file(registry: Registry, tmp_path: Path, size: int) -> tuple[str, bytes]:
    data = random.Random(size).randbytes(size)
    (tmp_path / "model.bin").write_bytes(data)
    return registry.objects.put_file(tmp_path / "model.bin"), data


def _read_through(registry: Registry, blob: str) -> bytes:
    """The blob as a download writes it: one pass, hashed behind (ObjectReader.copy_to)."""
    out = io.BytesIO()
    with pacha.open_registry(registry.root).objects.open(blob) as reader:
        reader.copy_to(out)
    return out.getvalue()


@pytest.mark.parametrize("how", ["mapped", "read"])
def test_sealed_runs_read_back_the_same_bytes_mapped_or_read(
    encrypted: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    blob, data = _store_file(encrypted, tmp_path, 21 << 20)  # chunked, three 8 MiB read blocks
    mapped = _reading(monkeypatch, how)
    assert _read_through(encrypted, blob) == data
    assert encrypted.objects.read(blob) == data
    assert mapped and all(m == (how == "mapped") for m in mapped)  # runs took that path


@pytest.mark.parametrize("how", ["mapped", "read"])
def test_a_damaged_chunk_in_a_sealed_run_is_named_mapped_or_read(
    encrypted: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    blob, _ = _store_file(encrypted, tmp_path, 12 << 20)
    chunk = (encrypted.objects.chunk_list(blob) or [])[5].id
    damage_object(encrypted.root, chunk)
    _reading(monkeypatch, how)
    with pytest.raises(PachaError) as failed:
        _read_through(encrypted, blob)
    assert chunk in str(failed.value) and "authentication" in str(failed.value)


def test_a_pack_cut_short_under_an_open_reader_is_an_error_not_a_crash(
    encrypted: Registry, tmp_path: Path
) -> None:
    # A mapped range past the end of a file kills the process (SIGBUS) when touched: a run
    # reaching past the pack's end must never be mapped.
    blob, _ = _store_file(encrypted, tmp_path, 12 << 20)
    store = pacha.open_registry(encrypted.root).objects
    with store.open(blob) as reader:  # the pack is opened and its trailer checked
        [pack_path] = (encrypted.root / "objects" / "pack").glob("*.pack")
        os.chmod(pack_path, 0o644)
        os.truncate(pack_path, pack_path.stat().st_size // 2)
        with pytest.raises(PachaError) as failed:
            reader.copy_to(io.BytesIO())
    assert "truncated" in str(failed.value) or "corrupt" in str(failed.value)
