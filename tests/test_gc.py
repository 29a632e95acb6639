"""gc: unreachable and old goes; reachable, reflog-named and young stays; safe beside writers."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pacha
from tests.conftest import damage_object

OLD = time.time() - 30 * 24 * 3600


def age(registry: Path, object_id: str) -> None:
    os.utime(registry / "objects" / object_id[:2] / object_id[2:], (OLD, OLD))


def age_everything(registry: Path) -> None:
    for path in (registry / "objects").rglob("*"):
        if path.is_file():
            os.utime(path, (OLD, OLD))


def test_gc_removes_only_old_unreachable_objects(cli, tmp_path: Path) -> None:
    reg = pacha.open_registry(cli.registry)
    kept = reg.objects.put_bytes(b"registered")
    cli("write-ref", "models/m/1.0.0", kept)
    deleted_version = reg.objects.put_bytes(b"deleted later")
    cli("write-ref", "models/m/0.9.0", deleted_version)
    cli("delete-ref", "models/m/0.9.0")  # the reflog still names it: kept
    folder = tmp_path / "f"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"inside a tree")
    tree = cli("write-tree", folder).text.strip()
    cli("write-ref", "models/t/1.0.0", tree)
    garbage = reg.objects.put_bytes(b"nobody points here")
    young = reg.objects.put_bytes(b"written a moment ago")
    age_everything(cli.registry)
    (cli.registry / "tmp" / "obj-1-stale").write_bytes(b"half")
    os.utime(cli.registry / "tmp" / "obj-1-stale", (OLD, OLD))
    os.utime(cli.registry / "objects" / young[:2] / young[2:])  # young again

    dry = cli("gc", "--dry-run")
    assert dry.text == f"would remove {garbage}\n"
    assert cli("cat-object", "-e", garbage).code == 0
    result = cli("gc")
    assert "removed 1" in result.err and "1 stale temp file" in result.err
    assert cli("cat-object", "-e", garbage, ok=False).code == 1
    for object_id in (kept, deleted_version, tree, young):
        assert cli("cat-object", "-e", object_id).code == 0
    cli("fsck")
    cli("gc", "--prune", "now")
    assert cli("cat-object", "-e", young, ok=False).code == 1
    cli("fsck")
    cli.fails("gc", "--prune", "last tuesday", code=128)


def test_delete_ref_expire_frees_what_only_its_history_named(cli) -> None:
    reg = pacha.open_registry(cli.registry)
    first = reg.objects.put_bytes(b"first")
    second = reg.objects.put_bytes(b"second")
    cli("write-ref", "models/m/1.0.0", first)
    cli("write-ref", "models/m/1.0.0", second)
    cli("delete-ref", "--expire", "models/m/1.0.0", "-m", "retired")
    recreated = reg.objects.put_bytes(b"recreated")
    cli("write-ref", "models/m/1.0.0", recreated)  # history after the expiry counts again
    assert "retired" in cli("reflog", "models/m/1.0.0").text
    cli("gc", "--prune", "now")
    assert [cli("cat-object", "-e", i, ok=False).code for i in (first, second, recreated)] == [1, 1, 0]
    cli("fsck")  # expired history naming collected objects is not a problem


def test_gc_refuses_when_it_cannot_read_a_structured_object(cli, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a").write_bytes(b"a")
    tree = cli("write-tree", folder).text.strip()
    cli("write-ref", "models/t/1.0.0", tree)
    damage_object(cli.registry, tree, from_end=2)
    before = sorted(p.name for p in (cli.registry / "objects").rglob("*"))
    result = cli.fails("gc", "--prune", "now", code=1)
    assert "stopped before removing anything" in result.err
    assert sorted(p.name for p in (cli.registry / "objects").rglob("*")) == before


def _register_many(args: tuple[str, str, int]) -> None:
    root, prefix, count = args
    from porcelain import Registry

    reg = Registry.open(root)
    for i in range(count):
        path = Path(root).parent / f"{prefix}-{i}.bin"
        # half reuse old garbage; the others are large, so writing them takes a while before the
        # ref moves: the window in which an unlocked gc would delete them
        path.write_bytes(f"garbage {i % 10}".encode() if i % 2 else os.urandom(24 << 20))
        reg.register_model(f"{prefix}-{i}", path)


def test_gc_beside_concurrent_registrations_loses_nothing(cli) -> None:
    reg = pacha.open_registry(cli.registry)
    for i in range(10):  # old, unreachable objects that new registrations will reuse
        age(cli.registry, reg.objects.put_bytes(f"garbage {i}".encode()))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        pending = pool.map_async(_register_many, [(str(cli.registry), f"w{k}", 8) for k in range(3)])
        while not pending.ready():
            cli("gc", "-q", "--prune", "now")  # no grace at all: the write lock alone must protect them
        pending.get()
    cli("gc")
    cli("fsck")
    for i in (0, 2, 4, 6, 8, 9):  # never reused: collected
        assert cli("cat-object", "-e", pacha.hash_bytes(f"garbage {i}".encode()), ok=False).code == 1
    for i in (1, 3, 5, 7):  # reused by a registration while gc ran: then reachable
        assert cli("cat-object", "-e", pacha.hash_bytes(f"garbage {i}".encode())).code == 0
    for k in range(3):
        for i in range(8):
            assert "ok" in cli("verify", f"w{k}-{i}:1.0.0").text


def test_keep_last_expires_old_versions_but_keeps_staged_ones_and_the_audit_trail(
    cli, tmp_path: Path
) -> None:
    artifacts = {}
    for major in range(1, 6):
        path = tmp_path / f"w{major}.bin"
        path.write_bytes(os.urandom(3000) + bytes([major]))
        cli("model", "register", "m", path, "-v", f"{major}.0.0")
        artifacts[major] = pacha.hash_bytes(path.read_bytes())
    cli("model", "stage", "m:1.0.0", "-t", "staging")
    cli("model", "stage", "m:1.0.0", "-t", "production")
    cli("model", "stage", "m:2.0.0", "-t", "staging")

    dry = cli("gc", "--keep-last", "2", "--prune", "now", "--dry-run")
    assert dry.lines[0] == "would expire model m:3.0.0 (development)"
    assert f"would remove {artifacts[3]}" in dry.lines
    assert cli("cat-object", "-e", artifacts[3]).code == 0  # a dry run changes nothing
    assert "3.0.0" in cli("model", "list", "m", "--json").text

    result = cli("gc", "--keep-last", "2", "--prune", "now")
    assert result.lines[0] == "expired model m:3.0.0 (development)"
    assert cli("cat-object", "-e", artifacts[3], ok=False).code == 1
    for kept in (1, 2, 4, 5):
        cli("model", "download", f"m:{kept}.0.0", "-o", tmp_path / f"out{kept}")
    log = cli("reflog", "models/m/3.0.0").text
    assert "gc --keep-last 2" in log  # who removed it, when and why stays on record
    cli("fsck")
    cli.fails("gc", "--keep-last", "0", code=128)


def test_keep_last_keeps_what_a_kept_version_descends_from(cli, tmp_path: Path) -> None:
    (tmp_path / "base").write_bytes(b"base weights")
    (tmp_path / "tuned").write_bytes(b"tuned weights")
    cli("model", "register", "base", tmp_path / "base", "-v", "1.0.0")
    cli("model", "register", "base", tmp_path / "tuned", "-v", "2.0.0")
    cli(
        "model",
        "register",
        "tuned",
        tmp_path / "tuned",
        "-v",
        "1.0.0",
        "--from",
        "base:1.0.0",
        "--relation",
        "fine-tuned",
    )
    cli("gc", "--keep-last", "1", "--prune", "now")
    assert "1.0.0" not in cli("model", "list", "base", "--json").text
    assert "ok" in cli("verify", "tuned:1.0.0").text  # the lineage still verifies end to end
