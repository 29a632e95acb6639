"""Names read from objects are untrusted; --force never replaces FIFOs, sockets or devices.

A record or tree may come from someone else (a pack, a shared registry, an older
Pacha that accepted it): its names are checked before any path is built from them,
by writers, by checkout and download, and by fsck (issue 12 items 7 and 8).
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pacha
from pacha import checkout_files as trees
from pacha import pathnames
from pacha.errors import InvalidInput
from pacha.objects import MODE_FILE, MODE_TREE, RECORD, TREE

HOSTILE_NAMES = [
    "../../escaped.txt",
    "..",
    ".",
    "",
    "/etc/passwd",
    "sub/../../x",
    "a\\..\\..\\x",
    "nul\x00byte",
    "line\nbreak",
    "x" * 256,
]


def store_unchecked(cli, data: bytes, kind: str) -> str:
    """Put an object in the store as a foreign pack or an older Pacha could: no validation."""
    store = pacha.open_registry(cli.registry).objects
    return store.put_prepared(store.prepare(data, kind))


def evil_record(cli, tmp_path: Path, filename: str) -> str:
    """Register a good model, then point evil:1.0.0 at a copy of its record with another filename."""
    (tmp_path / "good.bin").write_bytes(b"weights\n")
    cli("model", "register", "good", tmp_path / "good.bin", "-v", "1.0.0")
    record_id = cli("rev-parse", "models/good/1.0.0").text.strip()
    doc = msgspec.json.decode(cli("cat-object", "-p", record_id).out)
    doc.update(name="evil", filename=filename)
    data = msgspec.json.encode(doc, order="sorted")
    evil_id = store_unchecked(cli, data, RECORD)
    cli("update-ref", "models/evil/1.0.0", evil_id)
    cli("update-ref", "stages/models/evil/development/1.0.0", evil_id)
    return evil_id


@pytest.mark.parametrize(
    "filename", ["../../escaped.txt", "../x", "..", "a/b", "/tmp/abs", "x\\..\\y", "\x00"]
)
def test_record_filename_cannot_lead_out_of_the_download_folder(cli, tmp_path, filename):
    evil_record(cli, tmp_path, filename)
    out = tmp_path / "out" / "sub"
    out.mkdir(parents=True)
    (tmp_path / "out" / "escaped.txt").write_text("mine\n")
    before = sorted(p.name for p in tmp_path.rglob("*") if "registry" not in p.parts)
    for force in ([], ["--force"]):
        result = cli.fails("model", "download", "evil:1.0.0", "-o", out, *force, code=128)
        assert "record filename" in result.err and "not a safe file name" in result.err
        assert len(result.err.strip().splitlines()) == 1
    assert (tmp_path / "out" / "escaped.txt").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if "registry" not in p.parts) == before
    assert list(out.iterdir()) == []


def test_fsck_reports_a_record_with_a_hostile_filename(cli, tmp_path):
    evil_id = evil_record(cli, tmp_path, "../../escaped.txt")
    result = cli.fails("fsck", code=1)
    assert evil_id in result.text and "record filename" in result.text
    # a named download path is the user's own: the version still comes out there
    cli("model", "download", "evil:1.0.0", "-o", tmp_path / "chosen.bin")
    assert (tmp_path / "chosen.bin").read_bytes() == b"weights\n"


def test_writers_refuse_hostile_record_filenames(cli, tmp_path):
    (tmp_path / "good.bin").write_bytes(b"weights\n")
    cli("model", "register", "good", tmp_path / "good.bin", "-v", "1.0.0")
    record_id = cli("rev-parse", "models/good/1.0.0").text.strip()
    doc = msgspec.json.decode(cli("cat-object", "-p", record_id).out)
    for name in HOSTILE_NAMES:
        doc["filename"] = name
        data = msgspec.json.encode(doc, order="sorted")
        result = cli.fails("hash-object", "-w", "-t", "record", "--stdin", input=data)
        assert "not a safe file name" in result.err, (name, result.err)


def tree_bytes(entries: list[tuple[str, str, str, int]]) -> bytes:
    ordered = sorted(entries, key=lambda e: e[0].encode("utf-8", "surrogatepass"))
    return msgspec.json.encode(
        {"entries": [{"id": i, "mode": m, "name": n, "size": s} for n, m, i, s in ordered], "type": "tree"},
        order="sorted",
    )


@pytest.mark.parametrize("name", ["..", "a\\..\\..\\b", "ctl\x01", "x" * 256, "nul\x00"])
def test_trees_with_hostile_names_are_refused_by_writers_checkout_and_fsck(cli, tmp_path, name):
    blob = store_unchecked(cli, b"payload\n", "blob")
    data = tree_bytes([(name, MODE_FILE, blob, 8), ("ok.txt", MODE_FILE, blob, 8)])
    assert "not a safe file name" in cli.fails("hash-object", "-w", "-t", "tree", "--stdin", input=data).err
    tree_id = store_unchecked(cli, data, TREE)
    outer = store_unchecked(cli, tree_bytes([("inner", MODE_TREE, tree_id, 16)]), TREE)
    for target in (tree_id, outer):
        for force in ([], ["--force"]):
            result = cli.fails("checkout-object", target, tmp_path / "co", *force)
            assert "not a safe file name" in result.err
            assert not (tmp_path / "co").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry"]
    result = cli.fails("fsck", code=1)
    assert tree_id in result.text and "tree entry name" in result.text


def test_write_tree_refuses_a_file_whose_name_cannot_be_checked_out(cli, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "fine.txt").write_text("a")
    (folder / "back\\slash.txt").write_text("b")
    for command in (["write-tree", folder], ["model", "register", "m", folder, "-v", "1.0.0"]):
        result = cli.fails(*command)
        assert "back\\slash.txt" in result.err and "rename it" in result.err


def test_case_colliding_names_are_refused_only_where_the_file_system_folds_case(cli, tmp_path, monkeypatch):
    store = pacha.open_registry(cli.registry).objects
    blob = store.put_bytes(b"x")
    tree_id = store.put_bytes(
        tree_bytes([("README", MODE_FILE, blob, 1), ("readme", MODE_FILE, blob, 1)]), TREE
    )
    # ext4 and tmpfs keep both names
    if not pathnames.folds_case(tmp_path):
        trees.checkout(store, tree_id, tmp_path / "both")
        assert sorted(os.listdir(tmp_path / "both")) == ["README", "readme"]
    monkeypatch.setattr(trees, "folds_case", lambda directory: True)
    with pytest.raises(InvalidInput, match="cannot tell apart"):
        trees.checkout(store, tree_id, tmp_path / "folded")
    assert not (tmp_path / "folded").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".folded")] == []


def test_case_collisions_include_unicode_normalisation():
    assert pathnames.case_collisions(["Café", "cafe\u0301", "other"]) == [("Café", "cafe\u0301")]
    assert pathnames.case_collisions(["a", "b", "A.txt"]) == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_an_accepted_name_is_always_one_child_of_its_folder(name):
    base = "/base/folder"
    if pathnames.name_problem(name) is None:
        joined = os.path.normpath(os.path.join(base, name))
        assert os.path.dirname(joined) == base and os.path.basename(joined) == name
        assert "\\" not in name and len(name.encode()) <= 255
    else:
        with pytest.raises(InvalidInput):
            pathnames.check_name(name, "name")


# --- destinations: --force replaces files, folders and links, never special files ---------------------


def special_files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out["FIFO"] = fifo
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()
    out["socket"] = sock_path
    device = tmp_path / "device"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
        out["device"] = device
    except PermissionError:
        out["device"] = Path("/dev/null")  # not root: a real device node, which we cannot replace anyway
    return out


def test_force_never_replaces_a_fifo_socket_or_device(cli, tmp_path):
    (tmp_path / "w.bin").write_bytes(b"weights\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    cli("model", "register", "m", tmp_path / "w.bin", "-v", "1.0.0")
    cli("data", "register", "d", folder, "-v", "1.0.0")
    targets = special_files(tmp_path)
    for what, path in targets.items():
        mode = os.lstat(path).st_mode
        for command in (
            ["model", "download", "m:1.0.0", "-o", path, "--force"],
            ["model", "download", "m:1.0.0", "-o", path],
            ["data", "download", "d:1.0.0", "-o", path, "--force"],
            ["model", "get", "m:1.0.0", "-o", path, "--force"],
            ["checkout-object", "models/m/1.0.0", path, "--force"],
        ):
            if command[0] == "checkout-object":
                command[1] = cli("rev-parse", "models/m/1.0.0").text.strip()
                command[1] = msgspec.json.decode(cli("cat-object", "-p", command[1]).out)["artifact"]
            result = cli.fails(*command, code=128)
            assert f"it is a {what}" in result.err or f"it is an {what}" in result.err, (command, result.err)
            assert len(result.err.strip().splitlines()) == 1
            assert os.lstat(path).st_mode == mode, command
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_download_into_a_folder_refuses_a_fifo_under_the_registered_name(cli, tmp_path):
    (tmp_path / "w.bin").write_bytes(b"weights\n")
    cli("model", "register", "m", tmp_path / "w.bin", "-v", "1.0.0")
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "w.bin")
    result = cli.fails("model", "download", "m:1.0.0", "-o", out, "--force")
    assert "FIFO" in result.err
    assert stat.S_ISFIFO(os.lstat(out / "w.bin").st_mode)


def test_force_replaces_a_symlink_itself_not_its_target(cli, tmp_path):
    (tmp_path / "w.bin").write_bytes(b"weights\n")
    cli("model", "register", "m", tmp_path / "w.bin", "-v", "1.0.0")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    link = tmp_path / "link"
    link.symlink_to(precious)
    cli("model", "download", "m:1.0.0", "-o", link, "--force")
    assert precious.read_text() == "keep me\n"
    assert not link.is_symlink() and link.read_bytes() == b"weights\n"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "fifo-to-be")
    os.mkfifo(tmp_path / "fifo-to-be")
    cli("model", "download", "m:1.0.0", "-o", dangling, "--force")  # the link is replaced, not the FIFO
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo-to-be").st_mode)
    assert dangling.read_bytes() == b"weights\n"


def test_a_registered_file_name_that_could_not_be_downloaded_is_refused_before_storing(cli, tmp_path):
    odd = tmp_path / "back\\slash.bin"
    odd.write_bytes(b"weights\n")
    result = cli.fails("model", "register", "m", odd, "-v", "1.0.0")
    assert "not a file name" in result.err and "--name" in result.err
    for name in ("../x.bin", "a\\b", "ctl\x07.bin", "x" * 256):
        assert (
            "not a file name" in cli.fails("model", "register", "m", odd, "-v", "1.0.0", "--name", name).err
        )
    cli("model", "register", "m", odd, "-v", "1.0.0", "--name", "fine.bin")
    assert cli("model", "get", "m:1.0.0", "--json").text.count('"fine.bin"') == 1


def test_run_plot_refuses_to_write_into_a_fifo(cli, tmp_path):
    from tests.test_recipes import RECIPE, prepare_recipe

    cli("recipe", "register", prepare_recipe(cli, tmp_path, RECIPE))
    run = cli("run", "start", "bert-finetune:1.0.0").text.strip().split()[-1]
    cli("run", "log", run, "loss=0.5", "--step", "1")
    fifo = tmp_path / "plot.png"
    os.mkfifo(fifo)
    result = cli.fails("run", "plot", run, "-m", "loss", "-o", fifo, code=128)  # no hang: the FIFO is refused
    assert "it is a FIFO" in result.err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
