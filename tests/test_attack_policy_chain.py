"""Attacks on the policy chain (issue 15) by someone holding the bucket's credentials: a policy or
group record an admin signed for one target, moved to the ref of another target, must not be
accepted by `pull` with `verify.policy = true` (the signature covers the record, whose target is
part of it) nor by `verify --policy`. Through the CLI; real gpg, throwaway ed25519 keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.gpg_keys import Keys
from tests.test_policies_chain import OWNER, Team, artifact, mallory_registry, refused_pull, registry

ADA = "user:ada@example.com"


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    keys = Keys()
    yield Team(keys, tmp_path)
    keys.close()


@pytest.fixture
def origin(cli: Cli, team: Team, tmp_path: Path) -> Cli:
    """Tess's registry (the owner): `/` makes her admin with her key, `m` lets Ada write; both
    changes signed (sign.always), pushed."""
    tess = registry(cli, team, tmp_path, "origin-reg")
    tess("config", "user.signingkey", team.tess.fingerprint)
    tess("config", "sign.always", "true")
    root_key = f"{OWNER}={team.tess.fingerprint}"
    tess("policy", "set", "/", "--admin", OWNER, "--reader", "public", "--key", root_key)
    tess("policy", "set", "m", "--writer", ADA, "--key", f"{ADA}={team.ada.fingerprint}")
    tess("push")
    return tess


def _rev(cli: Cli, ref: str) -> str:
    return cli("read-ref", ref).text.strip()


def test_a_signed_policy_record_moved_to_another_target_is_refused(
    cli: Cli, team: Team, tmp_path: Path, origin: Cli
) -> None:
    # Tess makes Ada admin of team/ only (signed); Bob's registry trusts that
    origin("policy", "set", "team/", "--admin", ADA, "--key", f"{ADA}={team.ada.fingerprint}")
    origin("push")
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")
    mallory = mallory_registry(cli, team, tmp_path)
    granted = _rev(mallory, "policies/prefixes/team")
    # the same signed record put at the ref of prod/ (which has no policy of its own yet)
    mallory("write-ref", "policies/prefixes/prod", granted)
    mallory("push")
    line = refused_pull(bob)
    assert "`policy set prod/`" in line and "team/" in line and "nothing was changed" in line
    assert "no policy of its own" in bob("policy", "show", "prod/", ok=False).err


def test_a_signed_group_record_moved_to_another_group_is_refused(
    cli: Cli, team: Team, tmp_path: Path, origin: Cli
) -> None:
    # `/` lets group:release write; Tess defines the group interns (Mallory) but not release yet
    origin("policy", "set", "/", "--admin", OWNER, "--writer", "group:release", "--reader", "public",
           "--key", f"{OWNER}={team.tess.fingerprint}")  # fmt: skip
    origin("policy", "group", "interns", "--member", "user:mallory@example.com",
           "--key", f"user:mallory@example.com={team.mallory.fingerprint}")  # fmt: skip
    origin("push")
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")
    mallory = mallory_registry(cli, team, tmp_path)
    mallory("write-ref", "policies/groups/release", _rev(mallory, "policies/groups/interns"))
    as_mallory = {**mallory.env, "PACHA_PRINCIPAL": "user:mallory@example.com"}
    evil = artifact(tmp_path, "evil")
    mallory("model", "register", "n", evil, "-v", "6.6.6", "--sign", team.mallory.fingerprint, env=as_mallory)
    mallory("push")
    line = refused_pull(bob)
    assert "`policy group release`" in line and "interns" in line
    assert "n:6.6.6" not in bob("model", "list").text


def test_verify_policy_reports_a_moved_record(cli: Cli, team: Team, tmp_path: Path, origin: Cli) -> None:
    origin("policy", "set", "team/", "--admin", ADA, "--key", f"{ADA}={team.ada.fingerprint}")
    model = artifact(tmp_path, "a")
    origin("model", "register", "prod/m", model, "-v", "1.0.0", "--sign", team.tess.fingerprint)
    assert "`policy set team/`" not in origin("verify", "prod/m:1.0.0", "--policy").text
    # someone with write access to the files moves team/'s signed record to prod/
    origin("write-ref", "policies/prefixes/prod", _rev(origin, "policies/prefixes/team"))
    result = origin("verify", "prod/m:1.0.0", "--policy", ok=False)
    assert result.code == 1 and "`policy set prod/`" in result.err and "team/" in result.err
    report = json.loads(origin("verify", "prod/m:1.0.0", "--policy", "--json", ok=False).text)
    assert not report["policy"]["ok"]


def test_a_signed_version_record_moved_to_another_version_is_refused(
    cli: Cli, team: Team, tmp_path: Path, origin: Cli
) -> None:
    as_ada = {**origin.env, "PACHA_PRINCIPAL": ADA}
    model = artifact(tmp_path, "a")
    origin("model", "register", "m", model, "-v", "1.0.0", "--sign", team.ada.fingerprint, env=as_ada)
    origin("push")
    bob = registry(cli, team, tmp_path, "bob-reg")
    bob("pull")
    mallory = mallory_registry(cli, team, tmp_path)
    # Ada's signed record of m:1.0.0 put at m:9.0.0 (a version Ada never made)
    record = _rev(mallory, "models/m/1.0.0")
    mallory("write-ref", "models/m/9.0.0", record)
    mallory("write-ref", "stages/models/m/development/9.0.0", record)
    mallory("push")
    line = refused_pull(bob)
    assert "m:9.0.0" in line and "1.0.0" in line, line
    result = mallory("verify", "m:9.0.0", ok=False)
    assert result.code == 1 and "1.0.0" in result.err, result.err
