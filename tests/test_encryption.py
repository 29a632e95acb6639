"""Encryption at rest through the CLI: an encrypted registry round-trips every artifact kind,
holds no plaintext, refuses a wrong passphrase and tampered ciphertext, manages its keys."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.conftest import Cli, damage_object

PASS = "correct horse battery staple"
MARKER = b"PLAINTEXT-MARKER-7f3a9c"


def encrypted_cli(tmp_path: Path, passphrase: str = PASS) -> Cli:
    cli = Cli(tmp_path / "registry", tmp_path)
    cli.env["PACHA_PASSPHRASE"] = passphrase
    assert "encrypted" in cli("init", "--encrypt").text
    return cli


def random_with_markers(size: int, seed: int) -> bytes:
    """Incompressible bytes (stored as they are when not encrypted) with markers spread in."""
    data = bytearray(random.Random(seed).randbytes(size))
    for at in range(0, size - len(MARKER), max(size // 7, len(MARKER) + 1)):
        data[at : at + len(MARKER)] = MARKER
    return bytes(data)


def plaintext_files(root: Path) -> list[str]:
    """Files under the registry holding the marker (or the marker's record description)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and MARKER in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def make_artifacts(tmp_path: Path) -> dict[str, Path]:
    small = tmp_path / "small.bin"
    small.write_bytes(random_with_markers(5000, 1))
    big = tmp_path / "big.bin"
    big.write_bytes(random_with_markers(9 << 20, 2))  # chunked (over 8 MiB)
    big2 = tmp_path / "big2.bin"
    edited = bytearray(big.read_bytes())
    edited[4 << 20 : (4 << 20) + 100] = os.urandom(100)  # same size: deltas against v1's chunks
    big2.write_bytes(bytes(edited))
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        (folder / f"f{i}.txt").write_bytes(MARKER + b" file %d " % i * 50)
    (folder / "sub" / "w.bin").write_bytes(random_with_markers(70_000, 3))
    return {"small": small, "big": big, "big2": big2, "folder": folder}


def register_all(cli: Cli, art: dict[str, Path]) -> None:
    description = MARKER.decode()
    cli("model", "register", "small", art["small"], "-v", "1.0.0", "-d", description)
    cli("model", "register", "big", art["big"], "-v", "1.0.0")
    cli("model", "register", "big", art["big2"], "-v", "1.1.0")
    cli("data", "register", "folder", art["folder"], "-v", "1.0.0", "-p", description)


def check_downloads(cli: Cli, art: dict[str, Path], tmp_path: Path, tag: str) -> None:
    out = tmp_path / f"out-{tag}"
    out.mkdir()
    for name, version, source in (
        ("small", "1.0.0", "small"),
        ("big", "1.0.0", "big"),
        ("big", "1.1.0", "big2"),
    ):
        target = out / f"{name}-{version}"
        cli("model", "download", f"{name}:{version}", "-o", target)
        assert target.read_bytes() == art[source].read_bytes(), (name, version)
    cli("data", "download", "folder:1.0.0", "-o", out / "folder")
    for path in art["folder"].rglob("*"):
        if path.is_file():
            assert (out / "folder" / path.relative_to(art["folder"])).read_bytes() == path.read_bytes()


def test_every_artifact_kind_round_trips_and_no_plaintext_is_stored(tmp_path: Path) -> None:
    cli = encrypted_cli(tmp_path)
    art = make_artifacts(tmp_path)
    register_all(cli, art)
    assert "deltas: 0" not in cli("count-objects", "-v").text  # v1.1.0 is stored as deltas
    check_downloads(cli, art, tmp_path, "registered")
    assert plaintext_files(cli.registry) == []
    cli("repack")
    cli("model", "delete", "big:1.0.0")
    cli("gc", "--prune", "now")
    cli("fsck")
    check_downloads_after_delete = tmp_path / "after"
    check_downloads_after_delete.mkdir()
    cli("model", "download", "big:1.1.0", "-o", check_downloads_after_delete / "b")
    assert (check_downloads_after_delete / "b").read_bytes() == art["big2"].read_bytes()
    assert plaintext_files(cli.registry) == []
    # ids stay the BLAKE3 of the plaintext: b3sum's answer
    from blake3 import blake3

    assert cli("hash-object", art["small"]).text.strip() == blake3(art["small"].read_bytes()).hexdigest()


def test_wrong_or_missing_passphrase_is_one_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    cli = encrypted_cli(tmp_path)
    art = make_artifacts(tmp_path)
    cli("model", "register", "small", art["small"], "-v", "1.0.0")
    wrong = dict(cli.env, PACHA_PASSPHRASE="not the passphrase")
    for args in (
        ("model", "get", "small:1.0.0"),
        ("model", "register", "small", art["small"], "-v", "2.0.0"),
        ("fsck",),
        ("key", "add", "--name", "x"),
    ):
        result = cli.fails(*args, env=dict(wrong, PACHA_NEW_PASSPHRASE="another passphrase"), code=128)
        assert result.err.count("\n") == 1 and "does not unlock" in result.err, result.err
    missing = {k: v for k, v in cli.env.items() if k != "PACHA_PASSPHRASE"}
    result = cli.fails("model", "download", "small:1.0.0", "-o", tmp_path / "x", env=missing, code=128)
    assert "PACHA_PASSPHRASE" in result.err
    assert not (tmp_path / "x").exists()
    # headers need no key
    blob = cli("hash-object", art["small"]).text.strip()
    assert cli("cat-object", "-t", blob, env=missing).text == "blob\n"


@pytest.mark.parametrize("where", ["loose", "packed"])
def test_a_flipped_bit_in_an_encrypted_body_is_an_authentication_error(tmp_path: Path, where: str) -> None:
    cli = encrypted_cli(tmp_path)
    art = make_artifacts(tmp_path)
    blob = cli("hash-object", "-w", art["small"]).text.strip()
    cli("write-ref", "keep/small", blob, "--create")
    if where == "packed":
        cli("repack")
    damage_object(cli.registry, blob)
    for args in (("cat-object", "blob", blob), ("verify-object", blob)):
        result = cli(*args, ok=False)
        assert result.code != 0 and f"object {blob} failed authentication" in result.err, result.err
    result = cli("fsck", ok=False)
    assert (
        result.code != 0 and blob in result.text + result.err and "authentication" in result.text + result.err
    )


def test_a_flipped_bit_in_a_chunk_of_a_download_names_the_object(tmp_path: Path) -> None:
    cli = encrypted_cli(tmp_path)
    art = make_artifacts(tmp_path)
    cli("model", "register", "big", art["big"], "-v", "1.0.0")
    import pacha

    store = pacha.open_registry(cli.registry).objects
    blob = cli("hash-object", art["big"]).text.strip()
    os.environ["PACHA_PASSPHRASE"] = PASS
    try:
        chunk = store.chunk_list(blob)[3].id  # type: ignore[index]
    finally:
        del os.environ["PACHA_PASSPHRASE"]
    damage_object(cli.registry, chunk)
    result = cli("model", "download", "big:1.0.0", "-o", tmp_path / "o.bin", ok=False)
    assert result.code == 1 and chunk in result.err and "authentication" in result.err, result.err
    assert not (tmp_path / "o.bin").exists()


def test_key_add_remove_rotate_and_rotate_data(tmp_path: Path) -> None:
    cli = encrypted_cli(tmp_path)
    art = make_artifacts(tmp_path)
    register_all(cli, art)
    as_ = {
        name: dict(cli.env, PACHA_PASSPHRASE=p) for name, p in (("first", PASS), ("second", "second phrase"))
    }
    cli("key", "add", "--name", "laptop", env=dict(cli.env, PACHA_NEW_PASSPHRASE="second phrase"))
    assert [line.split("\t")[0] for line in cli("key", "list").lines[1:]] == ["default", "laptop"]
    cli("model", "get", "small:1.0.0", env=as_["second"])
    cli("key", "remove", "default", env=as_["second"])
    cli.fails("model", "get", "small:1.0.0", env=as_["first"], code=128)
    cli.fails("key", "remove", "laptop", env=as_["second"], code=128)  # never the last slot
    # rotate: the slot gets a new passphrase, the master key stays
    master = cli("key", "list").lines[0]
    cli("key", "rotate", env=dict(as_["second"], PACHA_NEW_PASSPHRASE="third phrase!"))
    cli.fails("model", "get", "small:1.0.0", env=as_["second"], code=128)
    third = dict(cli.env, PACHA_PASSPHRASE="third phrase!")
    assert cli("key", "list").lines[0] == master
    old_keyring = (cli.registry / "keyring").read_bytes()
    # rotate --data: every body under a new master key; the old keyring no longer opens them
    cli("key", "add", "--name", "other", env=dict(third, PACHA_NEW_PASSPHRASE="fourth phrase"))
    out = cli("key", "rotate", "--data", env=third).text
    assert "dropped key slot(s) other" in out
    assert cli("key", "list").lines[0] != master
    cli("fsck", env=third)
    cli.env = third
    check_downloads(cli, art, tmp_path, "rotated")
    os.chmod(cli.registry / "keyring", 0o644)
    (cli.registry / "keyring").write_bytes(old_keyring)
    result = cli("model", "get", "small:1.0.0", "-o", tmp_path / "x", env=third, ok=False)
    assert result.code != 0 and "no longer holds" in result.err, result.err


def test_key_file_is_read_and_must_be_private(tmp_path: Path) -> None:
    key_file = tmp_path / "pass.txt"
    key_file.write_text(PASS + "\n")
    key_file.chmod(0o644)
    cli = Cli(tmp_path / "registry", tmp_path)
    result = cli("init", "--encrypt", "--key-file", key_file, ok=False)
    assert result.code == 128 and "chmod 600" in result.err
    key_file.chmod(0o600)
    cli("init", "--encrypt", "--key-file", key_file)
    art = make_artifacts(tmp_path)
    cli(
        "model",
        "register",
        "small",
        art["small"],
        "-v",
        "1.0.0",
        env=dict(cli.env, PACHA_KEY_FILE=str(key_file)),
    )
    cli("model", "get", "small:1.0.0", env=dict(cli.env, PACHA_PASSPHRASE=PASS))  # the same passphrase


def test_index_pack_rebuilds_an_encrypted_pack_index(tmp_path: Path) -> None:
    cli = encrypted_cli(tmp_path)
    art = make_artifacts(tmp_path)
    register_all(cli, art)
    cli("repack")
    (idx,) = (cli.registry / "objects" / "pack").glob("*.idx")
    before = idx.read_bytes()
    idx.unlink()
    cli("index-pack", idx.with_suffix(".pack"))
    assert idx.read_bytes() == before


def test_sealed_file_download_and_decrypt(tmp_path: Path) -> None:
    cli = encrypted_cli(tmp_path)
    art = make_artifacts(tmp_path)
    register_all(cli, art)
    share = dict(cli.env, PACHA_NEW_PASSPHRASE="share phrase")
    for ref, noun, source in (("big:1.1.0", "model", "big2"), ("folder:1.0.0", "data", "folder")):
        sealed = tmp_path / f"{source}.sealed"
        cli(noun, "download", ref, "--encrypt", "-o", sealed, env=share)
        assert sealed.read_bytes()[:8] == b"PACHAENC" and MARKER not in sealed.read_bytes()
        opener = dict(cli.env, PACHA_PASSPHRASE="share phrase")
        out = tmp_path / f"{source}.out"
        cli("decrypt", sealed, "-o", out, env=opener)
        if source == "folder":
            for path in art["folder"].rglob("*"):
                if path.is_file():
                    assert (out / path.relative_to(art["folder"])).read_bytes() == path.read_bytes()
        else:
            assert out.read_bytes() == art[source].read_bytes()
        result = cli("decrypt", sealed, "-o", tmp_path / "wrong", env=cli.env, ok=False)
        assert result.code == 128 and "passphrase does not open" in result.err
        damaged = bytearray(sealed.read_bytes())
        damaged[len(damaged) // 2] ^= 1
        sealed.write_bytes(bytes(damaged))
        result = cli("decrypt", sealed, "-o", tmp_path / "damaged", env=opener, ok=False)
        assert result.code == 1 and "failed authentication" in result.err
        assert not (tmp_path / "damaged").exists()
