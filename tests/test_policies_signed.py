"""The enforceable form of an access policy (issue 15): `pacha verify --policy` accepts a version,
and the change that put it in its stage, only if signed by a key of a principal the policy lets
write the name; `pull` with `verify.policy = true` refuses what is not, with nothing moved.
Real gpg, throwaway ed25519 keys (tests/gpg_keys.py); a directory remote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.gpg_keys import Key, Keys


class Team:
    """Ada and Bob's keys in one GNUPGHOME (the cli's), and a keyring file trusting both."""

    def __init__(self, cli: Cli, keys: Keys, tmp_path: Path) -> None:
        home = keys.home()
        self.ada: Key = keys.make("Ada <ada@example.com>", home=home)
        self.bob: Key = keys.make("Bob <bob@example.com>", home=home)
        self.tess: Key = keys.make("Tess <test@example.com>", home=home)  # the owner (cli's identity)
        cli.env["GNUPGHOME"] = str(home)
        self.keyring = tmp_path / "team.asc"
        self.keyring.write_bytes(
            self.ada.public(tmp_path / "ada.asc").read_bytes()
            + self.bob.public(tmp_path / "bob.asc").read_bytes()
            + self.tess.public(tmp_path / "tess.asc").read_bytes()
        )
        cli("config", "sign.keyring", self.keyring)
        # the first policy lists the owner's key, so that the owner's later policy changes, signed
        # with it, pass the policy chain (tests/test_policies_chain.py)
        owner_key = f"user:test@example.com={self.tess.fingerprint}"
        cli("policy", "set", "/", "--reader", "public", "--key", owner_key, *self.signs)

    @property
    def signs(self) -> list[str]:
        """How a policy change is signed by the owner."""
        return ["--sign", self.tess.fingerprint]


@pytest.fixture
def team(cli: Cli, tmp_path: Path) -> Iterator[Team]:
    keys = Keys()
    yield Team(cli, keys, tmp_path)
    keys.close()


def artifact(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"{text}.bin"
    path.write_text(text)
    return path


def as_ada(cli: Cli, **extra: str) -> dict[str, str]:
    return {**cli.env, "PACHA_AUTHOR_EMAIL": "ada@example.com", **extra}


def verify_policy(cli: Cli, ref: str, ok: bool) -> dict:
    result = cli("verify", ref, "--policy", "--json", ok=ok)
    report = json.loads(result.text)
    assert report["policy"]["ok"] is ok, report
    assert result.code == (0 if ok else 1)
    return report


# principal kind -> (policy options making Ada's key an allowed writer's, env Ada acts in)
def allowing(team: Team, kind: str) -> list[str]:
    ada = f"{team.ada.fingerprint}"
    return {
        "user": ["--writer", "user:ada@example.com", "--key", f"user:ada@example.com={ada}"],
        "group": ["--writer", "group:ml"],
        "service-account": ["--writer", "service-account:ci", "--key", f"service-account:ci={ada}"],
        "public": ["--writer", "public"],
    }[kind]


@pytest.mark.parametrize("kind", ["user", "group", "service-account", "public"])
def test_verify_policy_accepts_a_signature_by_an_allowed_principal_of_each_kind(
    cli: Cli, team: Team, tmp_path: Path, kind: str
) -> None:
    cli(
        "policy",
        "group",
        *team.signs,
        "ml",
        "--member",
        "user:ada@example.com",
        "--key",
        f"user:ada@example.com={team.ada.fingerprint}",
    )
    cli("policy", "set", *team.signs, "m", "--reader", "public", *allowing(team, kind))
    env = as_ada(cli, PACHA_PRINCIPAL="service-account:ci") if kind == "service-account" else as_ada(cli)
    cli(
        "model",
        "register",
        "m",
        artifact(tmp_path, "a"),
        "-v",
        "1.0.0",
        "--sign",
        team.ada.fingerprint,
        env=env,
    )
    report = verify_policy(cli, "m:1.0.0", True)
    (line,) = report["policy"]["signed"]
    assert team.ada.fingerprint in line and ("public" if kind == "public" else kind) in line
    # Bob's key is trusted by gpg but belongs to no allowed principal (unless public writes m)
    cli(
        "model",
        "register",
        "m",
        artifact(tmp_path, "b"),
        "-v",
        "1.0.1",
        "--sign",
        team.bob.fingerprint,
        env=env,
    )
    report = verify_policy(cli, "m:1.0.1", kind == "public")
    if kind != "public":
        (problem,) = report["problems"]
        assert "not by a principal allowed to write m" in problem and team.bob.fingerprint in problem


def test_verify_policy_refuses_unsigned_versions_and_stage_changes(
    cli: Cli, team: Team, tmp_path: Path
) -> None:
    cli("policy", "set", *team.signs, "m", *allowing(team, "user"))
    ada = as_ada(cli)
    cli("model", "register", "m", artifact(tmp_path, "a"), "-v", "1.0.0", env=ada)  # locally allowed
    result = cli("verify", "m:1.0.0", "--policy", ok=False)
    assert result.code == 1 and "m:1.0.0 is not signed" in result.err
    assert "user:ada@example.com (1 key(s))" in result.err
    cli(
        "model",
        "register",
        "m",
        artifact(tmp_path, "b"),
        "-v",
        "1.1.0",
        "--sign",
        team.ada.fingerprint,
        env=ada,
    )
    cli("model", "stage", "m:1.1.0", "-t", "staging", "--sign", team.ada.fingerprint, env=ada)
    assert (
        "the change of m:1.1.0 to staging: signed by user:ada@example.com"
        in cli("verify", "m:1.1.0", "--policy").text
    )
    cli("model", "stage", "m:1.1.0", "-t", "production", env=ada)  # unsigned promotion
    result = cli("verify", "m:1.1.0", "--policy", ok=False)
    assert "the change of m:1.1.0 to production is not signed" in result.err
    assert "m:1.1.0: signed by user:ada@example.com" in result.text  # the record itself is fine


def test_a_claimed_identity_is_caught_by_its_signature(cli: Cli, team: Team, tmp_path: Path) -> None:
    """Bob sets PACHA_AUTHOR_EMAIL to Ada's address: the local policy cannot tell, the signature can."""
    cli(
        "policy", "set", *team.signs, "m", *allowing(team, "user"),
        "--key", f"user:bob@example.com={team.bob.fingerprint}",
    )  # fmt: skip
    cli(
        "model",
        "register",
        "m",
        artifact(tmp_path, "a"),
        "-v",
        "1.0.0",
        "--sign",
        team.bob.fingerprint,
        env=as_ada(cli),
    )
    result = cli("verify", "m:1.0.0", "--policy", ok=False)
    assert (
        "signed by Bob <bob@example.com>" in result.err
        and "not by a principal allowed to write m" in result.err
    )
    assert "m:1.0.0: ok" not in result.text


