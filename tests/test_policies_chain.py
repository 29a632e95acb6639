"""The policy chain (issue 15): whoever can write the bucket must not be able to take a name over by
pushing a policy naming themselves admin. Policy and group changes are signed (`policy set|remove|
group --sign`, `sign.always`), and `pull` with `verify.policy = true` refuses one that no admin of
its target, under the policy in force before it, signed with a trusted key; nothing moves.
`verify --policy` reports the chain. Real gpg, throwaway ed25519 keys; a directory remote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.gpg_keys import Key, Keys

OWNER = "user:test@example.com"  # cli's identity: the owner of the registries init makes


class Team:
    """Tess (the owner), Ada, Bob and Mallory, every key trusted (sign.keyring): Mallory is a
    colleague with the bucket's credentials, not an admin."""

    def __init__(self, keys: Keys, tmp_path: Path) -> None:
        home = keys.home()
        self.home = home
        self.tess, self.ada, self.bob, self.mallory = (
            keys.make(f"{n.title()} <{e}>", home=home)
            for n, e in [("tess", "test@example.com"), ("ada", "ada@example.com"),
                         ("bob", "bob@example.com"), ("mallory", "mallory@example.com")]
        )  # fmt: skip
        self.keyring = tmp_path / "team.asc"
        self.keyring.write_bytes(
            b"".join(k.public(tmp_path / f"{k.email}.asc").read_bytes() for k in self.everyone)
        )

    @property
    def everyone(self) -> list[Key]:
        return [self.tess, self.ada, self.bob, self.mallory]


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    keys = Keys()
    yield Team(keys, tmp_path)
    keys.close()


def registry(cli: Cli, team: Team, tmp_path: Path, name: str, **env: str) -> Cli:
    """A registry at tmp_path/name with origin, the team's keyring and verify.policy on."""
    other = Cli(tmp_path / name, tmp_path)
    other.env = {**cli.env, "PACHA_DIR": str(tmp_path / name), "GNUPGHOME": str(team.home), **env}
    other("init", "-q")
    other("remote", "add", "origin", tmp_path / "remote", "--default")
    other("config", "sign.keyring", team.keyring)
    other("config", "verify.policy", "true")
    return other


