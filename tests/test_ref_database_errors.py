"""Every failure of the ref database is one Pacha line with Git's exit code, the registry stays
consistent, and the map is sized to need (commands run under `ulimit -v`) and grows on demand."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import lmdb
import pytest

import pacha
from pacha.errors import PachaError, ReadOnlyRegistry, RefDatabaseError
from pacha.refs import env as refenv
from tests.conftest import PACHA

GiB = 1 << 30


def _limited(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def run_limited(cli, *args: str, limit: int = 16 * GiB, stdin: bytes = b"") -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    """Run pacha with an address-space limit (ulimit -v), as shared clusters impose."""
    return subprocess.run(
        [*PACHA, *args],
        input=stdin,
        capture_output=True,
        cwd=cli.cwd,
        env=cli.env,
        preexec_fn=_limited(limit),
        timeout=120,
        check=False,
    )


def test_every_command_runs_under_an_address_space_limit(cli, tmp_path: Path) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(50_000))
    for args in (
        ["model", "register", "m", str(model), "-v", "1.0.0"],
        ["model", "stage", "m:1.0.0", "-t", "staging"],
        ["model", "list"],
        ["for-each-ref"],
        ["fsck"],
        ["gc"],
    ):
        result = run_limited(cli, *args)
        assert result.returncode == 0, (args, result.stderr.decode())


def test_a_registry_whose_map_was_a_terabyte_opens_under_the_limit(cli) -> None:
    """Registries written before the map was sized to need record 1 TiB in their meta page."""
    blob = cli("hash-object", "-w", "--stdin", input=b"x").text.strip()
    env = lmdb.open(str(cli.registry / "refs"), map_size=1 << 40, max_dbs=16)
    db = env.open_db(b"refs")
    with env.begin(write=True) as txn:
        txn.put(b"models/old/1.0.0", bytes.fromhex(blob), db=db)
    env.close()
    for args in (["for-each-ref"], ["write-ref", "models/new/1.0.0", blob], ["fsck"]):
        result = run_limited(cli, *args)
        assert result.returncode == 0, (args, result.stderr.decode())
    assert "models/old/1.0.0" in cli("for-each-ref").text


def test_the_map_grows_when_a_transaction_fills_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(refenv, "MIN_MAP_SIZE", 1 << 20)  # 1 MiB: a few thousand refs fill it
    registry, _ = pacha.init_registry(tmp_path / "reg")
    blob = registry.objects.put_bytes(b"payload")
    names = [f"models/n{i:05d}/{'x' * 60}/1.0.0" for i in range(6000)]
    with registry.transaction("many") as tx:
        for name in names:
            tx.create(name, blob)
    env = registry.refs._env.env
    assert env.info()["map_size"] > 1 << 20  # it grew
    assert [n for n, _ in registry.refs.iter("models/")] == names
    assert len(registry.refs.reflog_all("models/")) == len(names)
    # and a new process (its map sized from the file) reads them all
    out = subprocess.run(
        [*PACHA, "--registry", str(registry.root), "for-each-ref", "models/"], capture_output=True, check=True
    )
    assert len(out.stdout.splitlines()) == len(names)
    pacha.refs.store.close_all()


READER = textwrap.dedent(
    """
    import sys
    import pacha
    from pacha.refs import env
    env.MIN_MAP_SIZE = 1 << 20
    reg = pacha.open_registry(sys.argv[1])
    print(len(list(reg.refs.iter())), flush=True)
    sys.stdin.readline()  # another process grows the database meanwhile
    print(len(list(reg.refs.iter())), reg.refs._env.env.info()["map_size"], flush=True)
    sys.stdin.readline()
    with reg.transaction("after") as tx:
        tx.create("models/last/1.0.0", reg.refs.get("models/first/1.0.0"))
    print(len(list(reg.refs.iter())), flush=True)
    """
)


def test_a_process_adopts_the_map_another_process_grew(tmp_path: Path, monkeypatch) -> None:
    registry, _ = pacha.init_registry(tmp_path / "reg")
    blob = registry.objects.put_bytes(b"payload")
    with registry.transaction("first") as tx:
        tx.create("models/first/1.0.0", blob)
    pacha.refs.store.close_all()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(registry.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "1"
    monkeypatch.setattr(refenv, "MIN_MAP_SIZE", 1 << 20)
    writer = pacha.open_registry(registry.root)
    with writer.transaction("many") as tx:
        for i in range(6000):
            tx.create(f"models/n{i:05d}/{'x' * 60}/1.0.0", blob)
    assert os.path.getsize(registry.root / "refs" / "data.mdb") > 1 << 20  # past the reader's map
    reader.stdin.write("\n")
    reader.stdin.flush()
    count, map_size = reader.stdout.readline().split()
    assert int(count) == 6001 and int(map_size) > 1 << 20
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "6002"
    assert reader.wait(timeout=60) == 0
    pacha.refs.store.close_all()


# --- a full disk, for real: a small tmpfs in a private mount namespace ---------------------------
DISK_FULL = textwrap.dedent(
    """
    import json, os, subprocess, sys
    root, pacha_cmd = sys.argv[1], json.loads(sys.argv[2])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", root], check=True)
    env = dict(os.environ, PACHA_DIR=root + "/reg")
    def run(*args, stdin=b""):
        p = subprocess.run([*pacha_cmd, *args], input=stdin, capture_output=True, env=env)
        return {"args": list(args), "code": p.returncode, "out": p.stdout.decode(), "err": p.stderr.decode()}
    steps = [run("init", "-q")]
    for name in ("m.bin", "m2.bin"):
        with open(root + "/" + name, "wb") as f:
            f.write(os.urandom(20000))
    steps.append(run("model", "register", "m", root + "/m.bin", "-v", "1.0.0"))
    steps.append(run("for-each-ref"))
    blob = run("rev-parse", "m:1.0.0")["out"].strip()
    try:  # fill the disk
        with open(root + "/filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\\0" * 4096)
    except OSError:
        pass
    many = "".join(f"create models/x{i:05d}/{'y' * 80}/1.0.0 {blob}\\n" for i in range(3000)).encode()
    steps.append(run("update-ref", "--stdin", "-m", "many", stdin=many))
    steps.append(run("model", "stage", "m:1.0.0", "-t", "production"))
    steps.append(run("model", "register", "m", root + "/m2.bin", "-v", "2.0.0"))
    steps.append(run("for-each-ref"))
    os.unlink(root + "/filler")
    steps.append(run("fsck"))
    steps.append(run("model", "stage", "m:1.0.0", "-t", "production"))
    some = b"".join(many.splitlines(keepends=True)[:20])
    steps.append(run("update-ref", "--stdin", "-m", "some", stdin=some))
    print(json.dumps(steps))
    """
)


def test_a_full_disk_is_one_line_and_leaves_the_registry_consistent(tmp_path: Path) -> None:
    root = tmp_path / "disk"
    root.mkdir()
    probe = subprocess.run(
        ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {probe.stderr.strip()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
    env.update(PACHA_AUTHOR_NAME="T", PACHA_AUTHOR_EMAIL="t@example.com")
    out = subprocess.run(
        ["unshare", "-rm", sys.executable, "-c", DISK_FULL, str(root), json.dumps(PACHA)],
        capture_output=True,
        env=env,
        check=True,
        timeout=600,
    )
    steps = json.loads(out.stdout)
    init, register, _, many, stage, register2, refs_full, fsck, stage_again, some = steps
    assert init["code"] == register["code"] == 0, (init, register)
    for step in (many, register2):  # they need new space: refused, one line, exit 128
        assert step["code"] == 128, step
        assert "No space left" in step["err"] or "no space left" in step["err"], step
        assert len(step["err"].strip().splitlines()) == 1 and "Traceback" not in step["err"], step
    assert stage["code"] in (0, 128) and "Traceback" not in stage["err"], stage  # may fit in free pages
    assert refs_full["out"].count("models/x") == 0  # the batch is all or nothing
    assert fsck["code"] == 0, fsck
    assert stage_again["code"] == 0 and some["code"] == 0, (stage_again, some)


# --- a damaged or foreign database file ------------------------------------------------------------
def _one_line(result, needle: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 128, (result.code, result.err)
    assert needle in result.err and len(result.err.strip().splitlines()) == 1, result.err


@pytest.mark.parametrize("command", ["for-each-ref", "model list", "fsck", "write-ref a/b {blob}", "gc"])
def test_a_file_that_is_no_lmdb_database_is_one_line(cli, command: str) -> None:
    blob = cli("hash-object", "-w", "--stdin", input=b"x").text.strip()
    (cli.registry / "refs" / "data.mdb").write_bytes(os.urandom(3 * 4096))
    _one_line(cli(*command.format(blob=blob).split(), ok=False), "not an LMDB database")


def test_an_incompatible_lmdb_format_is_one_line(cli) -> None:
    data = cli.registry / "refs" / "data.mdb"
    raw = bytearray(data.read_bytes())
    for page in (0, 4096):  # both meta pages: format version 2
        raw[page + 20 : page + 24] = (2).to_bytes(4, "little")
    data.write_bytes(bytes(raw))
    _one_line(cli("for-each-ref", ok=False), "LMDB format 2")


def test_a_damaged_page_is_one_line(cli) -> None:
    blob = cli("hash-object", "-w", "--stdin", input=b"x").text.strip()
    for i in range(4):
        cli("write-ref", f"models/m{i}/1.0.0", blob)
    data = cli.registry / "refs" / "data.mdb"
    raw = bytearray(data.read_bytes())
    raw[2 * 4096 :] = b"\xff" * (len(raw) - 2 * 4096)  # every page past the meta pages
    data.write_bytes(bytes(raw))
    result = cli("for-each-ref", ok=False)
    _one_line(result, "ref database")


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (lmdb.DiskError("mdb_txn_commit", 28), RefDatabaseError, "no space left"),
        (OSError(28, "No space left on device"), RefDatabaseError, "no space left"),
        (lmdb.ReadonlyError("mdb_txn_begin", 13), ReadOnlyRegistry, "read-only"),
        (OSError(30, "Read-only file system"), ReadOnlyRegistry, "read-only"),
        (lmdb.MapFullError("mdb_put", -30792), RefDatabaseError, "is full"),
        (lmdb.MemoryError("mdb_env_set_mapsize", 12), RefDatabaseError, "address space"),
        (lmdb.CorruptedError("mdb_get", -30796), RefDatabaseError, "damaged"),
        (lmdb.PageNotFoundError("mdb_get", -30797), RefDatabaseError, "damaged"),
        (lmdb.InvalidError("mdb_env_open", -30793), RefDatabaseError, "damaged"),
        (lmdb.PanicError("mdb_txn_begin", -30795), RefDatabaseError, "damaged"),
        (lmdb.VersionMismatchError("mdb_env_open", -30794), RefDatabaseError, "incompatible"),
        (lmdb.ReadersFullError("mdb_txn_begin", -30790), RefDatabaseError, "too many"),
        (lmdb.LockError("mdb_env_open", 11), RefDatabaseError, "locked"),
    ],
)
def test_each_lmdb_error_is_one_pacha_line(error: Exception, kind: type, words: str, tmp_path: Path) -> None:
    mapped = refenv.db_error(error, tmp_path / "refs", "updating refs")
    assert isinstance(mapped, kind) and isinstance(mapped, PachaError)
    assert mapped.exit_code == 128
    assert words in str(mapped) and "\n" not in str(mapped)
