"""Attacks on `pacha init`: a refused `init --encrypt` leaves no registry behind (a plain one
left there would take plaintext on the next command, the opposite of what was asked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "empty-dir"])
def test_init_encrypt_refused_leaves_no_registry(tmp_path: Path, existing: bool) -> None:
    target = tmp_path / "reg"
    if existing:
        target.mkdir()
    cli = Cli(target, tmp_path)
    cli.env["PACHA_PASSPHRASE"] = "short"  # under the 8-character minimum
    result = cli("init", "--encrypt", target, ok=False)
    assert result.code == 128, result.err
    assert len(result.err.strip().splitlines()) == 1 and "8 characters" in result.err
    assert target.is_dir() == existing and (not existing or not any(target.iterdir()))
    # nothing to write plaintext into: the next command finds no registry there
    (tmp_path / "m.bin").write_bytes(b"PLAINTEXT")
    later = cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0", ok=False)
    assert later.code == 128 and "not a pacha registry" in later.err
    # and a good passphrase then makes the encrypted registry asked for
    cli.env["PACHA_PASSPHRASE"] = "long enough passphrase"
    assert "Initialized empty encrypted" in cli("init", "--encrypt", target).text


@pytest.mark.parametrize("encrypt", [True, False])
def test_reinit_of_an_encrypted_registry_says_it_is_encrypted(tmp_path: Path, encrypt: bool) -> None:
    """`init` again (with or without --encrypt) must not call an encrypted registry plain."""
    cli = Cli(tmp_path / "reg", tmp_path)
    cli.env["PACHA_PASSPHRASE"] = "long enough passphrase"
    cli("init", "--encrypt")
    del cli.env["PACHA_PASSPHRASE"]  # reinit needs no passphrase
    again = cli("init", *(["--encrypt"] if encrypt else [])).text
    assert again == f"Reinitialized existing encrypted Pacha registry in {cli.registry}\n"
