"""A file whose times move while it is stored, its bytes unchanged, is stored; one whose bytes
change is refused, even with its modification time put back (pacha.store.snapshot).

Seen once: `pacha model register` of a 1 GiB file said it "changed while it was being stored"
though nothing had written it (a rerun passed). Times move without the bytes changing (chmod, a
hard link, an extended attribute or security label, a rename, `touch`, the same bytes saved
again), so such a file is read again while it holds still and kept if its bytes are those read.
Every case here changes the file once, at the moment the reader checks it after its last byte.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from blake3 import blake3

from pacha import trees
from pacha.blocks import BLOCK
from pacha.store import ingest, snapshot
from pacha.store.snapshot import FileChanged, identity

SIZES = [1, 100_000, BLOCK + 1]  # read whole, and chunked (above CHUNK_THRESHOLD)


def _content(size: int) -> bytes:
    return bytes((i * 7 + 3) % 251 for i in range(min(size, 4096))) * (size // 4096 + 1)


def _until_moved(path: Path, change: Callable[[Path], None]) -> None:
    """change(path), again until its identity moves (a change landing in the clock tick of the
    last one may leave the times as they were; the tests are about times that did move)."""
    before = identity(os.stat(path))
    deadline = time.monotonic() + 10
    while identity(os.stat(path)) == before:
        assert time.monotonic() < deadline, "the file's times never moved"
        change(path)
        time.sleep(0.005)


def _chmod(path: Path) -> None:
    os.chmod(path, 0o600 if path.stat().st_mode & 0o044 else 0o644)


def _link(path: Path) -> None:
    extra = path.with_name(path.name + f".{time.monotonic_ns()}.lnk")
    os.link(path, extra)
    extra.unlink()


def _xattr(path: Path) -> None:
    os.setxattr(path, "user.pacha-test", str(time.monotonic_ns()).encode())


def _touch(path: Path) -> None:
    os.utime(path)


def _same_bytes(path: Path) -> None:
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(first)


def _rename_and_back(path: Path) -> None:
    away = path.with_name(path.name + ".away")
    os.rename(path, away)
    os.rename(away, path)


BENIGN = {
    "chmod": _chmod,
    "hard-link": _link,
    "xattr": _xattr,
    "touch": _touch,
    "same-bytes": _same_bytes,
    "rename-and-back": _rename_and_back,
}


def _rewrite_keeping_mtime(path: Path) -> None:
    """Other bytes of the same size, its modification time put back (as rsync -t does)."""
    info = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(info.st_size // 2)
        byte = f.read(1)
        f.seek(info.st_size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def _once(module: object, change: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make module.check_unchanged change the file before its first check; the calls are counted."""
    real = snapshot.check_unchanged
    calls: list[int] = []

    def change_then_check(path, fd, before, read):  # type: ignore[no-untyped-def]
        if not calls:
            change()
        calls.append(read)
        return real(path, fd, before, read)

    monkeypatch.setattr(module, "check_unchanged", change_then_check)
    return calls


def _file(tmp_path: Path, size: int, settled: bool) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(_content(size)[:size])
    # settled: read through mmap; fresh: into private buffers (its times an hour ahead: a
    # loaded machine may take over 2 s between writing and reading it)
    when = time.time() + (-60 if settled else 3600)
    os.utime(path, (when, when))
    return path


@pytest.mark.parametrize("settled", [True, False], ids=["settled", "fresh"])
@pytest.mark.parametrize("store", [True, False], ids=["stored", "hashed"])
@pytest.mark.parametrize("how", BENIGN)
@pytest.mark.parametrize("size", SIZES)
def test_a_file_whose_times_alone_move_while_it_is_read_is_stored(
    registry, tmp_path: Path, monkeypatch, size: int, how: str, store: bool, settled: bool
) -> None:
    from porcelain.versions.artifacts import artifact_of

    path = _file(tmp_path, size, settled)
    calls = _once(ingest if store else snapshot, lambda: _until_moved(path, BENIGN[how]), monkeypatch)
    artifact, kind, stored_size = artifact_of(registry.objects if store else None, path)
    assert (artifact, kind, stored_size) == (blake3(path.read_bytes()).hexdigest(), "blob", size)
    assert calls[0] == size  # the change came after every byte was read
    if store:
        assert registry.objects.read(artifact) == path.read_bytes()


@pytest.mark.parametrize("store", [True, False], ids=["stored", "hashed"])
@pytest.mark.parametrize("size", SIZES)
def test_other_bytes_with_the_modification_time_put_back_are_refused(
    registry, tmp_path: Path, monkeypatch, size: int, store: bool
) -> None:
    from porcelain.versions.artifacts import artifact_of

    path = _file(tmp_path, size, settled=True)
    _once(ingest if store else snapshot, lambda: _until_moved(path, _rewrite_keeping_mtime), monkeypatch)
    with pytest.raises(FileChanged, match=r"it was written to while it was read: .* its bytes differ"):
        artifact_of(registry.objects if store else None, path)
    assert list(registry.objects.iter_ids()) == []


