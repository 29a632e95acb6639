"""Shared fixtures: run the real `pacha` command in a subprocess, against a temp registry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from blake3 import blake3
from hypothesis import HealthCheck, settings

import pacha
from tests.seaweedfs import s3_bucket, seaweedfs  # noqa: F401 (fixtures: a real S3 server)

# Hypothesis properties assert behaviour, never speed (speed lives in scripts/bench_*.py): no
# per-example deadline and no too-slow health check, which fail by the machine's load alone
# (test_key_merge did, once, on a loaded machine). Tests that set their own settings keep them.
settings.register_profile("pacha", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pacha")

PACHA = [sys.executable, "-c", "from porcelain.cli import main; main()"]


@dataclass
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


class Cli:
    """Runs `pacha ARGS` with PACHA_DIR set to this test's registry."""

    def __init__(self, registry: Path, cwd: Path) -> None:
        self.registry = registry
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PACHA_")}
        self.env["PACHA_DIR"] = str(registry)
        self.env["PACHA_AUTHOR_NAME"] = "Test User"
        self.env["PACHA_AUTHOR_EMAIL"] = "test@example.com"

    def __call__(
        self,
        *args: str | Path,
        input: bytes | str | None = None,
        ok: bool = True,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Result:
        if isinstance(input, str):
            input = input.encode()
        proc = subprocess.run(
            [*PACHA, *map(str, args)],
            input=input if input is not None else b"",
            capture_output=True,
            cwd=cwd or self.cwd,
            env=env if env is not None else self.env,
            timeout=120,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr.decode())
        if ok and result.code != 0:
            raise AssertionError(f"pacha {' '.join(map(str, args))} exited {result.code}: {result.err}")
        assert "Traceback" not in result.err, result.err
        return result

    def fails(
        self,
        *args: str | Path,
        code: int | None = None,
        input: bytes | str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        registry: Path | None = None,
    ) -> Result:
        """Run a command expected to fail with one clear line on stderr.

        A refused command leaves the registry byte-identical (issue 12 item 10): every file
        is compared before and after (registry: another registry the command uses).
        """
        root = registry or self._registry_of(env)
        before = registry_digest(root)
        result = self(*args, input=input, ok=False, env=env, cwd=cwd)
        assert result.code != 0, f"pacha {args} should have failed"
        if code is not None:
            assert result.code == code, (result.code, result.err)
        after = registry_digest(root)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, f"pacha {args} failed but changed the registry: {changed}"
        return result

    def _registry_of(self, env: dict[str, str] | None) -> Path:
        return Path((env or self.env).get("PACHA_DIR", self.registry))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.fixture(scope="session")
def fresh_registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A registry made by `pacha init -q` once per session, and the umask it was made under.

    A fresh registry's files are the same bytes every time (config.toml, an empty
    refs/data.mdb, gc.lock; refs/lock.mdb is LMDB's reader table, which LMDB resets when
    the first process opens it), so each test gets a copy instead of a subprocess of its own.
    """
    base = tmp_path_factory.mktemp("fresh")
    Cli(base / "registry", base)("init", "-q")
    return base / "registry", _umask()


@pytest.fixture
def cli(tmp_path: Path, fresh_registry: tuple[Path, int]) -> Cli:
    """A new, empty registry in tmp_path/registry (as `pacha init -q` makes it)."""
    runner = Cli(tmp_path / "registry", tmp_path)
    template, mask = fresh_registry
    if _umask() == mask:  # modes as init would set them now
        shutil.copytree(template, runner.registry, symlinks=True)
    else:
        runner("init", "-q")
    return runner


@pytest.fixture
def registry(cli: Cli):
    return pacha.open_registry(cli.registry)


PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def encrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pacha.Registry:
    """A new registry made by `pacha init --encrypt`, unlocked by PASSPHRASE in process and in
    the commands it runs."""
    monkeypatch.setenv("PACHA_PASSPHRASE", PASSPHRASE)
    runner = Cli(tmp_path / "registry", tmp_path)
    runner.env["PACHA_PASSPHRASE"] = PASSPHRASE
    runner("init", "-q", "--encrypt")
    return pacha.open_registry(runner.registry)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (LMDB files included): to prove nothing changed."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "lock.mdb":
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


# LMDB's lock file changes on every open, by design; it holds no registry state.
UNCOMPARED = {"lock.mdb"}


def registry_digest(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under root (LMDB files included) by relative path: its mode and BLAKE3 hash."""
    out: dict[str, tuple[int, str]] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        if path.name in UNCOMPARED:
            continue
        key = str(path.relative_to(root))
        info = path.lstat()
        if path.is_file() and not path.is_symlink():
            try:
                digest = blake3(path.read_bytes()).hexdigest()
            except OSError:  # unreadable (a permissions test): its metadata must still match
                digest = "unreadable"
            out[key] = (info.st_mode, digest)
        else:
            out[key] = (info.st_mode, "")
    return out


def damage_object(registry: Path, object_id: str, from_end: int = 50) -> None:
    """Flip one byte near the end of an object's stored body, loose or packed."""
    store = pacha.open_registry(registry).objects
    where, pack = store.locate(object_id)
    if where == "loose":
        path, offset = store.loose.path(object_id), None
    else:
        assert pack is not None
        entry = pack.entry_at(pack.position(bytes.fromhex(object_id)))
        path, offset = pack.path, entry.offset + entry.length - from_end
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset if offset is not None else len(data) - from_end] ^= 0xFF
    path.write_bytes(bytes(data))
