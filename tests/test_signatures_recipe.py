"""recipe register --sign: the recipe's record signed like a model's (an attached signature,
no longer a signature pinned in its card), checked by `recipe validate` and `pacha verify`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, snapshot
from tests.gpg_keys import Key, Keys
from tests.test_recipes import prepare_recipe


@pytest.fixture
def signer(cli: Cli) -> Iterator[Key]:
    keys = Keys()
    key = keys.make("Recipe Signer <signer@example.com>")
    cli.env["GNUPGHOME"] = str(key.home)
    yield key
    keys.close()


@pytest.fixture
def recipe(cli: Cli, tmp_path: Path) -> Path:
    return prepare_recipe(cli, tmp_path)


def test_a_signed_recipe_is_an_attached_record_signature(cli: Cli, signer: Key, recipe: Path) -> None:
    out = json.loads(cli("recipe", "register", recipe, "--sign", signer.email, "--json").text)
    assert "signature" not in out["record"]["card"]  # the old pinned form is gone
    (line,) = cli("for-each-ref", f"attached/{out['id']}/").lines
    assert line.split("\t")[1].startswith(f"attached/{out['id']}/signature-")
    report = json.loads(cli("recipe", "validate", "bert-finetune:1.0.0", "--json").text)
    assert report["errors"] == []
    assert any(
        n.startswith("good signature on bert-finetune:1.0.0 by Recipe Signer") for n in report["notes"]
    )
    verified = json.loads(cli("verify", "bert-finetune:1.0.0", "--json").text)
    assert verified["ok"] and verified["signatures"][0]["fingerprint"] == signer.fingerprint


def test_a_recipe_signature_by_a_key_not_known_fails_validation(
    cli: Cli, signer: Key, recipe: Path, tmp_path: Path
) -> None:
    cli("recipe", "register", recipe, "--sign", signer.email)
    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    cli.env["GNUPGHOME"] = str(empty)  # the verifier does not have the signer's public key
    report = cli("recipe", "validate", "bert-finetune:1.0.0", ok=False)
    assert report.code == 1 and "bad signature on bert-finetune:1.0.0" in report.text + report.err
    assert cli("verify", "bert-finetune:1.0.0", ok=False).code == 1


def test_an_unknown_key_refuses_and_writes_nothing(cli: Cli, signer: Key, recipe: Path) -> None:
    before = snapshot(cli.registry)
    result = cli.fails("recipe", "register", recipe, "--sign", "nobody@example.com", code=128)
    assert "cannot sign with key" in result.err
    assert snapshot(cli.registry) == before