def test_prefix_policies_and_the_owner_sign_for_names_below(cli: Cli, team: Team, tmp_path: Path) -> None:
    cli("policy", "set", "/", "--key", f"user:test@example.com={team.bob.fingerprint}",
        "--key", f"user:test@example.com={team.tess.fingerprint}", *team.signs)  # fmt: skip
    cli(
        "policy",
        "set",
        *team.signs,
        "team/",
        "--admin",
        "user:ada@example.com",
        "--key",
        f"user:ada@example.com={team.ada.fingerprint}",
    )
    cli(
        "model",
        "register",
        "team/m",
        artifact(tmp_path, "a"),
        "-v",
        "1.0.0",
        "--sign",
        team.ada.fingerprint,
        env=as_ada(cli),
    )
    cli("model", "register", "team/m", artifact(tmp_path, "b"), "-v", "1.0.1", "--sign", team.bob.fingerprint)
    assert "signed by user:ada@example.com" in verify_policy(cli, "team/m:1.0.0", True)["policy"]["signed"][0]
    assert (
        "signed by user:test@example.com" in verify_policy(cli, "team/m:1.0.1", True)["policy"]["signed"][0]
    )


def other_registry(cli: Cli, tmp_path: Path, name: str) -> Cli:
    other = Cli(tmp_path / name, tmp_path)
    other.env = {**cli.env, "PACHA_DIR": str(tmp_path / name)}
    other("init", "-q")
    other("remote", "add", "origin", tmp_path / "remote", "--default")
    other("config", "sign.keyring", cli("config", "sign.keyring").text.strip())
    other("config", "verify.policy", "true")
    return other


def local_refs(cli: Cli) -> list[str]:
    """The registry's own refs (not the remote-tracking ones a refused pull's fetch updates)."""
    return [line for line in cli("for-each-ref").lines if "\tremotes/" not in line]


def refused_pull(mirror: Cli) -> str:
    before = local_refs(mirror)
    result = mirror("pull", ok=False)
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1, result.err
    assert local_refs(mirror) == before  # nothing moved
    return result.err


def test_pull_with_verify_policy_accepts_allowed_signatures_and_refuses_the_rest(
    cli: Cli, team: Team, tmp_path: Path
) -> None:
    cli("remote", "add", "origin", tmp_path / "remote", "--default")
    cli("policy", "set", *team.signs, "m", "--reader", "public", *allowing(team, "user"))
    ada = as_ada(cli)
    cli(
        "model",
        "register",
        "m",
        artifact(tmp_path, "a"),
        "-v",
        "1.0.0",
        "--sign",
        team.ada.fingerprint,
        env=ada,
    )
    cli("model", "stage", "m:1.0.0", "-t", "staging", "--sign", team.ada.fingerprint, env=ada)
    cli("push")
    mirror = other_registry(cli, tmp_path, "mirror")
    mirror("pull")
    assert json.loads(mirror("policy", "show", "m", "--json").text)["writers"] == ["user:ada@example.com"]
    assert "signed by user:ada@example.com" in mirror("verify", "m:1.0.0", "--policy").text
    # someone with the bucket's credentials (here: a claimed identity) pushes a version Bob signed
    cli(
        "model",
        "register",
        "m",
        artifact(tmp_path, "b"),
        "-v",
        "1.0.1",
        "--sign",
        team.bob.fingerprint,
        env=ada,
    )
    cli("push")
    assert "pull refused (verify.policy): m:1.0.1 is signed by Bob" in refused_pull(mirror)
    # and an unsigned promotion of a good version
    cli("model", "delete", "m:1.0.1")
    cli("model", "stage", "m:1.0.0", "-t", "production", env=ada)
    cli("push")
    assert "the change of m:1.0.0 to production is not signed" in refused_pull(mirror)
    assert [v["stage"] for v in json.loads(mirror("model", "list", "--json").text)] == ["staging"]
    mirror("config", "verify.policy", "false")
    mirror("pull")  # without the setting, the pull takes it (and verify --policy still tells)
    assert "to production is not signed" in mirror("verify", "m:1.0.0", "--policy", ok=False).err
