"""Registry files are private by default (issue 15): directories 0700, files that change 0600,
files that never change 0400, whatever the user's umask; `pacha init --shared=group` makes them
group-readable and -writable instead, recorded so that every later write honours it. What a
command writes outside the registry (a download) follows the user's own umask.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PACHA, Cli

MUTABLE = {"config.toml", "gc.lock", "data.mdb", "lock.mdb", "repack.lock", "ref-snapshot", "keyring"}


def runner(cli: Cli, registry: Path, umask: int, **extra: str) -> Callable[..., str]:
    env = {**cli.env, "PACHA_DIR": str(registry), **extra}

    def run(*args: str | Path) -> str:
        result = subprocess.run(
            [*PACHA, *map(str, args)],
            env=env,
            cwd=cli.cwd,
            capture_output=True,
            preexec_fn=lambda: os.umask(umask),
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout.decode()

    return run


def exercise(run: Callable[..., str], work: Path) -> None:
    """init was run; now every kind of write: files, folders, stages, policies, packs, gc."""
    (work / "m.bin").write_bytes(os.urandom(40_000))
    folder = work / "folder"
    folder.mkdir(exist_ok=True)
    (folder / "a.txt").write_text("a")
    run("model", "register", "m", work / "m.bin", "-v", "1.0.0")
    run("data", "register", "d", folder, "-v", "1.0.0")
    run("model", "stage", "m:1.0.0", "-t", "staging")
    run("policy", "set", "m", "--reader", "public")
    run("repack")
    run("model", "register", "m", work / "m.bin", "-v", "1.0.1")
    run("model", "delete", "m:1.0.1")
    run("gc", "--prune", "now")


def modes(registry: Path) -> dict[str, int]:
    return {str(p.relative_to(registry)): p.lstat().st_mode for p in (registry, *registry.rglob("*"))}


@pytest.mark.parametrize("umask", [0o000, 0o002, 0o022, 0o077])
def test_a_registry_is_private_whatever_the_umask(cli: Cli, tmp_path: Path, umask: int) -> None:
    registry = tmp_path / f"private-{umask:o}"
    run = runner(cli, registry, umask)
    run("init", "-q")
    assert run("config", "core.shared").strip() == "private"
    exercise(run, tmp_path)
    found = modes(registry)
    assert any(name.startswith("objects/pack") for name in found)  # repack made a pack
    for name, mode in found.items():
        perm = stat.S_IMODE(mode)
        if stat.S_ISDIR(mode):
            assert perm == 0o700, (name, oct(perm))
        elif Path(name).name in MUTABLE:
            assert perm == 0o600, (name, oct(perm))
        else:  # objects, packs, indexes: read-only, for the owner only
            assert perm == 0o400, (name, oct(perm))


def test_a_download_follows_the_users_umask_not_the_registrys(cli: Cli, tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    run = runner(cli, registry, 0o022)
    run("init", "-q")
    exercise(run, tmp_path)
    run("model", "download", "m:1.0.0", "-o", tmp_path / "out.bin")
    run("data", "download", "d:1.0.0", "-o", tmp_path / "outdir")
    assert stat.S_IMODE((tmp_path / "out.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "outdir").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "outdir" / "a.txt").stat().st_mode) == 0o644


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_group_shared_registry_is_group_readable_and_writable(cli: Cli, tmp_path: Path, umask: int) -> None:
    registry = tmp_path / f"group-{umask:o}"
    run = runner(cli, registry, umask)
    run("init", "-q", "--shared=group")
    exercise(run, tmp_path)
    for name, mode in modes(registry).items():
        perm = stat.S_IMODE(mode)
        if stat.S_ISDIR(mode):
            assert perm & 0o2770 == 0o2770, (name, oct(perm))  # setgid, group rwx
        elif Path(name).name in MUTABLE:
            assert perm & 0o660 == 0o660, (name, oct(perm))
        else:
            assert perm & 0o440 == 0o440 and not perm & 0o222, (name, oct(perm))
        assert not perm & 0o002, (name, oct(perm))  # never writable by others


def test_an_encrypted_registrys_keyring_is_private(cli: Cli, tmp_path: Path) -> None:
    registry = tmp_path / "sealed"
    run = runner(cli, registry, 0o022, PACHA_PASSPHRASE="a long test passphrase")
    run("init", "-q", "--encrypt")
    run("model", "register", "m", __file__)
    keyring = registry / "keyring"
    assert keyring.exists() and stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert all(not stat.S_IMODE(m) & 0o077 for m in modes(registry).values())


def test_a_registry_made_before_core_shared_keeps_the_umask(cli: Cli, tmp_path: Path) -> None:
    """No core.shared in config.toml: an older Pacha made it under the umask; new files follow
    the umask too (upgrading changes no team's modes); `init --shared=private` closes it."""
    registry = tmp_path / "old"
    run = runner(cli, registry, 0o022)
    run("init", "-q", "--shared=umask")
    config = registry / "config.toml"
    config.write_text(config.read_text().replace('shared = "umask"', ""))
    run("model", "register", "m", __file__, "-v", "1.0.0")
    assert any(stat.S_IMODE(m) & 0o044 for m in modes(registry).values())
    run("init", "-q", "--shared=private")
    run("model", "register", "m", __file__, "-v", "1.0.1", "-m", "after")
    for name, mode in modes(registry).items():
        assert not stat.S_IMODE(mode) & 0o077, (name, oct(mode))


def test_a_directory_remote_follows_the_users_umask(cli: Cli, tmp_path: Path) -> None:
    """A remote is shared on purpose: what push writes there is not made private."""
    registry, remote = tmp_path / "reg", tmp_path / "remote"
    run = runner(cli, registry, 0o022)
    run("init", "-q")
    exercise(run, tmp_path)
    run("remote", "add", "origin", remote, "--no-check")
    run("push", "origin")
    written = [p for p in remote.rglob("*")]
    assert any(p.is_file() for p in written)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, (path, oct(path.stat().st_mode))
    assert all(not stat.S_IMODE(m) & 0o077 for m in modes(registry).values())  # the registry stays private


def test_programs_pacha_starts_get_the_users_umask(cli: Cli, tmp_path: Path) -> None:
    """A hook and a `recipe run` command write their own files: the user's mode, not 0600."""
    import sys

    from tests.test_recipes import prepare_recipe

    registry = tmp_path / "reg"
    run = runner(cli, registry, 0o022)
    run("init", "-q")
    hooks = registry / "hooks"
    hooks.mkdir()
    (hooks / "post-commit").write_text(f"#!/bin/sh\ntouch {tmp_path / 'from-hook'}\n")
    (hooks / "post-commit").chmod(0o755)
    recipe = prepare_recipe(Cli(registry, tmp_path), tmp_path)  # registers its dataset (hook runs)
    run("recipe", "register", recipe)
    run("recipe", "run", "bert-finetune:1.0.0", "--", sys.executable, "-c", "open('from-run', 'w')")
    assert stat.S_IMODE((tmp_path / "from-hook").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "from-run").stat().st_mode) == 0o644
    made_by_pacha = {
        k: m for k, m in modes(registry).items() if not k.startswith("hooks")
    }  # the test made hooks/
    assert all(not stat.S_IMODE(m) & 0o077 for m in made_by_pacha.values())


