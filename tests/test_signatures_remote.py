"""Signatures travel with push and pull through a directory remote, and a pull refuses to move
a local stage ref into a stage policy.require_signed lists unless the change arrives signed by
a trusted key (sign.keyring). Real gpg, throwaway ed25519 keys (tests/gpg_keys.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.gpg_keys import Key, Keys


@pytest.fixture
def keys() -> Iterator[Keys]:
    made = Keys()
    yield made
    made.close()


@pytest.fixture
def ada(cli: Cli, keys: Keys, tmp_path: Path) -> Key:
    """Ada's key in cli's GNUPGHOME; cli (Ada's registry) has the directory remote origin."""
    key = keys.make("Ada Signer <ada@example.com>")
    cli.env["GNUPGHOME"] = str(key.home)
    cli("remote", "add", "origin", tmp_path / "remote", "--default")
    return key


def member(cli: Cli, tmp_path: Path, name: str) -> Cli:
    """Another registry with origin as its remote, run as cli runs (same GNUPGHOME)."""
    other = Cli(tmp_path / name, tmp_path)
    other.env = {**cli.env, "PACHA_DIR": str(tmp_path / name)}
    other("init", "-q")
    other("remote", "add", "origin", tmp_path / "remote", "--default")
    return other


def artifact(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / f"m-{len(content)}.bin"
    path.write_bytes(content)
    return path


def stage_refs(cli: Cli) -> list[str]:
    """The stage refs of m's versions here (read-ref: a lazy registry may lack their objects)."""
    candidates = [f"stages/models/m/{s}/{v}" for s in STAGES for v in ("1.0.0", "1.1.0")]
    return sorted(ref for ref in candidates if cli("read-ref", ref, ok=False).code == 0)


STAGES = ("development", "staging", "production", "archived")


def test_signatures_travel_with_push_and_pull(cli: Cli, ada: Key, tmp_path: Path) -> None:
    cli("model", "register", "m", artifact(tmp_path, b"one"), "-v", "1.0.0", "--sign", ada.email)
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "production", "--sign", ada.email)
    cli("model", "register", "n", artifact(tmp_path, b"two"), "-v", "1.0.0", "--sign", ada.email)
    cli("push", "origin", "m")  # by name: the version's signatures go with its refs
    remote_refs = json.loads((tmp_path / "remote" / "refs").read_text())["refs"]
    assert sum(ref.startswith("attached/") for ref in remote_refs) == 2
    cli("push")
    keyring = ada.public(tmp_path / "ada.asc")
    bob = member(cli, tmp_path, "bob")
    bob("pull")
    out = bob("verify", "m:1.0.0", "--keyring", keyring, "--json").text
    signatures = json.loads(out)["signatures"]
    assert sorted(s["what"] for s in signatures) == ["stage-change", "version"]
    assert all(s["ok"] for s in signatures)
    # the promotion's signature arrived in the same transaction as the stage ref: it is current
    assert any(s["current"] for s in signatures if s["what"] == "stage-change")
    assert "good signature on n:1.0.0" in bob("verify", "n:1.0.0", "--keyring", keyring).text
    # a pull of one version brings its signatures too
    carol = member(cli, tmp_path, "carol")
    carol("pull", "origin", "m@production")
    assert len(carol("for-each-ref", "attached/").lines) == 2
    carol("config", "policy.require_signed", "production")
    assert "good signature on the change of m:1.0.0" in carol("verify", "m:1.0.0", "--keyring", keyring).text
    # a clone, and a lazy clone (signatures fetched on demand by verify), verify them as well
    for how in ([], ["--lazy"]):
        place = tmp_path / f"clone{len(how)}"
        cli("clone", tmp_path / "remote", place, *how)
        dave = Cli(place, tmp_path)
        dave.env = {**cli.env, "PACHA_DIR": str(place)}
        dave("config", "policy.require_signed", "production")
        out = dave("verify", "m:1.0.0", "--keyring", keyring).text
        assert "good signature on the change of m:1.0.0 from development to production" in out, how


@pytest.mark.parametrize("lazy", [False, True])
def test_pull_refuses_a_promotion_to_production_that_is_not_signed(
    cli: Cli, ada: Key, tmp_path: Path, lazy: bool
) -> None:
    cli("model", "register", "m", artifact(tmp_path, b"one"), "-v", "1.0.0")
    cli("push")
    bob = member(cli, tmp_path, "bob")
    if lazy:  # refs only: the signatures a pull must check are fetched for the check
        bob("remote", "set", "origin", "lazy", "true")
    bob("config", "policy.require_signed", "production")
    bob("config", "sign.keyring", str(ada.public(tmp_path / "ada.asc")))
    bob("pull")
    assert stage_refs(bob) == ["stages/models/m/development/1.0.0"]
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "production")  # Ada has no such policy
    cli("push")
    refused = bob("pull", ok=False)
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert "pull refused: m:1.0.0 entered production on origin by an unsigned stage change" in refused.err
    assert stage_refs(bob) == ["stages/models/m/development/1.0.0"]  # the local stage ref did not move
    # a signed promotion of the next version is taken (and archives 1.0.0 here too)
    cli("model", "register", "m", artifact(tmp_path, b"two"), "-v", "1.1.0")
    cli("model", "stage", "m", "-v", "1.1.0", "-t", "production", "--sign", ada.email)
    cli("push")
    bob("pull")
    assert stage_refs(bob) == ["stages/models/m/archived/1.0.0", "stages/models/m/production/1.1.0"]
    assert (
        "good signature on the change of m:1.1.0 from development to production"
        in bob("verify", "m:1.1.0").text
    )


def test_pull_refuses_a_promotion_signed_by_a_key_it_does_not_trust(
    cli: Cli, ada: Key, keys: Keys, tmp_path: Path
) -> None:
    cli("model", "register", "m", artifact(tmp_path, b"one"), "-v", "1.0.0")
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "production", "--sign", ada.email)
    cli("push")
    bob = member(cli, tmp_path, "bob")
    bob("config", "policy.require_signed", "production")
    lead = keys.make("Team Lead <lead@example.com>")
    bob("config", "sign.keyring", str(lead.public(tmp_path / "lead.asc")))  # Ada's key is not in it
    refused = bob("pull", ok=False)
    assert (
        refused.code == 1
        and "pull refused: m:1.0.0 entered production on origin by bad signature" in refused.err
    )
    assert "unknown key" in refused.err
    assert stage_refs(bob) == []


def test_pull_refuses_an_unsigned_registration_when_the_initial_stage_is_required(
    cli: Cli, ada: Key, tmp_path: Path
) -> None:
    cli("model", "register", "m", artifact(tmp_path, b"one"), "-v", "1.0.0")
    cli("model", "register", "m", artifact(tmp_path, b"two"), "-v", "1.1.0", "--sign", ada.email)
    cli("push")
    bob = member(cli, tmp_path, "bob")
    bob("config", "policy.require_signed", "development")
    bob("config", "sign.keyring", str(ada.public(tmp_path / "ada.asc")))
    refused = bob("pull", ok=False)
    assert (
        refused.code == 1
        and "m:1.0.0 entered development on origin by an unsigned registration" in refused.err
    )
    assert stage_refs(bob) == []
    bob("pull", "origin", "m:1.1.0")  # the signed one alone is taken
    assert stage_refs(bob) == ["stages/models/m/development/1.1.0"]
    assert bob("verify", "m:1.1.0", "--json").text.count('"current": true') == 1
