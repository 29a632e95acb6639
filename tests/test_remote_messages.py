"""The refusals of push, pull and fetch say what happened and name a command that resolves it,
and that command does resolve it (a refused push must not send the user to a pull that
sends them back to push)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Cli
from tests.remotes import Shared, artifact, member


def _suggested(err: str) -> list[str]:
    """The commands a message suggests (`pacha ...` in backquotes)."""
    return re.findall(r"`(pacha [^`]+)`", err)


def _two(tmp_path: Path) -> tuple[Cli, Cli, Shared]:
    root = tmp_path / "shared-remote"
    shared = Shared("file", str(root), root=root)
    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "m", artifact(tmp_path, "m.bin"), "-v", "1.0.0")
    ada("model", "register", "m", artifact(tmp_path, "m2.bin"), "-v", "1.1.0")
    ada("push")
    bob = member(tmp_path, "bob", shared, add=False)
    bob("clone", shared.url, bob.registry)
    return ada, bob, shared


def test_after_a_refused_push_the_pull_refusal_names_what_resolves_it(tmp_path: Path) -> None:
    ada, bob, _ = _two(tmp_path)
    ada("model", "stage", "m:1.0.0", "--to", "staging", "-m", "for review")
    ada("push")
    bob("model", "stage", "m:1.0.0", "--to", "production", "-m", "ship it")
    push = bob.fails("push", code=1)
    assert push.err.count("\n") == 1, push.err
    assert "not a fast-forward" in push.err and "Ada" in push.err, push.err
    assert {"pacha push origin --force", "pacha pull origin --force"} <= set(_suggested(push.err)), push.err
    pull = bob("pull", ok=False)  # the fetch part of it happened (tracking refs), as in Git
    assert pull.err.count("\n") == 1, pull.err
    assert "pacha push origin" not in _suggested(pull.err), pull.err  # it was just refused
    assert {"pacha push origin --force", "pacha pull origin --force"} <= set(_suggested(pull.err)), pull.err
    assert "changed here and on origin" in pull.err
    # and the suggestions do resolve it: keep theirs here, or (in a copy of bob) overwrite theirs
    bob("pull", "origin", "--force")
    assert "staging" in bob("model", "get", "m:1.0.0").text


def test_push_force_resolves_what_the_refusal_says(tmp_path: Path) -> None:
    ada, bob, _ = _two(tmp_path)
    ada("model", "stage", "m:1.0.0", "--to", "staging")
    ada("push")
    bob("model", "stage", "m:1.0.0", "--to", "production")
    bob.fails("push", code=1)
    bob("push", "origin", "--force")
    ada("pull", "--force")
    assert "production" in ada("model", "get", "m:1.0.0").text


def test_two_productions_on_pull_do_not_suggest_a_push_that_is_refused(tmp_path: Path) -> None:
    ada, bob, _ = _two(tmp_path)
    ada("model", "stage", "m:1.1.0", "--to", "production")
    ada("push")
    bob("model", "stage", "m:1.0.0", "--to", "production")
    pull = bob("pull", ok=False)  # the fetch part of it happened (tracking refs), as in Git
    suggested = _suggested(pull.err)
    assert pull.err.count("\n") == 1 and "production" in pull.err, pull.err
    assert "pacha push origin" not in suggested, pull.err
    assert "pacha pull origin --force" in suggested, pull.err
    push = bob.fails("push", code=1)  # the push it used to suggest is refused by the stage rules
    assert "production" in push.err
    for command in suggested:  # every suggestion runs and leaves one version in production
        if command.startswith("pacha model stage"):
            bob(*command.split()[1:])
    bob("pull")
    production = bob("model", "list", "--stage", "production").text
    assert "1.1.0" in production and "1.0.0" not in production.replace("1.1.0", ""), production
