"""gc keeps whole closures or nothing; fsck tells damage to what is reachable (an
error) from dangling links among unreachable objects (a note) (issue 12.5)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pacha
from pacha import objects
from pacha.gc import collect
from pacha.refs.store import close_all

OLD = time.time() - 30 * 24 * 3600
YESTERDAY = datetime.fromtimestamp(time.time() - 24 * 3600, UTC).isoformat()


def loose_path(registry: Path, object_id: str) -> Path:
    return registry / "objects" / object_id[:2] / object_id[2:]


def make_loose(cli) -> None:
    for index in (cli.registry / "objects" / "pack").glob("*.idx"):
        cli("unpack-objects", "-d", "-q", index)


def test_keep_last_with_a_shared_subtree_leaves_fsck_clean(cli, tmp_path: Path) -> None:
    """The issue's input: a folder version sharing a subtree with an older one, whose
    unreachable root is young (its pack was refreshed by the reuse) and blobs old."""
    folder = tmp_path / "model"
    for sub in ("shared", "own"):
        (folder / sub).mkdir(parents=True)
        for i in range(20):
            (folder / sub / f"{i}.txt").write_text(f"{sub} {i}\n" * (20 + i))
    cli("model", "register", "m", folder, "-v", "1.0.0")
    make_loose(cli)
    for i in range(20):
        (folder / "own" / f"{i}.txt").write_text(f"changed {i}\n" * (30 + i))
    cli("model", "register", "m", folder, "-v", "2.0.0")
    make_loose(cli)
    for path in (cli.registry / "objects").rglob("*"):
        if path.is_file():
            os.utime(path, (OLD, OLD))
    record = json.loads(cli("cat-object", "-p", "models/m/1.0.0").text)
    old_root = record["artifact"]
    os.utime(loose_path(cli.registry, old_root))  # young, unreachable once 1.0.0 is expired

    result = cli("gc", "--keep-last", "1", "--prune", YESTERDAY)
    assert "removed" in result.err
    check = cli("fsck")
    assert "missing object" not in check.text + check.err and "note" not in check.err, check.err
    # The young tree stayed whole: it can still be read back completely.
    cli("checkout-object", old_root, tmp_path / "old")
    assert (tmp_path / "old" / "own" / "3.txt").read_text() == "own 3\n" * 23
    # Once old too, it goes with everything only it needed; version 2 is untouched.
    cli("gc", "--prune", "now")
    assert cli("cat-object", "-e", old_root, ok=False).code == 1
    cli("fsck")
    cli("model", "download", "m:2.0.0", "-o", tmp_path / "v2")
    assert (tmp_path / "v2" / "shared" / "0.txt").read_text() == "shared 0\n" * 20


def test_fsck_notes_dangling_links_among_unreachable_objects(cli, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "w").write_bytes(b"weights " * 200)
    blob = cli("hash-object", "-w", folder / "w").text.strip()
    tree = cli("write-tree", folder).text.strip()
    path = loose_path(cli.registry, blob)
    os.chmod(path, 0o644)
    path.unlink()
    check = cli("fsck")  # unreachable: a note, exit 0
    assert check.text == "" and "note: dangling link" in check.err and tree in check.err
    cli("write-ref", "models/m/1.0.0", tree)  # now the same link is damage to a version
    damaged = cli.fails("fsck", code=1)
    assert f"missing object {blob}" in damaged.text


# --- property: whatever gc keeps, it keeps whole -----------------------------------


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=st.lists(st.lists(st.integers(0, 30), max_size=4), min_size=1, max_size=12),
    rooted=st.sets(st.integers(0, 11), max_size=3),
    young=st.sets(st.integers(0, 60), max_size=15),
)
def test_gc_keeps_whole_closures(tmp_path_factory, shape, rooted, young) -> None:
    """Random trees over shared blobs and earlier trees; random refs; random objects
    young. After gc, every object left has every object it links to, every reachable
    object is left, and fsck reports no problem and no note."""
    root = tmp_path_factory.mktemp("closure") / "reg"
    reg, _ = pacha.init_registry(root)
    try:
        _check_closures(reg, shape, rooted, young)
    finally:
        reg.objects.forget_packs()
        close_all()  # each LMDB environment reserves 1 TiB of address space


def _check_closures(reg, shape, rooted, young) -> None:  # type: ignore[no-untyped-def]
    store = reg.objects
    blobs = [store.put_bytes(f"blob {i}".encode() * 3) for i in range(8)]
    trees: list[str] = []
    sizes: list[int] = []  # of each tree: what its entries add up to (fsck checks it)
    for children in shape:
        entries = {}
        for child in children:
            if child < len(blobs):
                entries[f"b{child}"] = objects.TreeEntry(f"b{child}", objects.MODE_FILE, blobs[child], 18)
            elif trees:
                k = child % len(trees)
                entries[f"t{k}"] = objects.TreeEntry(f"t{k}", objects.MODE_TREE, trees[k], sizes[k])
        tree = objects.make_tree(list(entries.values()))
        trees.append(store.put_bytes(objects.encode(tree), "tree"))
        sizes.append(tree.size)
    everything = list(dict.fromkeys(blobs + trees))
    for object_id in everything:
        os.utime(store.loose.path(object_id), (OLD, OLD))
    for k in young:
        if k < len(everything):
            os.utime(store.loose.path(everything[k]))
    for k in rooted:
        if k < len(trees):
            reg.transaction("test").update(f"models/t{k}/1.0.0", trees[k]).commit()

    collect(reg, prune_before=time.time() - 3600)

    left = set(store.iter_ids())
    for object_id in left:
        info = store.stat(object_id)
        if info.kind == "tree":
            assert set(objects.links("tree", store.read(object_id))) <= left
    report = pacha.fsck(reg)
    assert report.ok and not report.notes, (report.problems, report.notes)
    for k in rooted:
        if k < len(trees):
            assert trees[k] in left
