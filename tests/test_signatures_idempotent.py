"""Signing what a key already signed adds nothing (issue 15 leftovers): `pacha sign REF` twice
with the same key leaves one signature and says so (exit 0); a stage change into the stage a
version is already in is refused before any signature is made; `pacha policy sign` of a policy
or group the key already signed says so too. Real gpg, throwaway ed25519 keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.gpg_keys import Key, Keys


@pytest.fixture
def two(cli: Cli) -> Iterator[tuple[Key, Key]]:
    keys = Keys()
    home = keys.home()
    ada = keys.make("Ada <ada@example.com>", home=home)
    bob = keys.make("Bob <bob@example.com>", home=home)
    cli.env["GNUPGHOME"] = str(home)
    yield ada, bob
    keys.close()


def _attached(cli: Cli) -> list[str]:
    return cli("for-each-ref", "attached/").lines


def test_sign_twice_with_one_key_signs_once(cli: Cli, two: tuple[Key, Key], tmp_path: Path) -> None:
    ada, bob = two
    (tmp_path / "m.bin").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    cli("sign", "m:1.0.0", "--key", ada.fingerprint)
    before = _attached(cli)
    reflog = cli("reflog").lines
    for how in (ada.fingerprint, ada.email, ada.fingerprint[-16:]):  # any name of the same key
        again = cli("sign", "m:1.0.0", "--key", how)
        assert again.code == 0
        assert again.text.strip() == f"m:1.0.0 is already signed by Ada <ada@example.com> ({ada.fingerprint})"
    assert _attached(cli) == before and cli("reflog").lines == reflog  # nothing committed
    report = json.loads(cli("sign", "m@development", "--key", ada.email, "--json").text)
    assert report["already"] is True and report["ref"] == before[0].split("\t")[1]
    cli("sign", "m:1.0.0", "--key", bob.fingerprint)  # another key adds its own
    assert len(_attached(cli)) == 2


def test_a_stage_change_into_the_current_stage_makes_no_signature(
    cli: Cli, two: tuple[Key, Key], tmp_path: Path
) -> None:
    ada, _ = two
    (tmp_path / "m.bin").write_bytes(b"weights")
    cli("model", "register", "m", tmp_path / "m.bin", "-v", "1.0.0")
    cli("model", "stage", "m:1.0.0", "-t", "staging", "--sign", ada.fingerprint)
    before = _attached(cli)
    objects = cli("count-objects").text
    err = cli.fails("model", "stage", "m:1.0.0", "-t", "staging", "--sign", ada.fingerprint).err
    assert "already in staging" in err
    assert _attached(cli) == before and cli("count-objects").text == objects


def test_policy_sign_twice_signs_once(cli: Cli, two: tuple[Key, Key]) -> None:
    ada, _ = two
    owner = "user:test@example.com"
    cli("policy", "set", "/", "--admin", owner, "--key", f"{owner}={ada.fingerprint}")
    cli("policy", "group", "ml", "--member", "user:ada@example.com")
    for target in ("/", "group:ml"):
        cli("policy", "sign", target, "--key", ada.fingerprint)
        before = _attached(cli)
        again = cli("policy", "sign", target, "--key", ada.email)
        assert "is already signed by Ada <ada@example.com>" in again.text
        assert _attached(cli) == before
    assert len(_attached(cli)) == 2
