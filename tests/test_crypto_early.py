"""Unwrapping an encrypted registry's keys while a command starts up (pacha.crypto.early):
the command gets exactly what unwrapping when it needs the keys would give (the keys, or
the same error), and an early result made from another passphrase or keyring is never used."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pacha.crypto import early
from pacha.crypto.errors import KeyringError, WrongPassphrase
from pacha.crypto.keyring import FILE_NAME, Keyring
from pacha.crypto.unlock import _cache
from pacha.registry import find_registry, open_registry
from tests.conftest import Cli


def find() -> Path:
    """The registry the dispatcher would find ($PACHA_DIR here)."""
    return find_registry(None)


PASS = "correct horse battery staple"


@pytest.fixture()
def encrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cli = Cli(tmp_path / "registry", tmp_path)
    cli.env["PACHA_PASSPHRASE"] = PASS
    cli("init", "-q", "--encrypt")
    monkeypatch.setenv("PACHA_DIR", str(cli.registry))
    monkeypatch.setenv("PACHA_PASSPHRASE", PASS)
    monkeypatch.delenv("PACHA_KEY_FILE", raising=False)
    _cache.clear()  # unwrapped keys are cached per process: each test unwraps afresh
    yield cli.registry
    if early._attempt is not None:  # never leave an attempt for the next test
        early._attempt.thread.join()
        early._attempt = None
    _cache.clear()


@pytest.fixture()
def unwraps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads that ran Keyring.unlock (Argon2id), in order."""
    threads: list[str] = []
    real = Keyring.unlock

    def unlock(self: Keyring, passphrase: bytes, where: str):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real(self, passphrase, where)

    monkeypatch.setattr(Keyring, "unlock", unlock)
    return threads


def test_the_keys_unwrapped_early_are_the_ones_the_command_uses(encrypted: Path, unwraps: list[str]) -> None:
    early.start(["model", "register"], find)
    keys = open_registry(encrypted).objects.keys
    kid, _cipher = keys.sealing()
    assert unwraps == ["pacha-unlock"]  # Argon2id ran once, on the helper thread
    assert kid == Keyring.load(encrypted).current
    assert keys.unlocked().slot is not None and keys.unlocked().slot.name == "default"