def artifact(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"{text}.bin"
    path.write_text(text)
    return path


def names(lines: list[str]) -> list[str]:
    return [line.split("\t")[1] for line in lines]


def local_refs(cli: Cli) -> list[str]:
    return [line for line in cli("for-each-ref").lines if "\tremotes/" not in line]


def refused_pull(mirror: Cli) -> str:
    before = local_refs(mirror)
    result = mirror("pull", ok=False)
    assert result.code == 1, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert local_refs(mirror) == before  # nothing moved
    return lines[0]


@pytest.fixture
def origin(cli: Cli, team: Team, tmp_path: Path) -> Cli:
    """Tess's registry: `/` makes her admin with her key, `m` lets Ada write; both changes signed
    (sign.always), pushed."""
    tess = registry(cli, team, tmp_path, "origin-reg")
    tess("config", "user.signingkey", team.tess.fingerprint)
    tess("config", "sign.always", "true")
    tess("policy", "set", "/", "--admin", OWNER, "--reader", "public",
         "--key", f"{OWNER}={team.tess.fingerprint}")  # fmt: skip
    tess("policy", "set", "m", "--writer", "user:ada@example.com",
         "--key", f"user:ada@example.com={team.ada.fingerprint}")  # fmt: skip
    tess("push")
    return tess


def mallory_registry(cli: Cli, team: Team, tmp_path: Path) -> Cli:
    """Mallory's copy of the bucket, claiming to be the owner (a local policy cannot tell)."""
    mallory = registry(cli, team, tmp_path, "mallory-reg", PACHA_PRINCIPAL=OWNER)
    mallory("config", "verify.policy", "false")
    mallory("pull")
    return mallory


def test_a_policy_pushed_by_someone_with_the_bucket_is_refused_and_nothing_moves(
    cli: Cli, team: Team, tmp_path: Path, origin: Cli
) -> None:
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")  # the first pull: the first change taken on trust, the second checked against it
    assert json.loads(bob("policy", "show", "m", "--json").text)["writers"] == ["user:ada@example.com"]
    mallory = mallory_registry(cli, team, tmp_path)
    # Mallory names herself admin of everything, signed with her own (trusted) key
    mallory("policy", "set", "/", "--admin", "user:mallory@example.com", "--reader", "public",
            "--key", f"user:mallory@example.com={team.mallory.fingerprint}",
            "--sign", team.mallory.fingerprint)  # fmt: skip
    mallory("policy", "set", "m", "--writer", "user:mallory@example.com", "--sign", team.mallory.fingerprint)
    evil = artifact(tmp_path, "evil")
    mallory("model", "register", "m", evil, "-v", "6.6.6", "--sign", team.mallory.fingerprint)
    mallory("push")
    line = refused_pull(bob)
    assert line.startswith("error: pull refused (verify.policy): `policy set /`")
    assert f"by {OWNER}" in line  # the principal the record claims
    assert f"Mallory <mallory@example.com> ({team.mallory.fingerprint})" in line  # the key that signed
    assert "not by a principal allowed to administer /" in line and "nothing was changed" in line
    assert json.loads(bob("policy", "show", "/", "--json").text)["admins"] == [OWNER]
    assert "m:6.6.6" not in bob("model", "list").text


def test_an_unsigned_policy_change_and_a_restarted_chain_are_refused(
    cli: Cli, team: Team, tmp_path: Path, origin: Cli
) -> None:
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")
    mallory = mallory_registry(cli, team, tmp_path)
    mallory("policy", "set", "m", "--writer", "public")  # unsigned
    mallory("push")
    line = refused_pull(bob)
    assert "`policy set m`" in line and "is not signed" in line
    # a new chain for m, not descending from the record Bob holds: its removal is what is judged
    mallory("policy", "remove", "m")
    mallory("policy", "set", "m", "--writer", "public", "--sign", team.mallory.fingerprint)
    mallory("push", "--force")
    line = refused_pull(bob)
    assert "`policy remove m`" in line and "is not signed" in line


def test_changes_signed_by_an_admin_under_the_policy_before_pass_in_order(
    cli: Cli, team: Team, tmp_path: Path, origin: Cli
) -> None:
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")
    # Tess makes Ada admin of team/; Ada, now admin, lets Bob write team/fraud: one pull brings both
    origin("policy", "set", "team/", "--admin", "user:ada@example.com",
           "--key", f"user:ada@example.com={team.ada.fingerprint}")  # fmt: skip
    ada = {**origin.env, "PACHA_PRINCIPAL": "user:ada@example.com"}
    origin(
        "policy",
        "set",
        "team/fraud",
        "--writer",
        "user:bob@example.com",
        "--key",
        f"user:bob@example.com={team.bob.fingerprint}",
        "--sign",
        team.ada.fingerprint,
        env=ada,
    )
    origin(
        "model",
        "register",
        "team/fraud",
        artifact(tmp_path, "a"),
        "-v",
        "1.0.0",
        "--sign",
        team.bob.fingerprint,
        env={**origin.env, "PACHA_PRINCIPAL": "user:bob@example.com"},
    )
    origin("push")
    bob("pull")
    out = bob("verify", "team/fraud:1.0.0", "--policy").text
    assert "team/fraud:1.0.0: signed by user:bob@example.com" in out
    # Ada is no admin of `/` nor of m: her signed change of m is refused
    origin("policy", "set", "m", "--writer", "public", "--sign", team.ada.fingerprint,
           env={**origin.env, "PACHA_PRINCIPAL": OWNER})  # fmt: skip
    origin("push")
    line = refused_pull(bob)
    assert "`policy set m`" in line and "Ada <ada@example.com>" in line and "administer m" in line


def test_groups_and_removals_need_an_admin_of_root(cli: Cli, team: Team, tmp_path: Path, origin: Cli) -> None:
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")
    origin("policy", "group", "ml", "--member", "user:bob@example.com")  # Tess signs (sign.always)
    origin("policy", "remove", "m")  # a signed removal statement
    origin("push")
    bob("pull")
    assert "no policy of its own" in bob("policy", "show", "m", ok=False).err
    assert json.loads(bob("policy", "show", "group:ml", "--json").text)["members"] == ["user:bob@example.com"]
    mallory = mallory_registry(cli, team, tmp_path)
    mallory("policy", "group", "ml", "--member", "user:mallory@example.com",
            "--sign", team.mallory.fingerprint)  # fmt: skip
    mallory("push")
    line = refused_pull(bob)
    assert "`policy group ml`" in line and "Mallory" in line and "administer /" in line


def test_a_first_pull_takes_the_first_change_on_trust_only_if_signed_by_a_trusted_key(
    cli: Cli, team: Team, tmp_path: Path
) -> None:
    origin = registry(cli, team, tmp_path, "origin-reg")
    origin("policy", "set", "/", "--admin", OWNER)  # unsigned: a history made before signing
    origin("push")
    bob = registry(cli, team, tmp_path, "bob-reg")
    line = refused_pull(bob)
    assert "`policy set /`" in line and "the first policy, needs a signature by a trusted key" in line
    # an untrusted key is no better
    outsider = Keys()
    try:
        stranger = outsider.make("Stranger <s@example.com>", home=team.home)
        origin("policy", "set", "/", "--admin", OWNER, "--sign", stranger.fingerprint)
        origin("push")
        assert "the first policy" in refused_pull(bob)
    finally:
        outsider.close()
    # `policy sign` adds the missing signatures (idempotent), and the chain then passes
    origin("policy", "sign", "/", "--key", team.tess.fingerprint)
    origin("push")
    assert "`policy set /`" in refused_pull(bob)  # its first record is still unsigned
    bob("config", "verify.policy", "false")
    bob("pull")  # trust what is there now, deliberately; later pulls are judged from it
    bob("config", "verify.policy", "true")
    origin("policy", "set", "/", "--admin", OWNER, "--key", f"{OWNER}={team.tess.fingerprint}",
           "--sign", team.tess.fingerprint)  # fmt: skip
    origin("push")
    assert "`policy set /`" in refused_pull(bob)  # the owner's key was listed by no policy before
    bob("config", "verify.policy", "false")
    bob("pull")
    bob("config", "verify.policy", "true")
    origin("policy", "set", "/", "--admin", OWNER, "--reader", "public",
           "--key", f"{OWNER}={team.tess.fingerprint}", "--sign", team.tess.fingerprint)  # fmt: skip
    origin("push")
    bob("pull")
    assert json.loads(bob("policy", "show", "/", "--json").text)["readers"] == ["public"]


def test_verify_policy_reports_the_chain(cli: Cli, team: Team, tmp_path: Path, origin: Cli) -> None:
    origin("model", "register", "m", artifact(tmp_path, "a"), "-v", "1.0.0", "--sign", team.ada.fingerprint,
           env={**origin.env, "PACHA_PRINCIPAL": "user:ada@example.com"})  # fmt: skip
    out = origin("verify", "m:1.0.0", "--policy").text
    assert "`policy set /`" in out and "the first: taken on trust" in out
    assert "`policy set m`" in out and f"signed by {OWNER} with {team.tess.fingerprint}" in out
    report = json.loads(origin("verify", "m:1.0.0", "--policy", "--json").text)
    assert report["policy"]["ok"] and len(report["policy"]["chain"]) == 2
    origin("config", "sign.always", "false")
    origin("policy", "set", "m", "--writer", "user:ada@example.com",
           "--key", f"user:ada@example.com={team.ada.fingerprint}")  # fmt: skip
    result = origin("verify", "m:1.0.0", "--policy", ok=False)
    assert result.code == 1 and "`policy set m`" in result.err and "is not signed" in result.err


def test_policy_signatures_travel_and_survive_gc(cli: Cli, team: Team, tmp_path: Path, origin: Cli) -> None:
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")
    attached = names(origin("for-each-ref", "attached/").lines)
    assert len(attached) == 2 and names(bob("for-each-ref", "attached/").lines) == attached
    origin("gc", "--prune", "now")
    assert names(origin("for-each-ref", "attached/").lines) == attached
    origin("fsck")


def test_with_root_keys_only_they_may_sign_the_first_policy(cli: Cli, team: Team, tmp_path: Path) -> None:
    """A trusted colleague who writes the first policy (or rewrites it in the bucket) becomes the
    root of trust on first use; policy.root-keys names the only keys that may."""
    mallory = registry(cli, team, tmp_path, "mallory-reg", PACHA_PRINCIPAL="user:mallory@example.com")
    who = "user:mallory@example.com"
    mallory("policy", "set", "/", "--admin", who, "--key", f"{who}={team.mallory.fingerprint}",
            "--sign", team.mallory.fingerprint)  # fmt: skip
    mallory("push")
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("config", "policy.root-keys", f"{team.tess.fingerprint.lower()}, {team.ada.fingerprint}")
    line = refused_pull(bob)
    assert "`policy set /`" in line and "policy.root-keys" in line and team.mallory.fingerprint in line, line
    carol = registry(cli, team, tmp_path, "carol-reg")  # no root keys: trust on first use
    carol("pull")  # what root-keys is for: carol's registry took Mallory as its root
    assert json.loads(carol("policy", "show", "/", "--json").text)["admins"] == ["user:mallory@example.com"]


def test_a_first_policy_signed_by_a_root_key_passes_and_says_so(
    cli: Cli, team: Team, tmp_path: Path, origin: Cli
) -> None:
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("config", "policy.root-keys", team.tess.fingerprint)
    bob("pull")
    bob("model", "list")  # the registry opens and reads after the checked pull
    origin("config", "policy.root-keys", team.tess.fingerprint)
    origin("model", "register", "m", artifact(tmp_path, "a"), "-v", "1.0.0", "--sign", team.ada.fingerprint,
           env={**origin.env, "PACHA_PRINCIPAL": "user:ada@example.com"})  # fmt: skip
    out = origin("verify", "m:1.0.0", "--policy").text
    assert "`policy set /`" in out and "a root key (policy.root-keys)" in out, out
    origin("config", "policy.root-keys", team.ada.fingerprint)
    failed = origin("verify", "m:1.0.0", "--policy", ok=False)
    assert failed.code == 1 and "no root key" in failed.out.decode() + failed.err


@pytest.mark.parametrize("value", ["nothex", "ABCD", "0" * 39, ""])
def test_root_keys_that_are_not_fingerprints_are_refused(cli: Cli, value: str) -> None:
    cli("init", "-q")
    result = cli("config", "policy.root-keys", value, ok=False)
    assert result.code != 0 and result.err.count("\n") == 1 and "policy.root-keys" in result.err, result.err
    assert "fingerprint" in result.err.lower()
