"""Recorded sizes, names and schemas are those of the bytes stored (issue 11 item 2).

A file that changes while it is read is refused at every size, whether it is stored or
only hashed, alone or in a folder (threads or worker processes); sizes in trees and
records are counts of the bytes read; a stream (`-` or a pipe) is registered with
--name, its size, schema and card facts from its bytes; fsck and verify cross-check
stated sizes against stored objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pacha import trees
from pacha.blocks import BLOCK
from pacha.store import ingest, snapshot
from pacha.store.snapshot import FileChanged
from tests.conftest import snapshot as registry_snapshot

SMALL = trees.SMALL_FILE
SIZES = [0, 1, 100, SMALL, SMALL + 1, BLOCK + 1]  # empty, tiny, thread path, loose, chunked
CHANGES = ["grow", "shrink", "in-place"]


def _content(size: int) -> bytes:
    return bytes((i * 7 + 3) % 251 for i in range(min(size, 4096))) * (size // 4096 + 1)


def _old(path: Path) -> None:
    """Make the file look settled: any later write moves its times."""
    past = time.time() - 60
    os.utime(path, (past, past))


def _fresh(path: Path) -> None:
    """Make the file look written a moment ago however long the test takes to read it (a
    machine under load can take over settled()'s 2 s between writing and reading)."""
    ahead = time.time() + 3600
    os.utime(path, (ahead, ahead))


def _change(path: Path, how: str) -> None:
    size = path.stat().st_size
    if how == "grow":
        with open(path, "ab") as f:
            f.write(b"+")
    elif how == "shrink":
        os.truncate(path, size - 1)
    else:  # the same size, other bytes
        with open(path, "r+b") as f:
            f.seek(size // 2)
            byte = f.read(1)
            f.seek(size // 2)
            f.write(bytes([byte[0] ^ 0xFF]))


def _cases() -> list[tuple[int, str]]:
    return [(size, how) for size in SIZES for how in CHANGES if size > 0 or how == "grow"]


def _folder(tmp_path: Path, size: int) -> tuple[Path, Path]:
    folder = tmp_path / "ckpt"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_bytes(b'{"layers": 2}\n')
    victim = folder / "sub" / "weights.bin"
    victim.write_bytes(_content(size)[:size])
    for path in (folder / "config.json", victim):
        _old(path)
    return folder, victim


def _nothing_stored(registry) -> None:  # type: ignore[no-untyped-def]
    assert list(registry.objects.iter_ids()) == []
    assert [p for p in (registry.root / "objects" / "pack").glob("*")] == []


@pytest.mark.parametrize("store", [True, False], ids=["stored", "hashed"])
@pytest.mark.parametrize(("size", "how"), _cases())
def test_a_folder_file_changing_between_listing_and_reading_is_refused(
    registry, tmp_path: Path, monkeypatch, size: int, how: str, store: bool
) -> None:
    folder, victim = _folder(tmp_path, size)
    listing = trees._TreeWriter._list

    def list_then_change(self, directory, *rest):  # type: ignore[no-untyped-def]
        items = listing(self, directory, *rest)
        if directory == victim.parent:
            _change(victim, how)
        return items

    monkeypatch.setattr(trees._TreeWriter, "_list", list_then_change)
    with pytest.raises(FileChanged, match=r"weights\.bin changed while it was being stored"):
        trees.write_tree(registry.objects if store else None, folder)
    _nothing_stored(registry)


@pytest.mark.parametrize(("size", "how"), _cases())
def test_a_folder_file_changing_while_it_is_read_is_refused(
    registry, tmp_path: Path, monkeypatch, size: int, how: str
) -> None:
    """The change lands after the bytes were read and before the file is checked."""
    folder, victim = _folder(tmp_path, size)
    real = snapshot.check_unchanged

    def change_then_check(path, fd, before, read):  # type: ignore[no-untyped-def]
        if str(path).endswith("weights.bin"):
            _change(victim, how)
        return real(path, fd, before, read)

    monkeypatch.setattr(snapshot, "check_unchanged", change_then_check)
    monkeypatch.setattr(ingest, "check_unchanged", change_then_check)
    with pytest.raises(FileChanged, match="changed while it was being stored"):
        trees.write_tree(registry.objects, folder)
    _nothing_stored(registry)


@pytest.mark.parametrize("how", CHANGES)
def test_worker_processes_refuse_a_file_that_changed_since_listing(
    registry, tmp_path: Path, monkeypatch, how: str
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"{i:03}.txt").write_text(f"file {i}\n")
        _old(folder / f"{i:03}.txt")
    victim = folder / "017.txt"
    monkeypatch.setattr(trees, "PROCESS_AFTER", 0)
    listing = trees._TreeWriter._list

    def list_then_change(self, directory, *rest):  # type: ignore[no-untyped-def]
        items = listing(self, directory, *rest)
        _change(victim, how)
        return items

    monkeypatch.setattr(trees._TreeWriter, "_list", list_then_change)
    with pytest.raises(FileChanged, match=r"017\.txt changed while it was being stored"):
        trees.write_tree(registry.objects, folder)
    _nothing_stored(registry)


@pytest.mark.parametrize(("size", "how"), _cases())
def test_a_single_file_changing_while_it_is_read_is_refused(
    registry, tmp_path: Path, monkeypatch, size: int, how: str
) -> None:
    from porcelain.versions.artifacts import artifact_of

    path = tmp_path / "model.bin"
    path.write_bytes(_content(size)[:size])
    _old(path)
    real = ingest.check_unchanged

    def change_then_check(name, fd, before, read):  # type: ignore[no-untyped-def]
        _change(path, how)
        return real(name, fd, before, read)

    monkeypatch.setattr(ingest, "check_unchanged", change_then_check)
    with pytest.raises(FileChanged, match="changed while it was being stored"):
        artifact_of(registry.objects, path)
    _nothing_stored(registry)


def test_a_file_replaced_by_rename_after_listing_is_refused(registry, tmp_path: Path, monkeypatch) -> None:
    folder, victim = _folder(tmp_path, 100)
    listing = trees._TreeWriter._list

    def list_then_replace(self, directory, *rest):  # type: ignore[no-untyped-def]
        items = listing(self, directory, *rest)
        if directory == victim.parent:
            other = victim.with_name("new")
            other.write_bytes(victim.read_bytes())  # same bytes, same size: another file
            os.utime(other, ns=(victim.stat().st_mtime_ns, victim.stat().st_mtime_ns))
            os.replace(other, victim)
        return items

    monkeypatch.setattr(trees._TreeWriter, "_list", list_then_replace)
    with pytest.raises(FileChanged):
        trees.write_tree(registry.objects, folder)


def _entries(registry, tree_id: str, prefix: str = "") -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    out = []
    for entry in trees.read_tree(registry.objects, tree_id).entries:
        if entry.mode == "040000":
            out += _entries(registry, entry.id, f"{prefix}{entry.name}/")
        else:
            out.append((prefix + entry.name, entry.id, entry.size))
    return out


def test_every_tree_entry_size_is_the_stored_size(registry, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for size in SIZES:
        (folder / f"{size}.bin").write_bytes(_content(size)[:size])
    tree_id, total = trees.write_tree_sized(registry.objects, folder)
    entries = _entries(registry, tree_id)
    assert {name: size for name, _, size in entries} == {f"{s}.bin": s for s in SIZES}
    for _name, blob_id, size in entries:
        assert registry.objects.stat(blob_id).size == size == len(registry.objects.read(blob_id))
    assert total == sum(SIZES)
    assert trees.write_tree(None, folder) == tree_id  # hashing alone names it the same


# --- through the CLI, with real concurrent writers ------------------------------------


def _writer(path: Path, mode: str) -> subprocess.Popen[bytes]:
    """A process that keeps writing path (appending, or rewriting in place) until killed."""
    code = (
        "import os, sys\n"
        "p = sys.argv[1]\n"
        "f = open(p, 'ab' if sys.argv[2] == 'append' else 'r+b', buffering=0)\n"
        "print('go', flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    if sys.argv[2] == 'append':\n"
        "        f.write(b'x' * 64)\n"
        "    else:\n"
        "        os.pwrite(f.fileno(), bytes([i % 256]) * 4096, (i * 4096) % (1 << 20))\n"
        "    i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), mode], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"go\n"
    return proc


@pytest.mark.parametrize("mode", ["append", "rewrite"])
@pytest.mark.parametrize("what", ["folder", "file"])
def test_cli_refuses_a_checkpoint_being_written(cli, tmp_path: Path, mode: str, what: str) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text("{}\n")
    ckpt = folder / "model.ckpt"
    # Rewriting in place keeps the size: only the times show it, which move once per clock
    # tick (up to 10 ms); a file that takes longer than that to read spans several.
    ckpt.write_bytes(os.urandom((48 if mode == "rewrite" else 3) << 20))
    before = registry_snapshot(cli.registry)
    writer = _writer(ckpt, mode)
    try:
        failed = cli.fails("model", "register", "m", folder if what == "folder" else ckpt, "-v", "1.0.0")
    finally:
        writer.kill()
        writer.wait()
    assert "model.ckpt changed while it was being stored" in failed.err
    assert len(failed.err.strip().splitlines()) == 1
    assert registry_snapshot(cli.registry) == before
    assert cli("model", "list", "--json").text.strip() in ("[]", "")


# --- fsck and verify cross-check stated sizes ---------------------------------------------


def test_fsck_and_verify_report_a_record_whose_size_is_wrong(cli, registry, tmp_path: Path) -> None:
    from porcelain import layout, records
    from porcelain.registry import Registry

    (tmp_path / "m.bin").write_bytes(b"0123456789")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    assert cli("fsck").code == 0
    good = records.decode(
        registry.objects.read(json.loads(cli("model", "get", "m:1.0.0", "--json").text)["id"])
    )
    lying = records.build(
        **{**{f: getattr(good, f) for f in good.__struct_fields__}, "version": "2.0.0", "size": 11}
    )
    record_id = registry.objects.put_bytes(lying.encode(), "record")
    tx = registry.transaction("test: a record that lies about its size")
    tx.create(layout.version_ref("model", "m", "2.0.0"), record_id)
    tx.create(layout.stage_ref("model", "m", "development", "2.0.0"), record_id)
    tx.commit()
    failed = cli.fails("fsck", code=1)
    assert (
        f"record {record_id} says its artifact is 11 bytes, but object {good.artifact} holds 10"
        in failed.text + failed.err
    )
    _found, _count, problems = Registry.open(cli.registry).verify("model", "m:2.0.0")
    assert any("says its artifact is 11 bytes" in p for p in problems)
    assert cli.fails("verify", "m:2.0.0").code == 1


def test_fsck_reports_a_tree_entry_whose_size_is_wrong(cli, registry, tmp_path: Path) -> None:
    from pacha.objects import MODE_FILE, TreeEntry, encode, make_tree

    blob = registry.objects.put_bytes(b"abc")
    tree_id = registry.objects.put_bytes(encode(make_tree([TreeEntry("a.txt", MODE_FILE, blob, 4)])), "tree")
    cli("update-ref", "refs/test", tree_id)
    failed = cli.fails("fsck", code=1)
    assert (
        f"tree {tree_id} says entry 'a.txt' is 4 bytes, but object {blob} holds 3" in failed.text + failed.err
    )


def test_weights_facts_of_a_folder_are_of_the_bytes_stored(cli, tmp_path: Path, monkeypatch) -> None:
    """A weights file rewritten after its header was read for the card, before the folder
    is stored: the card would describe bytes that are not stored, so it is refused."""
    np = pytest.importorskip("numpy")
    from safetensors.numpy import save_file

    from porcelain.cards import weights_info
    from porcelain.registry import Registry

    folder = tmp_path / "m"
    folder.mkdir()
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(folder / "a.safetensors"))
    _old(folder / "a.safetensors")
    real = weights_info.describe

    def describe_then_rewrite(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        info = real(path, *args, **kwargs)
        save_file({"w": np.zeros((8, 8), dtype=np.float32)}, str(path))
        return info

    monkeypatch.setattr(weights_info, "describe", describe_then_rewrite)
    registry = Registry.open(cli.registry)
    with pytest.raises(FileChanged, match=r"a\.safetensors changed while it was being stored"):
        registry.register_model("m", folder, version="1.0.0")
    assert registry.list("model") == []


@pytest.mark.parametrize("store", [True, False], ids=["stored", "hashed"])
def test_a_file_being_written_that_shrinks_while_read_is_refused(
    registry, tmp_path: Path, monkeypatch, store: bool
) -> None:
    """A file written moments ago is read into private copies, so it may shrink under the
    reader (a mapping would kill the process with SIGBUS): refused, at every stage."""
    import pacha.blocks
    from porcelain.versions.artifacts import artifact_of

    path = tmp_path / "ckpt.bin"
    path.write_bytes(_content(3 * BLOCK)[: 3 * BLOCK])
    # just written, and whatever the load delays: not settled (its times are not 2 s back), so
    # never mapped (a mapped file truncated under its reader would kill the process: SIGBUS)
    _fresh(path)
    real = pacha.blocks.read_blocks

    def read_then_truncate(stream, *args, **kwargs):  # type: ignore[no-untyped-def]
        for i, block in enumerate(real(stream, *args, **kwargs)):
            if i == 0:
                os.truncate(path, 100)  # the writer starts over
            yield block

    monkeypatch.setattr(pacha.blocks, "read_blocks", read_then_truncate)
    monkeypatch.setattr(ingest, "read_blocks", read_then_truncate)
    with pytest.raises(FileChanged, match="changed while it was being stored"):
        artifact_of(registry.objects if store else None, path)
    _nothing_stored(registry)
