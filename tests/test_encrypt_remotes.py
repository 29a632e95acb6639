"""Remotes of an encrypted registry (issue 15): push sends sealed bodies as stored, the remote
holds the keyring (wrapped keys only), clone gives an encrypted registry that opens with the
same passphrase, and nothing plaintext reaches the remote or the clone's disk. Against a
directory remote and a real SeaweedFS (a server of each test's own, so that its data files
can be searched for the plaintext marker)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, snapshot
from tests.seaweedfs import SeaweedFS, start_weed, stop_weed
from tests.test_encryption import (
    MARKER,
    PASS,
    check_downloads,
    encrypted_cli,
    make_artifacts,
    plaintext_files,
    random_with_markers,
    register_all,
)


@pytest.fixture
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SeaweedFS, Path]]:
    """A SeaweedFS of this test's own (no other test's bytes in it), and its -dir (where the
    bucket's bytes live)."""
    directory = tmp_path_factory.mktemp("weed-encrypted")
    proc, server = start_weed(directory)
    try:
        yield server, directory / "data"
    finally:
        stop_weed(proc)


class Place:
    """A remote under test: its URL, the environment to reach it, and every byte it holds."""

    def __init__(self, url: str, env: dict[str, str], blobs: object, files: object) -> None:
        self.url = url
        self.env = env
        self._blobs = blobs
        self._files = files

    def blobs(self) -> list[bytes]:
        """The bytes of every key of the remote (list + get), and every file under it."""
        return self._blobs()  # type: ignore[operator,no-any-return]

    def store_files(self) -> list[bytes]:
        """The files the store keeps the remote in (the directory, or SeaweedFS's -dir)."""
        return self._files()  # type: ignore[operator,no-any-return]


def _dir_place(root: Path) -> Place:
    def files() -> list[bytes]:
        return [p.read_bytes() for p in root.rglob("*") if p.is_file()]

    return Place(str(root), {}, files, files)


def _s3_place(weed: tuple[SeaweedFS, Path], prefix: str = "team/enc") -> Place:
    server, data_dir = weed
    bucket = server.new_bucket()

    def blobs() -> list[bytes]:
        client = server.client()
        out = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                out.append(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        return out

    def files() -> list[bytes]:
        return [p.read_bytes() for p in data_dir.rglob("*") if p.is_file()]

    return Place(f"s3://{bucket}/{prefix}", server.env(), blobs, files)


@pytest.fixture(params=["dir", "s3"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "dir":
        return _dir_place(tmp_path / "remote")
    return _s3_place(request.getfixturevalue("weed"))


def _cli(tmp_path: Path, name: str, place: Place, passphrase: str | None = PASS) -> Cli:
    cli = Cli(tmp_path / name, tmp_path)
    cli.env.update(place.env)
    if passphrase is not None:
        cli.env["PACHA_PASSPHRASE"] = passphrase
    return cli


def _holding_marker(blobs: list[bytes]) -> int:
    return sum(MARKER in b for b in blobs)


def test_push_pull_clone_of_an_encrypted_registry_send_ciphertext_only(tmp_path: Path, place: Place) -> None:
    ada = encrypted_cli(tmp_path)
    ada.env.update(place.env)
    art = make_artifacts(tmp_path)
    register_all(ada, art)
    ada("repack")
    ada("gc", "--prune", "now")
    ada("remote", "add", "origin", place.url, "--default")
    ada("push")
    assert _holding_marker(place.blobs()) == 0
    # the remote holds the keyring: a clone opens with the same passphrase, stays encrypted
    bob = _cli(tmp_path, "bob", place)
    bob("clone", place.url, bob.registry)
    assert (bob.registry / "keyring").is_file()
    check_downloads(bob, art, tmp_path, "clone")
    assert plaintext_files(bob.registry) == []
    bob("fsck")
    # a new version (deltas against v1.1.0's chunks) travels back by push and pull
    edited = bytearray(art["big2"].read_bytes())
    edited[1 << 20 : (1 << 20) + 64] = MARKER * 2 + bytes(64 - 2 * len(MARKER))
    (tmp_path / "big3.bin").write_bytes(bytes(edited))
    bob("model", "register", "big", tmp_path / "big3.bin", "-v", "1.2.0", "-d", MARKER.decode())
    bob("push")
    ada("pull")
    ada("model", "download", "big:1.2.0", "-o", tmp_path / "big3.out")
    assert (tmp_path / "big3.out").read_bytes() == bytes(edited)
    # a lazy clone downloads on demand, sealed bodies installed after they verify
    carl = _cli(tmp_path, "carl", place)
    carl("clone", "--lazy", place.url, carl.registry)
    carl("model", "download", "big:1.2.0", "-o", tmp_path / "big3.lazy")
    assert (tmp_path / "big3.lazy").read_bytes() == bytes(edited)
    for registry in (ada.registry, bob.registry, carl.registry):
        assert plaintext_files(registry) == [], registry
    assert _holding_marker(place.blobs()) == 0
    assert _holding_marker(place.store_files()) == 0


def test_the_marker_search_finds_plaintext_when_there_is_some(tmp_path: Path, place: Place) -> None:
    """The control of the test above: the same search finds a plain registry's artifacts."""
    plain = _cli(tmp_path, "plain", place, passphrase=None)
    plain("init", "-q")
    (tmp_path / "p.bin").write_bytes(random_with_markers(200_000, 9))
    plain("model", "register", "p", tmp_path / "p.bin")
    plain("remote", "add", "origin", place.url, "--default")
    plain("push")
    assert _holding_marker(place.blobs()) > 0
    assert _holding_marker(place.store_files()) > 0


def _published(tmp_path: Path, place: Place) -> Cli:
    ada = encrypted_cli(tmp_path)
    ada.env.update(place.env)
    (tmp_path / "s.bin").write_bytes(random_with_markers(50_000, 4))
    ada("model", "register", "s", tmp_path / "s.bin", "-v", "1.0.0")
    ada("remote", "add", "origin", place.url, "--default")
    ada("push")
    return ada


def test_clone_with_a_wrong_passphrase_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    place = _dir_place(tmp_path / "remote")
    _published(tmp_path, place)
    before = snapshot(tmp_path / "remote")
    for flags in ((), ("--lazy",)):
        bob = _cli(tmp_path, "bob", place, passphrase="not the passphrase")
        err = bob.fails("clone", *flags, place.url, bob.registry, code=128).err
        assert err.count("\n") == 1 and "does not unlock" in err and "Traceback" not in err, err
        assert not bob.registry.exists()
    nobody = _cli(tmp_path, "nobody", place, passphrase=None)
    err = nobody.fails("clone", place.url, nobody.registry, code=128).err
    assert "PACHA_PASSPHRASE" in err and not nobody.registry.exists()
    assert snapshot(tmp_path / "remote") == before


def test_plain_and_encrypted_sides_refuse_to_mix_with_one_line(tmp_path: Path) -> None:
    encrypted = _dir_place(tmp_path / "enc-remote")
    _published(tmp_path, encrypted)
    plain = _cli(tmp_path, "plain", encrypted, passphrase=None)
    plain("init", "-q")
    (tmp_path / "p.bin").write_bytes(MARKER * 100)
    plain("model", "register", "p", tmp_path / "p.bin", "-v", "1.0.0")
    # a plain registry holding objects cannot take sealed bodies (it has no keys)
    plain("remote", "add", "origin", encrypted.url, "--default")
    before = snapshot(plain.registry)
    for args in (("pull",), ("fetch",)):
        err = plain.fails(*args, code=128).err
        assert err.count("\n") == 1 and "is encrypted" in err and "pacha clone" in err, err
    assert snapshot(plain.registry) == before
    # nor put plaintext on an encrypted remote
    remote_before = snapshot(tmp_path / "enc-remote")
    err = plain.fails("push", code=128).err
    assert err.count("\n") == 1 and "is encrypted" in err and "nothing was sent" in err, err
    assert snapshot(tmp_path / "enc-remote") == remote_before
    # an encrypted registry does not push sealed bodies to a plain remote
    plain_remote = _dir_place(tmp_path / "plain-remote")
    plain("remote", "add", "pub", plain_remote.url)
    plain("push", "pub")
    enc = _cli(tmp_path, "registry", plain_remote)  # the encrypted registry of _published
    enc("remote", "add", "pub", plain_remote.url)
    remote_before = snapshot(tmp_path / "plain-remote")
    err = enc.fails("push", "pub", code=128).err
    assert err.count("\n") == 1 and "not encrypted" in err and "nothing was sent" in err, err
    assert snapshot(tmp_path / "plain-remote") == remote_before
    # but takes a plain remote's objects, sealing them as they are installed
    enc("pull", "pub")
    enc("model", "download", "p:1.0.0", "-o", tmp_path / "p.out")
    assert (tmp_path / "p.out").read_bytes() == MARKER * 100
    assert plaintext_files(enc.registry) == []


def test_registries_under_different_master_keys_refuse_each_other(tmp_path: Path) -> None:
    place = _dir_place(tmp_path / "remote")
    ada = _published(tmp_path, place)
    bob = _cli(tmp_path, "bob", place)
    bob("clone", place.url, bob.registry)
    bob("key", "rotate", "--data")
    (tmp_path / "t.bin").write_bytes(MARKER * 10)
    bob("model", "register", "t", tmp_path / "t.bin")
    remote_before = snapshot(tmp_path / "remote")
    err = bob.fails("push", code=128).err
    assert err.count("\n") == 1 and "master key" in err and "nothing was sent" in err, err
    assert snapshot(tmp_path / "remote") == remote_before
    (tmp_path / "u.bin").write_bytes(b"u" * 100)
    ada("model", "register", "u", tmp_path / "u.bin")
    ada("push")
    before = snapshot(bob.registry)
    err = bob.fails("pull", code=128).err
    assert err.count("\n") == 1 and "master key" in err, err
    assert snapshot(bob.registry) == before


def test_a_sealed_body_altered_on_the_remote_is_refused_on_arrival(tmp_path: Path) -> None:
    place = _dir_place(tmp_path / "remote")
    _published(tmp_path, place)
    pack = next((tmp_path / "remote" / "objects" / "pack").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 1  # inside the artifact's ciphertext
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    bob = _cli(tmp_path, "bob", place)
    err = bob.fails("clone", place.url, bob.registry, code=1).err
    assert "failed authentication" in err and "Traceback" not in err, err
    assert not bob.registry.exists()
