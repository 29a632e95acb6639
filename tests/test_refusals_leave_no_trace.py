"""Every check that can refuse a command runs before its first write (issue 12 item 10).

`Cli.fails` (tests/conftest.py) compares every file of the registry before and after each
expected failure in the whole suite; these tests add the refusals that used to come only
after the artifact and the record were stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import registry_digest
from tests.test_recipes import RECIPE, prepare_recipe

STAGE_PATH = ("staging", "production", "archived")


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights " * 1000)
    return path


def objects_in(cli) -> list[str]:
    return sorted(k for k in registry_digest(cli.registry) if k.startswith("objects/"))


@pytest.mark.parametrize(("noun", "room"), [("model", 227), ("data", 225)])
def test_a_version_too_long_for_its_ref_is_refused_before_anything_is_stored(cli, weights, noun, room):
    before = objects_in(cli)
    result = cli.fails(noun, "register", "m", weights, "-v", "1.0.0-" + "a" * 300, code=128)
    assert "longer than 255 bytes" in result.err and f"at most {room} bytes" in result.err
    assert objects_in(cli) == before


def test_the_longest_version_that_fits_can_reach_every_stage(cli, weights):
    # stages/models/m/development/ is 28 bytes: a version of 227 bytes is the longest that fits
    longest = "1.0.0-" + "a" * 221
    cli.fails("model", "register", "m", weights, "-v", longest + "a")
    cli("model", "register", "m", weights, "-v", longest)
    for stage in STAGE_PATH:
        cli("model", "stage", f"m:{longest}", "--to", stage)
    assert cli("model", "get", f"m:{longest}", "--json").text.count('"archived"') == 1


def test_a_name_that_fits_its_version_ref_but_not_its_stage_refs_is_refused_first(cli, weights):
    name = "n" * 200  # models/NAME/VERSION fits in 255 bytes; stages/models/NAME/development/VERSION does not
    result = cli.fails("model", "register", name, weights, "-v", "1.0.0-" + "a" * 30)
    assert "stages/models/" in result.err and "longer than 255 bytes" in result.err
    assert objects_in(cli) == []


def test_a_recipe_whose_version_is_too_long_is_refused_before_storing(cli, tmp_path):
    text = RECIPE.replace('version = "1.0.0"', 'version = "1.0.0-' + "b" * 300 + '"')
    path = prepare_recipe(cli, tmp_path, text)
    before = objects_in(cli)
    result = cli.fails("recipe", "register", path)
    assert "longer than 255 bytes" in result.err
    assert objects_in(cli) == before


def test_the_guard_sees_every_change_but_the_lock_file(cli, weights):
    """What Cli.fails compares: bytes, modes, new files and folders; never LMDB's lock.mdb."""
    cli("model", "register", "m", weights, "-v", "1.0.0")
    before = registry_digest(cli.registry)
    (cli.registry / "refs" / "lock.mdb").write_bytes(b"changes on every open")
    assert registry_digest(cli.registry) == before
    data = cli.registry / "refs" / "data.mdb"
    original = data.read_bytes()
    data.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    assert registry_digest(cli.registry) != before
    data.write_bytes(original)
    assert registry_digest(cli.registry) == before
    (cli.registry / "objects" / "zz").mkdir()
    assert registry_digest(cli.registry) != before
    (cli.registry / "objects" / "zz").rmdir()
    (cli.registry / "config.toml").chmod(0o640)  # private registries hold it 0600
    assert registry_digest(cli.registry) != before