@pytest.mark.parametrize("workers", [False, True], ids=["threads", "processes"])
@pytest.mark.parametrize("how", ["chmod", "xattr", "same-bytes"])
def test_a_folder_file_whose_times_alone_move_is_stored(
    registry, tmp_path: Path, monkeypatch, how: str, workers: bool
) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for i in range(40):
        (folder / f"{i:03}.txt").write_text(f"file {i}\n")
    victim = folder / "017.txt"
    if workers:  # the worker processes read what was listed: the change lands after listing,
        # and is seen by the worker's check (listed != opened is refused: nothing read to compare)
        monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
        listing = trees._TreeWriter._list

        def list_then_change(self, directory, *rest):  # type: ignore[no-untyped-def]
            items = listing(self, directory, *rest)
            _until_moved(victim, BENIGN[how])
            return items

        monkeypatch.setattr(trees._TreeWriter, "_list", list_then_change)
        with pytest.raises(FileChanged, match=r"017\.txt changed .* after it was listed"):
            trees.write_tree(registry.objects, folder)
        return
    real = snapshot.check_unchanged
    seen: list[str] = []

    def change_then_check(path, fd, before, read):  # type: ignore[no-untyped-def]
        if str(path).endswith("017.txt") and not seen:
            seen.append(str(path))
            _until_moved(victim, BENIGN[how])
        return real(path, fd, before, read)

    monkeypatch.setattr(snapshot, "check_unchanged", change_then_check)
    tree = trees.write_tree(registry.objects, folder)
    assert seen
    entries = {e.name: e.id for e in trees.read_tree(registry.objects, tree).entries}
    assert entries["017.txt"] == blake3(b"file 17\n").hexdigest()


def test_a_file_that_keeps_changing_while_it_is_read_again_is_refused(
    registry, tmp_path: Path, monkeypatch
) -> None:
    from porcelain.versions.artifacts import artifact_of

    path = _file(tmp_path, BLOCK + 1, settled=True)
    real = snapshot.check_unchanged

    def touch_then_check(name, fd, before, read):  # type: ignore[no-untyped-def]
        _until_moved(path, _touch)  # every look, the second one too
        return real(name, fd, before, read)

    monkeypatch.setattr(ingest, "check_unchanged", touch_then_check)
    monkeypatch.setattr(snapshot, "check_unchanged", touch_then_check)
    with pytest.raises(FileChanged, match="it was still changing when it was read again"):
        artifact_of(registry.objects, path)
    assert list(registry.objects.iter_ids()) == []


def test_the_refusal_says_a_file_grew_while_it_was_read(registry, tmp_path: Path, monkeypatch) -> None:
    from porcelain.versions.artifacts import artifact_of

    path = _file(tmp_path, 100_000, settled=True)

    def append() -> None:
        with open(path, "ab") as f:
            f.write(b"more")

    _once(ingest, append, monkeypatch)
    with pytest.raises(FileChanged, match="it grew from 100,000 to 100,004 bytes while it was read"):
        artifact_of(registry.objects, path)


# --- registering: the card's facts must be of the bytes stored too ------------------------------


def _safetensors(path: Path) -> None:
    np = pytest.importorskip("numpy")
    from safetensors.numpy import save_file

    save_file({"w": np.arange(3 << 20, dtype=np.float32)}, str(path))  # 12 MiB: chunked


def test_register_stores_a_model_whose_times_move_after_it_was_stored(
    cli, tmp_path: Path, monkeypatch
) -> None:
    from porcelain import Registry
    from porcelain.versions import register

    path = tmp_path / "model.safetensors"
    _safetensors(path)
    real = register.artifact_of

    def store_then_chmod(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        _until_moved(path, _chmod)
        return out

    monkeypatch.setattr(register, "artifact_of", store_then_chmod)
    Registry.open(cli.registry).register_model("m", path, version="1.0.0")
    record = json.loads(cli("model", "get", "m:1.0.0", "--json").text)["record"]
    assert record["card"]["weights"]["dtypes"] == ["F32"]
    assert cli("hash-object", path).text.strip() == blake3(path.read_bytes()).hexdigest()
    assert cli("model", "download", "m:1.0.0", "-o", tmp_path / "out").code == 0
    assert (tmp_path / "out").read_bytes() == path.read_bytes()


def test_register_refuses_a_model_whose_facts_changed_before_its_bytes_were_read(
    cli, tmp_path: Path, monkeypatch
) -> None:
    """The header is rewritten (F32 -> I32, same size, modification time put back) after the card's
    facts were read and before the bytes were: the bytes stored are those of the file now, but
    the facts are not theirs."""
    from porcelain import Registry

    path = tmp_path / "model.safetensors"
    _safetensors(path)
    real = ingest.read_blocks
    done: list[bool] = []

    def rewrite_then_read(stream, *rest):  # type: ignore[no-untyped-def]
        if not done:
            done.append(True)
            info = os.stat(path)
            data = path.read_bytes()
            assert data.count(b'"F32"') == 1
            with open(path, "r+b") as f:
                f.seek(data.index(b'"F32"'))
                f.write(b'"I32"')
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        yield from real(stream, *rest)

    monkeypatch.setattr(ingest, "read_blocks", rewrite_then_read)
    monkeypatch.setattr(snapshot, "settled", lambda info: False)  # read through read_blocks
    monkeypatch.setattr(ingest, "_settled", lambda info: False)
    with pytest.raises(FileChanged, match=r"model\.safetensors changed while it was being stored"):
        Registry.open(cli.registry).register_model("m", path, version="1.0.0")
    assert done
    # no version (the bytes, stored before the facts were checked, are garbage for gc)
    assert cli("model", "list", "--json").text.strip() in ("[]", "")
