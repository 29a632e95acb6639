"""Sealed files for a recipient's public key (issue 15): `pacha key generate` makes an X25519
key pair, `download --encrypt --recipient PUB` seals to one or several recipients (no shared
passphrase), `pacha decrypt --identity KEY` opens it; a wrong identity and any altered byte
are refused with one line, and nothing is written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Cli
from tests.test_encryption import MARKER, random_with_markers


def _keys(cli: Cli, tmp_path: Path, name: str) -> tuple[Path, Path]:
    identity = tmp_path / "keys" / name
    identity.parent.mkdir(exist_ok=True)
    out = cli("key", "generate", identity).text
    public = identity.with_name(name + ".pub")
    line = public.read_text().splitlines()[-1].split()
    assert line[0] == "pacha-x25519-public" and line[1] in out
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    return identity, public


@pytest.fixture
def shared(cli: Cli, tmp_path: Path) -> tuple[Cli, Path]:
    (tmp_path / "m.bin").write_bytes(random_with_markers(3 << 20, 5))  # several segments
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(MARKER * 40)
    (folder / "sub" / "b.bin").write_bytes(random_with_markers(50_000, 6))
    cli("data", "register", "d", folder, "-v", "1.0.0")
    return cli, tmp_path


def test_a_file_and_a_folder_sealed_to_several_recipients_open_with_each_identity(
    shared: tuple[Cli, Path],
) -> None:
    cli, tmp_path = shared
    (alice, alice_pub), (bob, bob_pub) = _keys(cli, tmp_path, "alice"), _keys(cli, tmp_path, "bob")
    env = {k: v for k, v in cli.env.items() if "PASSPHRASE" not in k}  # no passphrase anywhere
    sealed = tmp_path / "m.sealed"
    cli("model", "download", "m:1.0.0", "--encrypt", "--recipient", alice_pub, "--recipient", bob_pub,
        "-o", sealed, env=env)  # fmt: skip
    assert MARKER not in sealed.read_bytes()
    for identity in (alice, bob):
        out = tmp_path / f"m-{identity.name}.bin"
        cli("decrypt", sealed, "--identity", identity, "-o", out, env=env)
        assert out.read_bytes() == (tmp_path / "m.bin").read_bytes()
    folder_sealed = tmp_path / "d.sealed"
    cli("data", "download", "d:1.0.0", "--encrypt", "--recipient", bob_pub, "-o", folder_sealed, env=env)
    cli("decrypt", folder_sealed, "--identity", bob, "-o", tmp_path / "d.out", env=env)
    assert (tmp_path / "d.out" / "a.txt").read_bytes() == MARKER * 40
    assert (tmp_path / "d.out" / "sub" / "b.bin").read_bytes() == (tmp_path / "folder/sub/b.bin").read_bytes()


def test_a_wrong_or_missing_identity_is_one_line_and_writes_nothing(shared: tuple[Cli, Path]) -> None:
    cli, tmp_path = shared
    _alice, alice_pub = _keys(cli, tmp_path, "alice")
    mallory, _ = _keys(cli, tmp_path, "mallory")
    sealed = tmp_path / "m.sealed"
    cli("model", "download", "m:1.0.0", "--encrypt", "--recipient", alice_pub, "-o", sealed)
    out = tmp_path / "out.bin"
    err = cli.fails("decrypt", sealed, "--identity", mallory, "-o", out, code=128).err
    assert err.count("\n") == 1 and "no identity given opens" in err and "Traceback" not in err, err
    err = cli.fails("decrypt", sealed, "-o", out, code=128).err
    assert err.count("\n") == 1 and "--identity" in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    # a public key is not an identity, nor a passphrase file a recipient
    err = cli.fails("decrypt", sealed, "--identity", alice_pub, "-o", out).err
    assert err.count("\n") == 1 and "pacha-x25519-secret" in err, err
    err = cli.fails("model", "download", "m:1.0.0", "--encrypt", "--recipient", mallory, "-o", out).err
    assert err.count("\n") == 1 and "pacha-x25519-public" in err, err
    assert not out.exists()


def test_an_identity_readable_by_others_is_refused(shared: tuple[Cli, Path]) -> None:
    cli, tmp_path = shared
    alice, alice_pub = _keys(cli, tmp_path, "alice")
    sealed = tmp_path / "m.sealed"
    cli("model", "download", "m:1.0.0", "--encrypt", "--recipient", alice_pub, "-o", sealed)
    os.chmod(alice, 0o644)
    err = cli.fails("decrypt", sealed, "--identity", alice, "-o", tmp_path / "o").err
    assert "chmod 600" in err and not (tmp_path / "o").exists()
    err = cli.fails("key", "generate", alice).err
    assert "exists" in err and err.count("\n") == 1


_SEALED: dict[str, bytes] = {}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=st.floats(min_value=0, max_value=1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_of_a_recipient_file_is_refused(
    shared: tuple[Cli, Path], where: float, bit: int
) -> None:
    cli, tmp_path = shared
    if not _SEALED:
        alice, alice_pub = _keys(cli, tmp_path, "alice")
        _b, bob_pub = _keys(cli, tmp_path, "bob")
        sealed = tmp_path / "m.sealed"
        cli("model", "download", "m:1.0.0", "--encrypt", "--recipient", bob_pub, "--recipient", alice_pub,
            "-o", sealed)  # fmt: skip
        _SEALED["data"] = sealed.read_bytes()
        _SEALED["identity"] = alice.read_bytes()
    data = bytearray(_SEALED["data"])
    # half the cases in the header (magic, recipients' stanzas, segment size), half in the body
    at = int(where * 300) if where < 0.5 else int(where * len(data))
    data[at] ^= 1 << bit
    tampered = tmp_path / "tampered.sealed"
    tampered.write_bytes(bytes(data))
    identity = tmp_path / "alice-identity"
    if not identity.exists():
        identity.write_bytes(_SEALED["identity"])
        os.chmod(identity, 0o600)
    out = tmp_path / "tampered.out"
    result = cli("decrypt", tampered, "--identity", identity, "-o", out, ok=False)
    assert result.code in (1, 128) and result.err.count("\n") == 1 and "Traceback" not in result.err
    assert not out.exists()
