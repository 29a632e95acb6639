"""A registry shared by a Unix group: with `pacha init --shared=umask` every file Pacha creates
honours the umask, and `pacha init --shared=group` makes a registry every member can write
whatever their umask (the default, a private registry, is tested in tests/test_permissions.py).

Two real users (uids 1001 and 1002, in group 5000) run the CLI through setpriv; the
registry lives in a setgid directory of their group, as a team's shared registry would.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PACHA

ALICE, BOB, TEAM = 1001, 1002, 5000
MUTABLE = {"config.toml", "gc.lock", "data.mdb", "lock.mdb", "repack.lock", "ref-snapshot"}


@pytest.fixture
def team_dir() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("running as two users needs root")
    path = Path(tempfile.mkdtemp(prefix="pacha-team-"))
    os.chown(path, 0, TEAM)
    path.chmod(0o2775)
    for name in ("a.bin", "b.bin", "c.bin"):
        (path / name).write_bytes(os.urandom(30_000))
        (path / name).chmod(0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_user(root: Path, uid: int, umask: int) -> Callable[..., subprocess.CompletedProcess]:
    """A runner of `pacha ARGS` as uid (group TEAM) with the given umask."""

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ["PATH"], "HOME": str(root), "PACHA_DIR": str(root / "reg")}
        env.update(PACHA_AUTHOR_NAME=f"user{uid}", PACHA_AUTHOR_EMAIL=f"user{uid}@example.com")
        result = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={TEAM}", f"--groups={TEAM}", *PACHA, *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            preexec_fn=lambda: os.umask(umask),
            timeout=120,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, (uid, args, result.stderr)
        return result

    return run


def assert_group_can_use(registry: Path) -> None:
    """Every directory group-writable and setgid, every file group-readable, every file that
    changes group-writable, and everything in the team's group."""
    for path in (registry, *registry.rglob("*")):
        st = path.lstat()
        assert st.st_gid == TEAM, path
        if stat.S_ISDIR(st.st_mode):
            assert st.st_mode & 0o2070 == 0o2070, (path, oct(st.st_mode))
        else:
            assert st.st_mode & 0o040, (path, oct(st.st_mode))
            if path.name in MUTABLE:
                assert st.st_mode & 0o020, (path, oct(st.st_mode))


def _work_together(alice, bob) -> None:  # type: ignore[no-untyped-def]
    bob("model", "list")
    bob("model", "register", "m", "b.bin", "-v", "1.1.0")
    bob("model", "stage", "m:1.0.0", "-t", "staging")
    alice("model", "stage", "m:1.1.0", "-t", "staging")
    bob("repack")
    alice("model", "register", "m", "c.bin", "-v", "1.2.0")
    bob("gc", "--prune", "now")
    alice("fsck")
    assert "1.2.0" in bob("model", "list").stdout


def test_a_second_member_uses_a_registry_made_with_umask_002(team_dir: Path) -> None:
    alice, bob = as_user(team_dir, ALICE, 0o002), as_user(team_dir, BOB, 0o002)
    alice("init", "-q", "--shared=umask")
    alice("model", "register", "m", "a.bin", "-v", "1.0.0")
    _work_together(alice, bob)
    assert_group_can_use(team_dir / "reg")


def test_init_shared_group_works_whatever_each_members_umask(team_dir: Path) -> None:
    alice, bob = as_user(team_dir, ALICE, 0o022), as_user(team_dir, BOB, 0o077)
    alice("init", "-q", "--shared=group")
    assert bob("config", "core.shared").stdout.strip() == "group"
    alice("model", "register", "m", "a.bin", "-v", "1.0.0")
    _work_together(alice, bob)
    assert_group_can_use(team_dir / "reg")


def test_init_shared_on_an_existing_registry_shares_what_is_there(team_dir: Path) -> None:
    alice, bob = as_user(team_dir, ALICE, 0o022), as_user(team_dir, BOB, 0o022)
    alice("init", "-q", "--shared=umask")
    alice("model", "register", "m", "a.bin", "-v", "1.0.0")
    refused = bob("model", "stage", "m:1.0.0", "-t", "staging", ok=False)
    assert refused.returncode == 128 and "read-only" in refused.stderr  # umask 022: not shared
    alice("init", "-q", "--shared=group")
    assert_group_can_use(team_dir / "reg")
    _work_together(alice, bob)


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o027, 0o077])
def test_with_shared_umask_every_file_and_directory_honours_the_umask(
    cli, tmp_path: Path, umask: int
) -> None:
    registry = tmp_path / f"reg-{umask:o}"
    (tmp_path / "m.bin").write_bytes(os.urandom(30_000))
    env = {**cli.env, "PACHA_DIR": str(registry)}

    def run(*args: str) -> None:
        subprocess.run(
            [*PACHA, *args],
            env=env,
            cwd=tmp_path,
            check=True,
            capture_output=True,
            preexec_fn=lambda: os.umask(umask),
        )

    run("init", "-q", "--shared=umask")
    run("model", "register", "m", "m.bin", "-v", "1.0.0")
    run("repack")
    run("model", "stage", "m:1.0.0", "-t", "staging")
    for path in (registry, *registry.rglob("*")):
        mode = path.lstat().st_mode & 0o777
        assert mode & umask == 0, (path, oct(mode), oct(umask))  # nothing the umask forbids
        if path.is_dir():
            assert mode == 0o777 & ~umask, (path, oct(mode))
        elif path.name in MUTABLE:
            assert mode == 0o666 & ~umask, (path, oct(mode))
        else:  # objects, packs, indexes never change: read-only, readable as the umask allows
            assert mode == 0o444 & ~umask | 0o400, (path, oct(mode))


def test_a_bad_shared_value_is_refused_in_one_line(cli, tmp_path: Path) -> None:
    result = cli.fails("init", "-q", "--shared=friends", str(tmp_path / "new"), code=128)
    assert "core.shared must be" in result.err and len(result.err.splitlines()) == 1
    assert not (tmp_path / "new").exists()
    result = cli.fails("config", "core.shared", "friends", code=128)
    assert "private (the default), group, all or umask" in result.err
