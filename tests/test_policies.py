"""Access policies (issue 15): allow and deny for each action and principal kind, prefix and name
precedence, the owner's default, admin-only changes, and the audit trail, through the CLI.

Every refusal is one line naming the principal, the action and the name, exit 1, and leaves the
registry byte-identical (Cli.fails compares every file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

OWNER = "user:test@example.com"  # who ran `pacha init` in the cli fixture


def as_user(cli: Cli, email: str) -> dict[str, str]:
    return {**cli.env, "PACHA_AUTHOR_EMAIL": email}


def as_service(cli: Cli, ident: str) -> dict[str, str]:
    return {**cli.env, "PACHA_PRINCIPAL": f"service-account:{ident}", "PACHA_AUTHOR_EMAIL": "ci@example.com"}


def artifact(tmp_path: Path, text: str = "weights") -> Path:
    path = tmp_path / f"{text}.bin"
    path.write_text(text)
    return path


# principal kind -> (the principal written in the policy, env of one who holds it, env of one who does not)
def kinds(cli: Cli) -> dict[str, tuple[str, dict[str, str], dict[str, str]]]:
    return {
        "user": (
            "user:alice@example.com",
            as_user(cli, "alice@example.com"),
            as_user(cli, "dave@example.com"),
        ),
        "group": ("group:ml", as_user(cli, "bob@example.com"), as_user(cli, "dave@example.com")),
        "service-account": (
            "service-account:ci-bot",
            as_service(cli, "ci-bot"),
            as_service(cli, "other-bot"),
        ),
        "public": ("public", as_user(cli, "anyone@example.com"), None),  # type: ignore[dict-item]
    }


@pytest.fixture
def policed(cli: Cli, tmp_path: Path) -> Cli:
    """A registry with model m:1.0.0 registered by the owner and a group ml holding bob."""
    cli("model", "register", "m", artifact(tmp_path), "-v", "1.0.0")
    cli("model", "register", "base", artifact(tmp_path, "base"), "-v", "1.0.0")
    cli("policy", "group", "ml", "--member", "user:bob@example.com")
    return cli


def refused(result, principal: str, action: str, name: str) -> None:
    assert result.code == 1, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert principal in lines[0] and action in lines[0] and name in lines[0], lines[0]


WRITES = [
    ("register", lambda p: ["model", "register", "m", p, "-v", "2.0.0"]),
    ("stage", lambda p: ["model", "stage", "m:1.0.0", "-t", "staging"]),
    ("delete", lambda p: ["model", "delete", "m:1.0.0"]),
    (
        "lineage",
        lambda p: ["model", "lineage", "add", "m:1.0.0", "--from", "base:1.0.0", "--relation", "fine-tuned"],
    ),
]


@pytest.mark.parametrize("kind", ["user", "group", "service-account", "public"])
@pytest.mark.parametrize("action", [name for name, _ in WRITES])
def test_writers_of_each_kind_may_write_and_others_are_refused(
    policed: Cli, tmp_path: Path, kind: str, action: str
) -> None:
    cli = policed
    principal, holder, other = kinds(cli)[kind]
    cli("policy", "set", "m", "--writer", principal, "--reader", "public")
    args = dict(WRITES)[action](artifact(tmp_path, "new"))
    if other is not None:
        who = "service-account:other-bot" if kind == "service-account" else "user:dave@example.com"
        refused(cli.fails(*args, env=other), who, action if action != "lineage" else "add lineage to", "m")
    cli(*args, env=holder)


@pytest.mark.parametrize("kind", ["user", "group", "service-account", "public"])
def test_readers_may_get_download_and_list_but_not_write(policed: Cli, tmp_path: Path, kind: str) -> None:
    cli = policed
    principal, holder, other = kinds(cli)[kind]
    cli("policy", "set", "m", "--reader", principal)
    out = tmp_path / "out.bin"
    assert json.loads(cli("model", "get", "m:1.0.0", "--json", env=holder).text)["version"] == "1.0.0"
    cli("model", "download", "m:1.0.0", "-o", out, env=holder)
    assert out.read_text() == "weights"
    assert "m" in {v["name"] for v in json.loads(cli("model", "list", "--json", env=holder).text)}
    refused(cli.fails("model", "stage", "m:1.0.0", "-t", "staging", env=holder), "", "stage", "m")
    if other is None:
        return
    who = "service-account:other-bot" if kind == "service-account" else "user:dave@example.com"
    refused(cli.fails("model", "get", "m:1.0.0", env=other), who, "get", "m")
    refused(
        cli.fails("model", "download", "m:1.0.0", "-o", tmp_path / "no.bin", env=other), who, "download", "m"
    )
    refused(cli.fails("model", "list", "m", env=other), who, "list", "m")
    assert not (tmp_path / "no.bin").exists()
    listed = {v["name"] for v in json.loads(cli("model", "list", "--json", env=other).text)}
    assert listed == {"base"}  # m is left out, the open name is shown


def test_restore_needs_write(policed: Cli) -> None:
    cli = policed
    cli("model", "delete", "m:1.0.0")
    cli("policy", "set", "m", "--writer", "user:alice@example.com", "--reader", "public")
    refused(
        cli.fails("model", "restore", "m:1.0.0", env=as_user(cli, "dave@example.com")),
        "user:dave",
        "restore",
        "m",
    )
    cli("model", "restore", "m:1.0.0", env=as_user(cli, "alice@example.com"))


def test_runs_need_write_on_their_recipe(cli: Cli, tmp_path: Path) -> None:
    from tests.test_recipes import prepare_recipe

    cli("recipe", "register", prepare_recipe(cli, tmp_path))
    cli("policy", "set", "bert-finetune", "--writer", "user:alice@example.com", "--reader", "public")
    dave, alice = as_user(cli, "dave@example.com"), as_user(cli, "alice@example.com")
    refused(
        cli.fails("run", "start", "bert-finetune:1.0.0", env=dave),
        "user:dave",
        "record runs of",
        "bert-finetune",
    )
    name = cli("run", "start", "bert-finetune:1.0.0", env=alice).text.strip()
    refused(cli.fails("run", "log", name, "loss=1", env=dave), "user:dave", "record runs of", "bert-finetune")
    cli("run", "log", name, "loss=1", env=alice)


def test_no_policy_leaves_names_open_and_only_the_owner_administers(cli: Cli, tmp_path: Path) -> None:
    alice = as_user(cli, "alice@example.com")
    cli("model", "register", "free", artifact(tmp_path), env=alice)  # no policy: open
    result = cli.fails("policy", "set", "free", "--writer", "user:alice@example.com", env=alice)
    refused(result, "user:alice@example.com", "change the policy of", "free")
    assert "test@example.com" in result.err  # names the owner
    refused(
        cli.fails("policy", "group", "ml", "--member", "user:alice@example.com", env=alice),
        "alice",
        "policy",
        "/",
    )
    cli("policy", "set", "/", "--admin", "user:alice@example.com")  # the owner
    cli("policy", "set", "free", "--writer", "user:alice@example.com", env=alice)
    cli("policy", "group", "ml", "--member", "user:alice@example.com", env=alice)


def test_the_most_specific_policy_decides_and_prefix_admins_administer_below(
    cli: Cli, tmp_path: Path
) -> None:
    alice, bob, carol = (as_user(cli, f"{n}@example.com") for n in ("alice", "bob", "carol"))
    cli("policy", "set", "/", "--reader", "public")
    cli("policy", "set", "team/", "--writer", "user:alice@example.com", "--admin", "user:carol@example.com")
    cli("policy", "set", "team/special", "--writer", "user:bob@example.com", env=carol)  # admin of team/
    cli("model", "register", "team/general", artifact(tmp_path), env=alice)
    refused(
        cli.fails("model", "register", "team/special", artifact(tmp_path), env=alice),
        "alice",
        "register",
        "team/special",
    )
    cli("model", "register", "team/special", artifact(tmp_path), env=bob)
    refused(
        cli.fails("model", "register", "team/general", artifact(tmp_path, "x"), env=bob),
        "bob",
        "register",
        "team/general",
    )
    refused(
        cli.fails("model", "register", "elsewhere", artifact(tmp_path), env=alice),
        "alice",
        "register",
        "elsewhere",
    )
    # carol administers team/ and everything under it, but not / nor other names
    cli("model", "register", "team/special", artifact(tmp_path, "c"), "--bump", "patch", env=carol)
    refused(
        cli.fails("policy", "set", "/", "--reader", "public", env=carol), "carol", "change the policy of", "/"
    )
    refused(
        cli.fails("policy", "set", "team/", "--admin", "public", env=alice),
        "alice",
        "change the policy of",
        "team/",
    )
    # removing the name's own policy hands the decision back to team/
    cli("policy", "remove", "team/special", env=carol)
    cli("model", "register", "team/special", artifact(tmp_path, "a"), "--bump", "patch", env=alice)


def test_policy_changes_are_audited_and_versioned(cli: Cli) -> None:
    cli("policy", "set", "team/", "--writer", "user:alice@example.com", "-m", "alice joins")
    cli(
        "policy",
        "set",
        "team/",
        "--writer",
        "user:bob@example.com",
        "--admin",
        "user:alice@example.com",
        "-m",
        "handover",
    )
    shown = json.loads(cli("policy", "show", "team/", "--history", "--json").text)
    assert shown["writers"] == ["user:bob@example.com"] and shown["admins"] == ["user:alice@example.com"]
    assert shown["author"] == OWNER
    trail = shown["history"]
    assert [e["message"] for e in trail] == ["alice joins", "handover"]
    assert trail[0]["old"] is None and trail[1]["old"] == trail[0]["new"] == shown["previous"]
    assert all("test@example.com" in e["who"] for e in trail)
    first = json.loads(cli("cat-object", "-p", trail[0]["new"]).text)  # the old record stays readable
    assert first["type"] == "access-policy" and first["writers"] == ["user:alice@example.com"]
    reflog = cli("reflog", "policies/prefixes/team").text
    assert "handover" in reflog and "alice joins" in reflog
    listed = json.loads(cli("policy", "list", "--json").text)
    assert [p["target"] for p in listed] == ["team/"]


def test_policy_files_and_keys(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    fpr = "AB" * 20
    path.write_text(
        'readers = ["public"]\nwriters = ["group:ml"]\nadmins = []\n'
        f'[keys]\n"user:alice@example.com" = "{fpr}"\n'
    )
    shown = json.loads(cli("policy", "set", "team/", "--file", path, "--json").text)
    assert shown["readers"] == ["public"] and shown["keys"] == {"user:alice@example.com": [fpr]}


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "set", "Bad Name", "--reader", "public"],
        ["policy", "set", "m", "--reader", "robot:x"],
        ["policy", "set", "m", "--key", "user:a@example.com=nothex"],
        ["policy", "set", "m", "--key", "public=" + "AB" * 20],
        ["policy", "group", "ml", "--member", "group:other"],
        ["policy", "show", "nothing"],
        ["policy", "remove", "nothing"],
    ],
)
def test_bad_policy_input_is_one_line_and_writes_nothing(cli: Cli, args: list[str]) -> None:
    result = cli.fails(*args)
    assert result.code in (1, 128) and len(result.err.strip().splitlines()) == 1, result.err


def test_a_policy_changed_while_a_commit_is_in_flight_is_honoured(cli: Cli, tmp_path: Path) -> None:
    """The check runs again inside the ref transaction: a pre-commit hook (which runs after the
    first check) takes alice's write away, and her registration is refused with nothing moved."""
    cli("policy", "set", "m", "--writer", "user:alice@example.com")
    hooks = cli.registry / "hooks"
    hooks.mkdir()
    hook = hooks / "pre-commit"
    import sys

    hook.write_text(
        f'#!/bin/sh\n[ "$PACHA_OPERATION" = register ] || exit 0\n'
        f"PACHA_PRINCIPAL={OWNER} exec {sys.executable} -c 'from porcelain.cli import main; main()' "
        "policy set m --writer user:bob@example.com >/dev/null\n"
    )
    hook.chmod(0o755)
    result = cli(
        "model", "register", "m", artifact(tmp_path), env=as_user(cli, "alice@example.com"), ok=False
    )
    refused(result, "user:alice@example.com", "register", "m")
    assert json.loads(cli("model", "list", "--json").text) == []
    assert json.loads(cli("policy", "show", "m", "--json").text)["writers"] == ["user:bob@example.com"]


