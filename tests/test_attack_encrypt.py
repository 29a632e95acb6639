"""Attacks on encryption: conversions of the simplest registries, whose objects are all loose
(no pack was ever written, so objects/pack/ does not exist): `pacha encrypt` and `pacha key
rotate --data` must work there as on any other."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli

PASS = "correct horse battery staple"


def test_encrypt_a_registry_that_never_packed(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_bytes(b"PLAINTEXT-MARKER weights")
    cli("model", "register", "m", tmp_path / "m.txt", "-v", "1.0.0")
    assert not (cli.registry / "objects" / "pack").exists()
    cli.env["PACHA_PASSPHRASE"] = PASS
    cli("encrypt")
    cli("fsck")
    cli("model", "get", "m:1.0.0", "-o", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == b"PLAINTEXT-MARKER weights"
    stored = [p for p in (cli.registry / "objects").rglob("*") if p.is_file()]
    assert stored and not any(b"PLAINTEXT-MARKER" in p.read_bytes() for p in stored)


def test_rotate_data_of_a_registry_that_never_packed(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "registry", tmp_path)
    cli.env["PACHA_PASSPHRASE"] = PASS
    cli("init", "--encrypt")
    (tmp_path / "m.txt").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "m.txt", "-v", "1.0.0")
    before = cli("key", "list").lines[0]
    cli("key", "rotate", "--data")
    after = cli("key", "list").lines[0]
    assert after.startswith("master key ") and after != before and "retiring" not in after
    cli("fsck")
    cli("model", "get", "m:1.0.0", "-o", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == b"weights"
