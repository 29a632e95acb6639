"""A registry this process cannot write is still fully readable, and reading never writes.

Two genuinely read-only registries (the tests run as root, who may write any file,
so chmod alone proves nothing): a read-only bind mount made in a private mount namespace
(`unshare`), and a registry owned by root read by another user (uid 65534 via setpriv).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PACHA, Cli

NOBODY = 65534

# Commands that only read; {rec} is the record id of m:1.0.0, {out} a path outside the registry.
READ_COMMANDS = [
    "model list",
    "model list --json",
    "model get m:1.0.0",
    "model get m:latest --json",
    "model download m:1.0.0 -o {out}/m.bin",
    "model history m",
    "model lineage m2:1.0.0",
    "model provenance m:1.0.0",
    "model card m:1.0.0",
    "data list",
    "data get d:1.0.0",
    "data download d:1.0.0 -o {out}/d.csv",
    "verify m:1.0.0",
    "stats",
    "run list",
    "recipe list",
    "fsck",
    "for-each-ref",
    "read-ref models/m/1.0.0",
    "reflog",
    "reflog models/m/1.0.0",
    "rev-parse m@staging",
    "cat-object -p {rec}",
    "verify-object {rec}",
    "count-objects -v",
    "verify-pack",
    "multi-pack-index verify",
    "config --list",
]

# Commands that write, each of which would change the registry if it could.
WRITE_COMMANDS = [
    "write-ref refs/x {rec}",
    "delete-ref models/m/1.0.0",
    "model stage m:1.0.0 -t production",
    "model register m {work}/new.bin -v 3.0.0",
    "model lineage add m:1.1.0 --from m2:1.0.0 --relation pruned --param sparsity=0.5",
    "gc --prune now",
    "repack",
    "reindex",
    "config user.name Somebody",
    "hash-object -w {work}/new.bin",
]


def tree_state(root: Path, skip_lock: bool = True) -> dict[str, tuple[int, int, str]]:
    """Every file and directory under root: mode, mtime (ns) and a digest of its bytes.

    refs/lock.mdb is LMDB's reader table (shared memory between processes, no data):
    a reader registers in it when it can; it is compared too where nothing may change.
    """
    out = {}
    for path in sorted(root.rglob("*")):
        if skip_lock and path.name == "lock.mdb":
            continue
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_mtime_ns, digest)
    return out


_MADE: list[Path] = []  # removed when the module's tests are done (they were left in /tmp)


def _world_dir() -> Path:
    """A temp directory another user can enter (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="pacha-ro-"))
    path.chmod(0o755)
    _MADE.append(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _remove_world_dirs() -> Iterator[None]:
    yield
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)


@pytest.fixture(scope="module")
def populated() -> Iterator[tuple[Cli, dict[str, str]]]:
    """A registry with models, a dataset, lineage, a stage and a pack (built once)."""
    base = _world_dir()
    work = base / "work"
    work.mkdir()
    cli = Cli(base / "registry", work)
    cli("init", "-q", "--shared=umask")  # another user reads it
    (work / "m.bin").write_bytes(os.urandom(200_000))
    (work / "new.bin").write_bytes(os.urandom(1000))
    (work / "d.csv").write_text("a,b\n1,2\n3,4\n")
    cli("model", "register", "m", "m.bin", "-v", "1.0.0")
    cli("data", "register", "d", "d.csv", "-v", "1.0.0")
    cli("model", "register", "m2", "m.bin", "-v", "1.0.0")
    cli("model", "lineage", "add", "m2:1.0.0", "--from", "m:1.0.0", "--relation", "fine-tuned")
    cli("model", "stage", "m:1.0.0", "-t", "staging")
    cli("repack")
    cli("model", "register", "m", "m.bin", "-v", "1.1.0")  # and one loose version
    for sub in base.rglob("*"):  # another user may read (as a umask of 022 would have made it)
        if sub.is_dir():
            sub.chmod(0o755)
    values = {"rec": cli("rev-parse", "m:1.0.0").text.strip(), "work": str(work)}
    yield cli, values
    shutil.rmtree(base, ignore_errors=True)


def _args(command: str, values: dict[str, str], out: Path) -> list[str]:
    return command.format(out=out, **values).split()


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_reading_changes_no_byte_and_no_time(populated, command: str) -> None:
    cli, values = populated
    out = _world_dir()
    before = tree_state(cli.registry)
    cli(*_args(command, values, out))
    assert tree_state(cli.registry) == before
    shutil.rmtree(out)