@pytest.mark.parametrize("kind", ["user", "group", "service-account", "public"])
def test_admins_of_each_kind_change_policies_below_and_others_are_refused(policed: Cli, kind: str) -> None:
    cli = policed
    principal, holder, other = kinds(cli)[kind]
    cli("policy", "set", "team/", "--admin", principal)
    if other is not None:
        who = "service-account:other-bot" if kind == "service-account" else "user:dave@example.com"
        refused(
            cli.fails("policy", "set", "team/x", "--reader", "public", env=other),
            who,
            "change the policy of",
            "team/x",
        )
    cli("policy", "set", "team/x", "--reader", "public", env=holder)
    assert json.loads(cli("policy", "show", "team/x", "--json").text)["readers"] == ["public"]
    refused(
        cli.fails("policy", "set", "m", "--reader", "public", env=holder), "", "change the policy of", "m"
    )


@pytest.mark.parametrize("lazy", [False, True])
def test_policies_travel_with_push_clone_and_pull(policed: Cli, tmp_path: Path, lazy: bool) -> None:
    """Pushed with the registry; a clone (lazy too: every command reads the policies) enforces
    them; a policy changed later arrives with pull."""
    cli = policed
    cli("policy", "set", "m", "--writer", "user:alice@example.com", "--reader", "public")
    cli("remote", "add", "origin", tmp_path / "remote", "--default")
    cli("push")
    copy = Cli(tmp_path / "copy", tmp_path)
    copy.env = {**cli.env, "PACHA_DIR": str(tmp_path / "copy")}
    copy("clone", tmp_path / "remote", tmp_path / "copy", *(["--lazy"] if lazy else []))
    assert json.loads(copy("policy", "show", "m", "--json").text)["writers"] == ["user:alice@example.com"]
    dave = {**copy.env, "PACHA_AUTHOR_EMAIL": "dave@example.com"}
    refused(
        copy.fails("model", "register", "m", artifact(tmp_path, "d"), "-v", "9.0.0", env=dave),
        "dave",
        "register",
        "m",
    )
    cli("policy", "set", "m", "--writer", "user:dave@example.com", "-m", "dave takes over")
    cli("push")
    copy("pull")
    copy("model", "register", "m", artifact(tmp_path, "d"), "-v", "9.0.0", env=dave)
    trail = json.loads(copy("policy", "show", "m", "--history", "--json").text)["history"]
    assert trail[-1]["message"] == "dave takes over"


def test_init_records_its_principal_as_owner_and_refuses_a_bad_one(cli: Cli, tmp_path: Path) -> None:
    assert cli("config", "core.owner").text.strip() == OWNER
    ci = {**cli.env, "PACHA_PRINCIPAL": "service-account:ci-bot", "PACHA_DIR": str(tmp_path / "ci")}
    cli("init", "-q", env=ci)
    assert cli("config", "core.owner", env=ci).text.strip() == "service-account:ci-bot"
    cli("policy", "set", "/", "--reader", "public", env=ci)  # the owner administers everything
    bad = {**cli.env, "PACHA_PRINCIPAL": "group:admins", "PACHA_DIR": str(tmp_path / "bad")}
    result = cli("init", "-q", env=bad, ok=False)
    assert result.code == 128 and "PACHA_PRINCIPAL" in result.err and not (tmp_path / "bad").exists()
