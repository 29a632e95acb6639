"""A file given where another is expected says what it is and which one was wanted (issue 15
leftovers): a recipient's public key given to `decrypt --identity` (and the reverse), a file
given where a command makes or fills a directory (`clone`, `init`, `download -o`,
`write-tree`), and messages whose article must agree with the word that follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli


def _keys(cli: Cli, tmp_path: Path) -> tuple[Path, Path]:
    identity = tmp_path / "keys" / "alice"
    identity.parent.mkdir()
    cli("key", "generate", identity)
    return identity, identity.with_name("alice.pub")


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_decrypt_given_the_public_key_as_identity_says_it_is_the_public_key(cli: Cli, tmp_path: Path) -> None:
    identity, public = _keys(cli, tmp_path)
    (tmp_path / "m.bin").write_bytes(b"weights" * 100)
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    sealed = tmp_path / "m.sealed"
    cli("model", "download", "m:1.0.0", "--encrypt", "--recipient", public, "-o", sealed)
    out = tmp_path / "out.bin"
    line = _one_line(cli.fails("decrypt", sealed, "--identity", public, "-o", out).err)
    assert "a identity" not in line
    assert f"{public} is a recipient's public key (pacha-x25519-public), not an identity" in line
    assert "secret key file" in line
    assert not out.exists()
    cli("decrypt", sealed, "--identity", identity, "-o", out)  # the secret one opens it
    assert out.read_bytes() == b"weights" * 100


def test_download_given_an_identity_as_recipient_says_it_is_a_secret_key(cli: Cli, tmp_path: Path) -> None:
    identity, _ = _keys(cli, tmp_path)
    (tmp_path / "m.bin").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    out = tmp_path / "m.sealed"
    result = cli.fails("model", "download", "m:1.0.0", "--encrypt", "--recipient", identity, "-o", out)
    line = _one_line(result.err)
    assert f"{identity} is an identity (a secret key, pacha-x25519-secret), not a recipient" in line
    assert "FILE.pub" in line
    assert not out.exists()


@pytest.mark.parametrize("option", ["--identity", "--recipient"])
def test_a_file_of_neither_kind_is_named_with_the_right_article(
    cli: Cli, tmp_path: Path, option: str
) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    (tmp_path / "m.bin").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    if option == "--identity":
        _, public = _keys(cli, tmp_path)
        sealed = tmp_path / "m.sealed"
        cli("model", "download", "m:1.0.0", "--encrypt", "--recipient", public, "-o", sealed)
        line = _one_line(cli.fails("decrypt", sealed, "--identity", other, "-o", tmp_path / "o").err)
        assert f"{other} is not an identity file" in line
    else:
        args = ("model", "download", "m:1.0.0", "--encrypt", "--recipient", other, "-o", tmp_path / "o")
        line = _one_line(cli.fails(*args).err)
        assert f"{other} is not a recipient file" in line


@pytest.fixture
def remote(cli: Cli, tmp_path: Path) -> Path:
    (tmp_path / "m.bin").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    place = tmp_path / "remote"
    place.mkdir()
    cli("remote", "add", "origin", place)
    cli("push", "origin")
    return place


def test_clone_into_a_file_says_it_is_a_file(cli: Cli, tmp_path: Path, remote: Path) -> None:
    existing = tmp_path / "afile"
    existing.write_bytes(b"mine")
    line = _one_line(cli.fails("clone", remote, existing, code=128).err)
    assert f"{existing} is a file" in line and "not an empty directory" not in line
    assert existing.read_bytes() == b"mine"
    below = _one_line(cli.fails("clone", remote, existing / "sub").err)
    assert f"{existing} is a file, not a directory" in below
    assert existing.read_bytes() == b"mine"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert "is not an empty directory" in cli.fails("clone", remote, tmp_path / "full").err


def test_init_below_a_file_names_the_file(cli: Cli, tmp_path: Path) -> None:
    existing = tmp_path / "afile"
    existing.write_bytes(b"mine")
    assert f"{existing}: it is a file" in _one_line(cli.fails("init", existing, code=128).err)
    line = _one_line(cli.fails("init", existing / "sub" / "reg", code=128).err)
    assert f"{existing} is a file, not a directory" in line
    assert existing.read_bytes() == b"mine"


def test_download_and_write_tree_below_a_file_name_the_file(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    cli("data", "register", "d", folder, "-v", "1.0.0")
    existing = tmp_path / "afile"
    existing.write_bytes(b"mine")
    line = _one_line(cli.fails("data", "download", "d:1.0.0", "-o", existing / "sub", code=128).err)
    assert f"{existing} is a file, not a directory" in line
    line = _one_line(cli.fails("write-tree", existing, code=128).err)
    assert f"{existing} is a file, not a directory" in line
    assert existing.read_bytes() == b"mine"


def test_a_record_of_another_type_is_named_with_the_right_article(cli: Cli, tmp_path: Path) -> None:
    cli("policy", "set", "/", "--reader", "public", "--admin", "user:test@example.com")
    record_id = cli("rev-parse", "policies/root").text.strip()
    line = _one_line(cli.fails("sign", record_id, "--key", "nobody@example.com").err)
    assert "is an access-policy record" in line and "a access" not in line


def test_key_generate_and_sealed_files_below_a_file_name_the_file(cli: Cli, tmp_path: Path) -> None:
    existing = tmp_path / "afile"
    existing.write_bytes(b"mine")
    line = _one_line(cli.fails("key", "generate", existing / "alice", code=128).err)
    assert f"{existing} is a file, not a directory" in line
    identity, public = _keys(cli, tmp_path)
    (tmp_path / "m.bin").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    args = ("model", "download", "m:1.0.0", "--encrypt", "--recipient", public)
    line = _one_line(cli.fails(*args, "-o", existing / "m.sealed", code=128).err)
    assert f"{existing} is a file, not a directory" in line and ".pacha-" not in line
    sealed = tmp_path / "m.sealed"
    cli(*args, "-o", sealed)
    line = _one_line(
        cli.fails("decrypt", sealed, "--identity", identity, "-o", existing / "m.bin", code=128).err
    )
    assert f"{existing} is a file, not a directory" in line
    assert existing.read_bytes() == b"mine"