def test_reading_a_new_registry_creates_nothing(tmp_path: Path) -> None:
    """The first fsck (or list) after init used to create tables in refs/data.mdb."""
    cli = Cli(tmp_path / "registry", tmp_path)
    cli("init", "-q")
    before = tree_state(cli.registry)
    for command in ("fsck", "for-each-ref", "model list", "stats", "reflog", "data list", "run list"):
        cli(*command.split())
        assert tree_state(cli.registry) == before, command


# --- a read-only bind mount --------------------------------------------------------------------
class ReadOnlyMountCli(Cli):
    """Runs pacha in a private mount namespace where the registry is a read-only bind mount."""

    def __init__(self, source: Path, view: Path, cwd: Path) -> None:
        super().__init__(view, cwd)
        self.source = source
        script = 'mount --bind "$0" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
        self.wrap = ["unshare", "-rm", "sh", "-c", script, str(source), str(view)]

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        import tests.conftest as conftest

        saved = conftest.PACHA
        conftest.PACHA = [*self.wrap, *PACHA]
        try:
            return super().__call__(*args, **kwargs)
        finally:
            conftest.PACHA = saved


@pytest.fixture
def mounted(populated, tmp_path: Path) -> tuple[ReadOnlyMountCli, dict[str, str]]:
    cli, values = populated
    view = tmp_path / "view"
    view.mkdir()
    ro = ReadOnlyMountCli(cli.registry, view, Path(values["work"]))
    probe = subprocess.run(
        [*ro.wrap, "sh", "-c", f"touch {view}/probe"], capture_output=True, text=True, check=False
    )
    if "Read-only file system" not in probe.stderr:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr.strip()}")
    return ro, values


def test_a_read_only_mount_answers_every_read_command(mounted, populated) -> None:
    ro, values = mounted
    cli, _ = populated
    for command in READ_COMMANDS:
        expected, out = _world_dir(), _world_dir()
        result = ro(*_args(command, values, out))
        if command.startswith(("model download", "data download")):
            assert (out / "m.bin").exists() or (out / "d.csv").exists()
        else:
            # the same answer, but for the registry's path (the view's, not the source's)
            same = cli(*_args(command, values, expected)).out.replace(bytes(cli.registry), bytes(ro.registry))
            assert result.out == same, command
        shutil.rmtree(out)
        shutil.rmtree(expected)


def test_a_read_only_mount_refuses_writes_in_one_line(mounted, populated) -> None:
    ro, values = mounted
    cli, _ = populated
    before = tree_state(cli.registry, skip_lock=False)
    for command in WRITE_COMMANDS:
        result = ro(*_args(command, values, Path("/nonexistent")), ok=False)
        assert result.code == 128, (command, result.code, result.err)
        assert "read-only" in result.err and len(result.err.strip().splitlines()) == 1, (command, result.err)
    assert tree_state(cli.registry, skip_lock=False) == before


# --- another user's registry ------------------------------------------------------------------
class OtherUserCli(Cli):
    """Runs pacha as uid/gid 65534, who may read but not write the root-owned registry."""

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        import tests.conftest as conftest

        saved = conftest.PACHA
        conftest.PACHA = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *PACHA]
        try:
            return super().__call__(*args, **kwargs)
        finally:
            conftest.PACHA = saved


@pytest.fixture
def other_user(populated) -> tuple[OtherUserCli, dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    cli, values = populated
    other = OtherUserCli(cli.registry, Path(values["work"]))
    other.env["HOME"] = values["work"]
    return other, values


def test_another_users_registry_is_readable(other_user, populated) -> None:
    other, values = other_user
    cli, _ = populated
    out = _world_dir()
    out.chmod(0o777)
    expected = {command: cli(*_args(command, values, out)).out for command in READ_COMMANDS}
    before = tree_state(cli.registry, skip_lock=False)
    for command in READ_COMMANDS:
        for leftover in out.iterdir():
            leftover.unlink()
        result = other(*_args(command, values, out))
        if command.startswith("model download"):
            assert (out / "m.bin").read_bytes() == (Path(values["work"]) / "m.bin").read_bytes()
        elif not command.startswith("data download"):
            assert result.out == expected[command], command
    assert tree_state(cli.registry, skip_lock=False) == before  # not even the lock file
    shutil.rmtree(out)


def test_another_users_registry_refuses_writes_in_one_line(other_user, populated) -> None:
    other, values = other_user
    cli, _ = populated
    before = tree_state(cli.registry, skip_lock=False)
    for command in WRITE_COMMANDS:
        result = other(*_args(command, values, Path("/nonexistent")), ok=False)
        assert result.code == 128, (command, result.code, result.err)
        assert "read-only" in result.err and len(result.err.strip().splitlines()) == 1, (command, result.err)
    assert tree_state(cli.registry, skip_lock=False) == before
