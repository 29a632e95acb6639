"""Attacks on `pacha policy set -F FILE`: every malformed policy file is one line naming the file
and what is wrong, exit 128, no traceback, no policy written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli

BAD = {
    "keys-int": ('[keys]\n"user:a@x" = 5\n', "[keys]"),
    "keys-float": ('[keys]\n"user:a@x" = 1.5\n', "[keys]"),
    "keys-bool": ('[keys]\n"user:a@x" = true\n', "[keys]"),
    "keys-table": ('[keys]\n"user:a@x" = {a = 1}\n', "[keys]"),
    "keys-list-of-int": ('[keys]\n"user:a@x" = [5]\n', "[keys]"),
    "keys-not-table": ('keys = "x"\n', "[keys]"),
    "readers-ints": ("readers = [1]\n", "'readers' must be an array of principals"),
    "writers-string": ('writers = "user:a@x"\n', "'writers' must be an array of principals"),
    "unknown-field": ('bogus = ["public"]\n', "'bogus' is not a policy field"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_malformed_policy_file_is_one_clear_line(cli: Cli, tmp_path: Path, case: str) -> None:
    text, says = BAD[case]
    path = tmp_path / "policy.toml"
    path.write_text(text)
    refused = cli.fails("policy", "set", "team/", "-F", path, code=128)
    assert len(refused.err.strip().splitlines()) == 1, refused.err
    assert str(path) in refused.err and says in refused.err, refused.err
    assert "team/" not in cli("policy", "list").text
