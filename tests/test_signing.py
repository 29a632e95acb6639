"""recipe register --sign: a detached OpenPGP signature pinned in the record, checked by validate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import snapshot
from tests.test_recipes import prepare_recipe


@pytest.fixture
def keyring(cli, tmp_path: Path) -> str:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    subprocess.run(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Recipe Signer <signer@example.com>",
            "ed25519",
            "sign",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    cli.env["GNUPGHOME"] = str(home)
    return "signer@example.com"


@pytest.fixture
def recipe(cli, tmp_path: Path) -> Path:
    return prepare_recipe(cli, tmp_path)


def test_signed_recipe_validates_and_is_in_the_closure(cli, keyring: str, recipe: Path) -> None:
    out = json.loads(cli("recipe", "register", recipe, "--sign", keyring, "--json").text)
    signature = out["record"]["card"]["signature"]
    assert len(signature["ref"]) == 40 and signature["id"] in out["record"]["links"]
    report = json.loads(cli("recipe", "validate", "bert-finetune:1.0.0", "--json").text)
    assert report["errors"] == [] and any("good signature by Recipe Signer" in n for n in report["notes"])
    assert "ok" in cli("verify", "bert-finetune:1.0.0").text


def test_signature_from_an_untrusted_keyring_fails_validation(
    cli, keyring: str, recipe: Path, tmp_path: Path
) -> None:
    cli("recipe", "register", recipe, "--sign", keyring)
    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    cli.env["GNUPGHOME"] = str(empty)  # the verifier does not have the signer's public key
    report = cli("recipe", "validate", "bert-finetune:1.0.0", ok=False)
    assert report.code == 1 and "signature" in report.text


def test_unknown_key_refuses_and_writes_nothing(cli, keyring: str, recipe: Path) -> None:
    before = snapshot(cli.registry)
    result = cli.fails("recipe", "register", recipe, "--sign", "nobody@example.com", code=128)
    assert "cannot sign with key" in result.err
    assert snapshot(cli.registry) == before