def _process_umask() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))


@pytest.mark.parametrize("shared", ["private", "group"])
def test_opening_and_committing_in_process_leaves_the_umask_alone(tmp_path: Path, shared: str) -> None:
    """A Python program using the API keeps its own umask: the registry's modes are set on what
    Pacha creates, not by changing the process's umask (which would change every file the
    program writes afterwards)."""
    import pacha
    from porcelain import Registry
    from porcelain.versions.request import RegisterRequest

    previous = os.umask(0o002)
    try:
        root = tmp_path / f"in-process-{shared}"
        pacha.init_registry(root, shared=shared)
        assert _process_umask() == 0o002
        reg = Registry.open(root)
        (tmp_path / "m.bin").write_bytes(os.urandom(5000))
        reg.register(RegisterRequest(kind="model", name="m", path=str(tmp_path / "m.bin"), version="1.0.0"))
        reg.set_stage("model", "m:1.0.0", "staging")
        pacha.open_registry(root).config.set("user.note", "x")
        assert _process_umask() == 0o002  # nothing in Pacha changed it
        mine = tmp_path / "mine.txt"
        mine.write_text("the program's own file")
        assert stat.S_IMODE(mine.stat().st_mode) == 0o664
        for name, mode in modes(root).items():
            perm = stat.S_IMODE(mode)
            if shared == "private":
                assert not perm & 0o077, (name, oct(perm))
                want = 0o700 if stat.S_ISDIR(mode) else 0o600 if Path(name).name in MUTABLE else 0o400
                assert perm == want, (name, oct(perm))
            elif stat.S_ISDIR(mode):
                assert perm & 0o2770 == 0o2770, (name, oct(perm))
            else:
                assert perm & 0o440 == 0o440 and not perm & 0o002, (name, oct(perm))
    finally:
        os.umask(previous)