def test_a_wrong_passphrase_is_the_same_error_early_or_not(
    encrypted: Path, unwraps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACHA_PASSPHRASE", "not the passphrase")
    with pytest.raises(WrongPassphrase) as lazily:
        open_registry(encrypted).objects.keys.sealing()
    early.start([], find)
    with pytest.raises(WrongPassphrase) as sooner:
        open_registry(encrypted).objects.keys.sealing()
    assert str(sooner.value) == str(lazily.value)
    assert unwraps == ["MainThread", "pacha-unlock"]


def test_an_early_result_from_another_passphrase_is_not_used(
    encrypted: Path, unwraps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    early.start([], find)  # with the right passphrase ...
    early._attempt.thread.join()  # type: ignore[union-attr]
    monkeypatch.setenv("PACHA_PASSPHRASE", "not the passphrase")  # ... which the command no longer gives
    with pytest.raises(WrongPassphrase):
        open_registry(encrypted).objects.keys.sealing()
    assert unwraps == ["pacha-unlock", "MainThread"]


def test_an_early_result_from_an_older_keyring_is_not_used(
    encrypted: Path, unwraps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    early.start([], find)
    early._attempt.thread.join()  # type: ignore[union-attr]  # made from the keyring as it was
    ring = Keyring.load(encrypted)
    _slot, master_keys = ring.unlock(PASS.encode(), "the test's keyring")
    ring.add("laptop", b"another good passphrase", master_keys)  # changed since, as by `key add`
    ring.save(encrypted, master_keys[ring.current], "test")
    unwraps.clear()
    keys = open_registry(encrypted).objects.keys
    keys.sealing()
    assert unwraps == ["MainThread"]  # unwrapped again, from the keyring as it is now


def test_nothing_starts_without_a_passphrase_at_hand_or_for_another_registry(
    encrypted: Path, unwraps: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    early.start(["model", "list", "--registry", str(tmp_path)], find)  # a registry it does not guess
    early.start(["model", "register", "--help"], find)
    assert early._attempt is None
    monkeypatch.delenv("PACHA_PASSPHRASE")
    early.start([], find)  # only a prompt could give it: never asked early
    assert early._attempt is None
    key_file = tmp_path / "key"
    key_file.write_text(PASS + "\n")
    key_file.chmod(0o644)  # readable by others: refused, by the command itself
    monkeypatch.setenv("PACHA_KEY_FILE", str(key_file))
    early.start([], find)
    with pytest.raises(KeyringError, match="readable by others"):
        open_registry(encrypted).objects.keys.sealing()
    assert unwraps == []


def test_an_early_result_waits_for_its_own_registry(
    encrypted: Path, unwraps: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Cli(tmp_path / "other", tmp_path)
    other.env["PACHA_PASSPHRASE"] = PASS
    other("init", "-q", "--encrypt")
    early.start([], find)  # for PACHA_DIR's registry
    open_registry(other.registry).objects.keys.sealing()  # another registry is opened first
    assert unwraps == ["pacha-unlock", "MainThread"]
    open_registry(encrypted).objects.keys.sealing()  # ... and then the one it was made for
    assert unwraps == ["pacha-unlock", "MainThread"]  # took the early result, unwrapped nothing


def test_a_plain_registry_starts_no_unwrapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = Cli(tmp_path / "plain", tmp_path)
    cli("init", "-q")
    monkeypatch.setenv("PACHA_DIR", str(cli.registry))
    monkeypatch.setenv("PACHA_PASSPHRASE", PASS)
    early.start([], find)
    attempt = early._attempt
    assert attempt is not None
    attempt.thread.join()
    assert (attempt.root, attempt.result, attempt.error) == (None, None, None)
    assert not (cli.registry / FILE_NAME).exists()
    assert early.take(cli.registry, b"", PASS.encode()) is None
    early._attempt = None


def test_commands_that_unwrap_their_own_way_start_nothing_early(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "registry", tmp_path)
    cli.env["PACHA_PASSPHRASE"] = PASS
    cli("init", "-q", "--encrypt")
    (tmp_path / "f.bin").write_bytes(b"weights" * 1000)
    cli("model", "register", "m", tmp_path / "f.bin", "-v", "1.0.0")
    cli.env["PACHA_NEW_PASSPHRASE"] = "another good passphrase"
    cli("key", "add", "--name", "laptop")
    cli.env["PACHA_PASSPHRASE"] = "another good passphrase"
    cli("model", "download", "m:1.0.0", "-o", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b"weights" * 1000
    cli.env["PACHA_PASSPHRASE"] = "wrong passphrase!"
    failed = cli.fails("model", "download", "m:1.0.0", "-o", tmp_path / "out2.bin")
    assert "does not unlock" in failed.err and len(failed.err.splitlines()) == 1
    assert not (tmp_path / "out2.bin").exists()


def test_commands_that_end_before_their_key_is_derived_exit_cleanly(tmp_path: Path) -> None:
    # A usage error can end a command while the helper thread is still unwrapping. The process
    # waits for it: as a daemon thread it was at times (1 run in 15 of a quick command here)
    # stopped inside cryptography's Rust code at exit, and the process aborted (SIGABRT,
    # "FATAL: exception not rethrown").
    cli = Cli(tmp_path / "registry", tmp_path)
    cli.env["PACHA_PASSPHRASE"] = PASS
    cli("init", "-q", "--encrypt")
    for _ in range(5):
        for args in (("model", "register"), ("fsck", "--no-such-option")):
            result = cli.fails(*args, code=2)
            assert "FATAL" not in result.err and len(result.err.strip().splitlines()) == 1, result.err
