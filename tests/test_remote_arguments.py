"""Bad arguments of remote add/remove/check/set, push, pull, fetch and clone: a usage error (exit 2)
in one line, nothing recorded or created; a path remote that does not exist yet is said so."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pacha
from pacha.errors import InvalidInput, NotFound, PachaError, UsageError
from porcelain.remotes import admin
from tests.conftest import Cli


def test_a_missing_directory_is_named_not_created_silently(cli: Cli, tmp_path: Path) -> None:
    typo = tmp_path / "team-remtoe"
    out = cli("remote", "add", "typo", typo).text
    assert f"{typo} does not exist yet: the first `pacha push typo` creates it" in out, out
    assert not typo.exists()  # remote add creates nothing (the probe used to make it, empty)
    refused = cli.fails("remote", "check", "typo", code=1)
    assert refused.err.count("\n") == 1 and "does not exist yet" in refused.err, refused.err
    assert not typo.exists()
    cli("model", "register", "m", _file(tmp_path), "-v", "1.0.0")
    cli("push", "typo")  # the first push creates it
    assert (typo / "refs").exists()
    assert "honoured" in cli("remote", "check", "typo").text


def test_a_remote_whose_parent_does_not_exist_is_refused_and_not_recorded(cli: Cli, tmp_path: Path) -> None:
    refused = cli.fails("remote", "add", "typo", tmp_path / "no" / "such", code=1)
    assert refused.err.count("\n") == 1 and "parent directory" in refused.err, refused.err
    assert cli("remote", "list", "--json").text.strip() == "[]"


def test_a_failed_probe_records_nothing(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    cli.fails("remote", "add", "bad", blocker, code=2)
    assert cli("remote", "list", "--json").text.strip() == "[]"


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "m.bin"
    path.write_bytes(b"weights")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("remote", "add", "bad", ""),
        ("remote", "add", "bad", "   "),
        ("remote", "add", "--", "-x", "/tmp/p"),
        ("remote", "add", "a/b", "/tmp/p"),
        ("remote", "add", "", "/tmp/p"),
        ("remote", "add", "x.lock", "/tmp/p"),
        ("remote", "add", "ok", "s3://"),
        ("remote", "add", "ok", "s3://Bad_Bucket/x"),
        ("remote", "add", "ok", "s3://bucket/a//b"),
        ("remote", "add", "ok", "ftp://host/x"),
        ("remote", "add", "ok", "file://"),
        ("remote", "add", "ok", "s3://bucket/x", "--endpoint-url", "not a url"),
        ("remote", "add", "ok", "s3://bucket/x", "--endpoint-url", ""),
        ("remote", "add", "ok", "/tmp/p", "--endpoint-url", "http://localhost:1"),
        ("remote", "remove", ""),
        ("remote", "remove", "../x"),
        ("remote", "check", ""),
        ("remote", "set", "origin", "lazy", "maybe"),
        ("remote", "set", "origin", "jobs", "0"),
        ("remote", "set", "origin", "jobs", "many"),
        ("remote", "set", "origin", "colour", "red"),
        ("remote", "set", "origin", "url", ""),
        ("remote", "set", "origin", "url", "ftp://x/y"),
        ("remote", "set", "origin", "endpoint-url", "nohost"),
        ("remote", "set", "", "lazy", "true"),
        ("push", ""),
        ("push", "origin", ""),
        ("pull", ""),
        ("pull", "origin", " "),
        ("push", "origin", "m@"),
        ("push", "origin", "@production"),
        ("push", "origin", "m:1.x"),
        ("push", "origin", "m::1"),
        ("pull", "origin", ":1.0.0"),
        ("pull", "origin", "m@nostage"),
        ("pull", "origin", "M Y:1.0.0"),
        ("pull", "origin", "m:1.x"),
        ("fetch", ""),
        ("fetch", "a/b"),
        ("clone", ""),
        ("clone", "ftp://x/y"),
        ("clone", "s3://B"),
        ("clone", "{remote}", ""),
        ("clone", "{remote}", "{tmp}/c", "--jobs", "0"),
    ],
)
def test_bad_arguments_are_usage_errors(cli: Cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    remote = tmp_path / "remote"
    cli("remote", "add", "origin", remote, "--no-check")
    cli("model", "register", "m", _file(tmp_path), "-v", "1.0.0")
    cli("push")
    argv = [a.format(remote=remote, tmp=tmp_path) for a in args]
    refused = cli.fails(*argv, code=2)
    assert refused.err.count("\n") == 1 and refused.err.startswith("usage: "), refused.err
    assert not (tmp_path / "c").exists()


VALID_NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.text(max_size=30),
    url=st.one_of(st.text(max_size=40), st.just("/"), st.builds(lambda b: f"s3://{b}", st.text(max_size=20))),
)
def test_remote_add_either_records_or_refuses_with_a_usage_error(
    fresh_dir: Path, name: str, url: str
) -> None:
    """Any name and URL: recorded, or refused by exit 2 (bad), 1 (a path whose parent is missing)
    or 128 (a directory of other files), and then config.toml is byte for byte as before; never
    another error."""
    plumbing = pacha.open_registry(fresh_dir)
    config = fresh_dir / "config.toml"
    before = config.read_bytes()
    try:
        added = admin.add(plumbing, name, url, probe=False)
    except (UsageError, NotFound, InvalidInput) as exc:  # InvalidInput: a directory of other files
        assert "\n" not in str(exc) and isinstance(exc, PachaError)
        assert config.read_bytes() == before
        return
    assert added.settings.name == name and (added.missing is None or not added.missing.exists())
    admin.remove(plumbing, name)


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    registry, _ = pacha.init_registry(tmp_path / ".pacha")
    return registry.root


def test_a_version_that_is_not_here_is_not_pushed_as_up_to_date(cli: Cli, tmp_path: Path) -> None:
    cli("remote", "add", "origin", tmp_path / "remote")
    cli("model", "register", "m", _file(tmp_path), "-v", "1.0.0")
    refused = cli.fails("push", "origin", "m:9.9.9", code=1)  # it said "Everything up-to-date"
    assert "'m:9.9.9' names no version here" in refused.err, refused.err
    assert "1 ref(s)" not in cli("push", "origin", "m:1.0.0").text


def test_a_directory_of_other_files_is_not_taken_for_a_remote(cli: Cli, tmp_path: Path) -> None:
    """`pacha remote add origin ~` by a slip: refused, and a push there too (it would write the
    remote's files among the user's)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    refused = cli.fails("remote", "add", "origin", home, code=128)
    assert refused.err.count("\n") == 1 and "not a Pacha remote" in refused.err, refused.err
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]  # nothing written there
    assert "not a Pacha remote" in cli.fails("remote", "add", "origin", home, "--no-check", code=128).err
    from porcelain.remotes.settings import add_remote  # config.toml edited by hand: push still refuses

    add_remote(pacha.open_registry(cli.registry), "origin", str(home), default=True)
    cli("model", "register", "m", _file(tmp_path), "-v", "1.0.0")
    assert "not a Pacha remote" in cli.fails("push", code=128).err
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]
