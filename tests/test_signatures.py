"""Signed versions and stage changes through the real CLI and the real gpg: good, bad
(tampered), unknown key, untrusted key, expired key, revoked key, and missing where
policy.require_signed requires one; for records and for stage changes. Throwaway ed25519
keys in temporary GNUPGHOMEs (tests/gpg_keys.py): no test depends on a user's keyring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from porcelain.core import Core
from porcelain.signatures.gpg import verifier
from tests.conftest import Cli
from tests.gpg_keys import Key, Keys, gpg


@pytest.fixture
def keys() -> Iterator[Keys]:
    made = Keys()
    yield made
    made.close()


@pytest.fixture
def signer(cli: Cli, keys: Keys) -> Key:
    """Ada's key, made 20 days ago (so that it can be expired in the past), in cli's GNUPGHOME."""
    key = keys.make("Ada Signer <ada@example.com>", age_days=20)
    cli.env["GNUPGHOME"] = str(key.home)
    return key


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights" * 1000)
    return path


def signed(cli: Cli, key: Key, model: Path, what: str) -> str:
    """m:1.0.0 with one signature: on its record, or on its move to staging. Returns what verify
    calls the signed thing."""
    if what == "record":
        cli("model", "register", "m", model, "-v", "1.0.0", "--sign", key.fingerprint)
        return "m:1.0.0"
    cli("model", "register", "m", model, "-v", "1.0.0")
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "staging", "--sign", key.fingerprint)
    return "the change of m:1.0.0 from development to staging"


BOTH = pytest.mark.parametrize("what", ["record", "stage"])


@BOTH
def test_a_good_signature_verifies_and_says_who_signed_what(
    cli: Cli, signer: Key, model: Path, tmp_path: Path, what: str
) -> None:
    about = signed(cli, signer, model, what)
    keyring = signer.public(tmp_path / "team.asc")
    out = cli("verify", "m:1.0.0", "--keyring", keyring).text
    assert f"good signature on {about} by Ada Signer <ada@example.com> ({signer.fingerprint})" in out
    assert "m:1.0.0: ok" in out
    report = json.loads(cli("verify", "m:1.0.0", "--keyring", keyring, "--json").text)
    (sig,) = report["signatures"]
    assert report["ok"] and sig["ok"] and sig["trusted"] and sig["fingerprint"] == signer.fingerprint
    assert sig["what"] == ("version" if what == "record" else "stage-change")
    if what == "stage":
        assert sig["current"] and sig["statement"]["from"] == "development"
        assert sig["statement"]["to"] == "staging" and sig["statement"]["record"] == report["id"]
    # without --keyring: the user's own key is of ultimate validity in their keyring
    assert f"good signature on {about}" in cli("verify", "m:1.0.0").text
    assert f"good signature on {about}" in cli("model", "verify", "m:1.0.0", "--keyring", keyring).text


@BOTH
def test_a_signature_by_an_unknown_key_fails(
    cli: Cli, signer: Key, keys: Keys, model: Path, tmp_path: Path, what: str
) -> None:
    about = signed(cli, signer, model, what)
    other = keys.make("Someone Else <else@example.com>").public(tmp_path / "other.asc")
    result = cli("verify", "m:1.0.0", "--keyring", other, ok=False)
    assert result.code == 1
    assert f"bad signature on {about}" in result.err and "unknown key" in result.err
    assert cli("model", "verify", "m:1.0.0", "--keyring", other, ok=False).code == 1
    report = json.loads(cli("verify", "m:1.0.0", "--keyring", other, "--json", ok=False).text)
    assert not report["ok"] and not report["signatures"][0]["good"]


@BOTH
def test_a_known_but_uncertified_key_is_not_trusted(
    cli: Cli, signer: Key, keys: Keys, model: Path, tmp_path: Path, what: str
) -> None:
    about = signed(cli, signer, model, what)
    bob = keys.home()  # Bob imported Ada's key but never certified it
    keys.import_into(bob, signer.public(tmp_path / "ada.asc"))
    result = cli("verify", "m:1.0.0", ok=False, env={**cli.env, "GNUPGHOME": str(bob)})
    assert result.code == 1 and f"untrusted signature on {about}" in result.err
    assert "is not trusted" in result.err
    sig = json.loads(
        cli("verify", "m:1.0.0", "--json", ok=False, env={**cli.env, "GNUPGHOME": str(bob)}).text
    )["signatures"][0]
    assert sig["good"] and not sig["trusted"] and not sig["ok"]


@BOTH
def test_a_signature_by_a_key_expired_since_fails(
    cli: Cli, signer: Key, model: Path, tmp_path: Path, what: str
) -> None:
    about = signed(cli, signer, model, what)
    signer.expire_in_the_past()
    keyring = signer.public(tmp_path / "team.asc")
    result = cli("verify", "m:1.0.0", "--keyring", keyring, ok=False)
    assert result.code == 1 and f"bad signature on {about}" in result.err
    assert "signing key has expired" in result.err
    # and gpg's expired key signs nothing more: one line, nothing written
    failed = cli.fails("sign", "m:1.0.0", "--key", signer.fingerprint, code=128)
    assert failed.err.count("\n") == 1 and "has expired" in failed.err


@BOTH
def test_a_signature_by_a_revoked_key_fails(
    cli: Cli, signer: Key, model: Path, tmp_path: Path, what: str
) -> None:
    about = signed(cli, signer, model, what)
    signer.revoke()
    keyring = signer.public(tmp_path / "team.asc")
    result = cli("verify", "m:1.0.0", "--keyring", keyring, ok=False)
    assert result.code == 1 and f"bad signature on {about}" in result.err
    assert "revoked" in result.err
    failed = cli.fails(
        "model", "stage", "m", "-v", "1.0.0", "-t", "archived", "--sign", signer.email, code=128
    )
    assert "was revoked" in failed.err


def test_a_signature_moved_to_another_version_is_bad(
    cli: Cli, signer: Key, model: Path, tmp_path: Path
) -> None:
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.fingerprint)
    model.write_bytes(b"different weights")
    cli("model", "register", "m", model, "-v", "2.0.0")
    (line,) = cli("for-each-ref", "attached/").lines
    sig_id = line.split()[0]
    v2 = cli("rev-parse", "models/m/2.0.0").text.strip()
    # someone who can write the registry's files names 1.0.0's signature as 2.0.0's
    cli("write-ref", f"attached/{v2}/signature-{sig_id}", sig_id, "--create")
    result = cli("verify", "m:2.0.0", "--keyring", signer.public(tmp_path / "k.asc"), ok=False)
    assert result.code == 1 and "bad signature on m:2.0.0" in result.err and "made for" in result.err


def test_a_forged_signature_record_over_other_bytes_is_bad(
    cli: Cli, signer: Key, model: Path, tmp_path: Path
) -> None:
    cli("model", "register", "m", model, "-v", "1.0.0")
    record = cli("rev-parse", "models/m/1.0.0").text.strip()
    # a real signature by Ada, but over other bytes, presented as a signature of m:1.0.0's record
    other = tmp_path / "other.txt"
    other.write_bytes(b"something Ada did sign")
    armored = gpg(signer.home, "--armor", "--detach-sign", "-u", signer.fingerprint, "-o", "-", str(other))
    blob = cli("hash-object", "-w", "--stdin", input=armored).text.strip()
    doc = {
        "type": "signature", "signs": record, "subject": record, "what": "version", "signature": blob,
        "fingerprint": signer.fingerprint, "signer": signer.uid, "created_ns": 1, "links": [blob],
    }  # fmt: skip
    forged = cli(
        "hash-object",
        "-w",
        "-t",
        "record",
        "--stdin",
        input=json.dumps(doc, sort_keys=True, separators=(",", ":")),
    ).text.strip()
    cli("write-ref", f"attached/{record}/signature-{forged}", forged, "--create")
    result = cli("verify", "m:1.0.0", "--keyring", signer.public(tmp_path / "k.asc"), ok=False)
    assert result.code == 1 and "bad signature on m:1.0.0 by" in result.err
    assert "signature bad" in result.err


def test_pacha_sign_user_signingkey_and_sign_always(cli: Cli, signer: Key, model: Path) -> None:
    cli("model", "register", "m", model, "-v", "1.0.0")
    assert "signature" not in cli("verify", "m:1.0.0").text
    assert "no key to sign with" in cli.fails("sign", "m:1.0.0", code=128).err
    cli("config", "user.signingkey", signer.email)
    made = json.loads(cli("sign", "m:1.0.0", "--json").text)
    assert made["fingerprint"] == signer.fingerprint and made["ref"].startswith(f"attached/{made['id']}/")
    assert "good signature on m:1.0.0" in cli("verify", "m:1.0.0").text
    cli("config", "sign.always", "true")
    model.write_bytes(b"other weights")
    cli("data", "register", "d", model, "-v", "1.0.0")
    cli("model", "register", "m", model, "-v", "1.1.0")
    cli("model", "stage", "m", "-v", "1.1.0", "-t", "staging")
    out = cli("verify", "m:1.1.0").text
    assert "good signature on m:1.1.0 by" in out
    assert "good signature on the change of m:1.1.0 from development to staging" in out
    assert "good signature on d:1.0.0" in cli("verify", "d:1.0.0").text
    # the history shows who signed: the reflog message of `pacha sign`
    assert "sign m:1.0.0 by Ada Signer" in cli("reflog", made["ref"]).text


def test_gpg_failures_are_one_line_and_change_nothing(
    cli: Cli, signer: Key, model: Path, tmp_path: Path
) -> None:
    failed = cli.fails(
        "model", "register", "m", model, "-v", "1.0.0", "--sign", "nobody@example.com", code=128
    )
    assert "cannot sign with key 'nobody@example.com': no secret key" in failed.err
    assert failed.err.count("\n") == 1
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.email)
    missing = cli.fails("verify", "m:1.0.0", "--keyring", tmp_path / "nope.asc", code=128)
    assert "cannot read keyring" in missing.err and missing.err.count("\n") == 1
    empty = tmp_path / "empty.asc"
    empty.write_text("not a key\n")
    assert "holds no OpenPGP public key" in cli.fails("verify", "m:1.0.0", "--keyring", empty, code=128).err
    cli.env["PATH"] = str(tmp_path / "no-gpg-here")
    no_gpg = cli.fails("sign", "m:1.0.0", "--key", signer.email, code=128)
    assert "install the gpg program" in no_gpg.err


def test_promotion_to_production_requires_a_signed_stage_change(
    cli: Cli, signer: Key, model: Path, tmp_path: Path
) -> None:
    keyring = signer.public(tmp_path / "team.asc")
    cli("model", "register", "m", model, "-v", "1.0.0")
    with (cli.registry / "config.toml").open("a") as config:  # the form: a TOML list
        config.write('\n[policy]\nrequire_signed = ["production"]\n')
    refused = cli.fails("model", "stage", "m", "-v", "1.0.0", "-t", "production", code=1)
    assert "requires a signed stage change" in refused.err and "nothing was changed" in refused.err
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "staging")  # other stages need no signature
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "production", "--sign", signer.fingerprint)
    out = cli("verify", "m:1.0.0", "--keyring", keyring).text
    assert "good signature on the change of m:1.0.0 from staging to production" in out
    # a promotion made before the policy (unsigned) fails verify once the policy is set
    model.write_bytes(b"v2 weights")
    cli("config", "--unset", "policy.require_signed")
    cli("model", "register", "m", model, "-v", "2.0.0")
    cli("model", "stage", "m", "-v", "2.0.0", "-t", "production")
    cli("config", "policy.require_signed", "production")
    result = cli("verify", "m:2.0.0", "--keyring", keyring, ok=False)
    assert result.code == 1 and "m:2.0.0 entered production by an unsigned stage change" in result.err


def test_an_old_signed_promotion_does_not_cover_a_later_one(
    cli: Cli, signer: Key, model: Path, tmp_path: Path
) -> None:
    keyring = signer.public(tmp_path / "team.asc")
    cli("model", "register", "m", model, "-v", "1.0.0")
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "production", "--sign", signer.fingerprint)
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "archived")
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "development")
    cli("model", "stage", "m", "-v", "1.0.0", "-t", "production")  # unsigned, no policy yet
    cli("config", "policy.require_signed", "production")
    result = cli("verify", "m:1.0.0", "--keyring", keyring, ok=False)
    # the first promotion's signature is still good, but it is not the change that put it there now
    assert "good signature on the change of m:1.0.0 from development to production" in result.text
    assert "entered production by an unsigned stage change" in result.err


def test_an_untrusted_key_cannot_promote_where_a_signature_is_required(
    cli: Cli, signer: Key, keys: Keys, model: Path, tmp_path: Path
) -> None:
    cli("model", "register", "m", model, "-v", "1.0.0")
    team = keys.make("Team Lead <lead@example.com>").public(tmp_path / "team.asc")
    cli("config", "sign.keyring", str(team))  # only the lead's key is trusted here
    cli("config", "policy.require_signed", "production")
    refused = cli.fails(
        "model", "stage", "m", "-v", "1.0.0", "-t", "production", "--sign", signer.email, code=1
    )
    assert "requires a change signed by a trusted key" in refused.err and "unknown key" in refused.err


def test_register_sign_again_signs_an_existing_version_once(cli: Cli, signer: Key, model: Path) -> None:
    cli("model", "register", "m", model, "-v", "1.0.0")
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.email)  # same bytes: signs it
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.fingerprint)  # already signed
    assert len(cli("for-each-ref", "attached/").lines) == 1
    assert "good signature on m:1.0.0" in cli("verify", "m:1.0.0").text


def test_any_flipped_bit_of_a_signed_record_is_a_bad_signature(
    cli: Cli, signer: Key, model: Path, tmp_path: Path
) -> None:
    """The adapter itself, in process: a signature checks against exactly the bytes it signed."""
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.fingerprint)
    core = Core.open(cli.registry)
    record_id = cli("rev-parse", "models/m/1.0.0").text.strip()
    (line,) = cli("for-each-ref", "attached/").lines
    doc = core.read_document(line.split()[0], "signature", "a signature")
    record, armored = core.plumbing.objects.read(record_id), core.plumbing.objects.read(doc["signature"])
    with verifier(signer.public(tmp_path / "k.asc")) as check:
        assert check(armored, record).valid

        @settings(max_examples=25, deadline=None)
        @given(st.integers(0, len(record) * 8 - 1))
        def flipped(bit: int) -> None:
            tampered = bytearray(record)
            tampered[bit // 8] ^= 1 << (bit % 8)
            verdict = check(armored, bytes(tampered))
            assert not verdict.valid and verdict.reason == "signature bad"

        flipped()


def test_registration_requires_a_signed_record_when_the_initial_stage_is_required(
    cli: Cli, signer: Key, keys: Keys, model: Path, tmp_path: Path
) -> None:
    cli("model", "register", "m", model, "-v", "0.9.0")  # before the policy
    cli("config", "policy.require_signed", "development, production")
    refused = cli.fails("model", "register", "m", model, "-v", "1.0.0", code=1)
    assert "registering m requires a signed record" in refused.err and refused.err.count("\n") == 1
    assert "requires a signed record" in cli.fails("data", "register", "d", model, "-v", "1.0.0", code=1).err
    cli("model", "register", "m", model, "-v", "1.0.0", "--sign", signer.email)
    report = json.loads(cli("verify", "m:1.0.0", "--json").text)
    assert report["ok"] and report["signatures"][0]["current"]  # signed with the stage ref
    old = cli("verify", "m:0.9.0", ok=False)
    assert old.code == 1 and "m:0.9.0 entered development by an unsigned registration" in old.err
    # a key the registry does not trust cannot register either
    cli("config", "sign.keyring", str(keys.make("Lead <lead@example.com>").public(tmp_path / "lead.asc")))
    model.write_bytes(b"v2")
    untrusted = cli.fails("model", "register", "m", model, "-v", "2.0.0", "--sign", signer.email, code=1)
    assert "registering m requires a change signed by a trusted key" in untrusted.err
