"""pacha remote add|list|remove|set|check, and how remote failures are reported (one line, Git's codes)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.remotes import Shared, artifact, make_shared, member, shared_place
from tests.seaweedfs import SeaweedFS


@pytest.fixture(params=["file", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from shared_place(request, tmp_path)


def test_remote_add_list_set_remove(cli: Cli, tmp_path: Path) -> None:
    place = tmp_path / "remote"
    cli("remote", "add", "origin", place, "--no-check")
    cli("remote", "add", "backup", f"file://{tmp_path / 'backup'}", "--default", "--no-check")
    listed = json.loads(cli("remote", "list", "--json").text)
    assert [(r["name"], r["default"]) for r in listed] == [("origin", False), ("backup", True)]
    assert cli("remote", "set", "origin", "lazy", "true").text == "remote.origin.lazy = true\n"
    cli("remote", "set", "origin", "jobs", "4")
    origin = json.loads(cli("remote", "list", "--json").text)[0]
    assert origin["lazy"] is True and origin["jobs"] == 4 and origin["url"] == str(place)
    assert "lazy" in cli("remote", "list").text
    assert cli("config", "core.default-remote").text.strip() == "backup"
    removed = json.loads(cli("remote", "remove", "backup", "--json").text)
    assert removed["name"] == "backup"
    # with one remote left, it is the default
    assert json.loads(cli("remote", "list", "--json").text)[0]["default"] is True


def test_remote_usage_errors_are_one_line(cli: Cli, tmp_path: Path) -> None:
    assert "no remote is configured" in cli.fails("push", code=1).err
    cli("remote", "add", "origin", tmp_path / "r", "--no-check")
    assert "already exists" in cli.fails("remote", "add", "origin", tmp_path / "x", "--no-check").err
    assert "is invalid" in cli.fails("remote", "add", "a/b", tmp_path / "x", "--no-check").err
    assert "'nope' names no ref here or on the remote, nor a remote" in cli.fails("push", "nope", code=1).err
    assert "must be true or false" in cli.fails("remote", "set", "origin", "lazy", "maybe").err
    assert "unknown remote setting" in cli.fails("remote", "set", "origin", "colour", "red").err
    missing = cli.fails("fetch", code=1)  # a directory that does not exist: a typo, or never pushed to
    assert missing.err.count("\n") == 1 and "does not exist (nothing was pushed there yet)" in missing.err
    (tmp_path / "r").mkdir()
    assert "Everything up-to-date" in cli("fetch").text  # an empty remote


def test_remote_check_probes_conditional_writes(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    if shared.root is not None:  # a directory is probed once it exists (the first push makes it)
        shared.root.mkdir()
    report = json.loads(ada("remote", "check", "origin", "--json").text)
    assert report["readable"] and report["writable"] and report["conditional_writes"] and report["ok"]
    assert "honoured" in ada("remote", "check").text


def test_a_read_only_user_can_fetch_pull_and_clone_but_not_push(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    place = make_shared("s3", tmp_path, seaweedfs)
    ada = member(tmp_path, "ada", place)
    ada("model", "register", "m", artifact(tmp_path, "m.bin"), "-v", "1.0.0")
    ada("push")
    reader = member(tmp_path, "reader", place, read_only=True)
    reader("fetch")
    reader("pull")
    assert reader("model", "get", "m:1.0.0", "--json").code == 0
    check = json.loads(reader("remote", "check", "--json").text)
    assert check["readable"] and not check["writable"]
    reader("model", "register", "m", artifact(tmp_path, "m2.bin"), "-v", "1.1.0")
    refused = reader.fails("push", code=128)
    assert refused.err.count("\n") == 1 and "cannot write" in refused.err, refused.err
    clone = member(tmp_path, "clone", place, add=False, read_only=True)
    clone("clone", place.url, clone.registry, *place.add_args())
    assert clone("fsck").code == 0


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_network_and_bucket_failures_are_one_line(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    cli = member(tmp_path, "ada", make_shared("s3", tmp_path, seaweedfs), add=False)
    cli("init", "-q")
    cli("model", "register", "m", artifact(tmp_path, "m.bin"), "-v", "1.0.0")
    cli(
        "remote",
        "add",
        "gone",
        "s3://no-such-bucket-here/x",
        "--endpoint-url",
        seaweedfs.endpoint_url,
        "--no-check",
    )
    missing = cli.fails("push", "gone", code=1)
    assert "no-such-bucket-here" in missing.err and missing.err.count("\n") == 1, missing.err
    down = f"http://127.0.0.1:{_closed_port()}"
    cli("remote", "add", "down", "s3://bucket/x", "--endpoint-url", down, "--no-check")
    unreachable = cli.fails("fetch", "down")
    assert unreachable.code == 128 and unreachable.err.count("\n") == 1, unreachable.err
    bad = dict(cli.env, AWS_SECRET_ACCESS_KEY="wrong")
    cli(
        "remote",
        "add",
        "origin",
        f"s3://{seaweedfs.new_bucket()}/x",
        "--endpoint-url",
        seaweedfs.endpoint_url,
        "--no-check",
    )
    denied = cli.fails("push", "origin", env=bad)
    assert denied.err.count("\n") == 1 and "Traceback" not in denied.err, denied.err
    lost = cli.fails(
        "clone",
        "s3://no-such-bucket-here/x",
        tmp_path / "c",
        "--endpoint-url",
        seaweedfs.endpoint_url,
        registry=tmp_path / "ada",
    )
    assert lost.code == 1 and not (tmp_path / "c").exists(), lost.err


def test_the_team_walkthrough_in_docs_runs_as_written(tmp_path: Path) -> None:
    from tests.test_docs import ROOT, blocks, run_sh, workspace

    code = blocks(ROOT / "docs" / "remotes.md", "sh")[0]  # the walkthrough (the second: encrypted)
    env = workspace(tmp_path)
    env["PACHA_DIR"] = str(tmp_path / ".pacha")
    out = run_sh(code, tmp_path, env).stdout
    assert "production" in out and "passed review" in out


def test_pull_and_push_without_a_remote_name_use_the_default(tmp_path: Path) -> None:
    place = make_shared("file", tmp_path, None)
    ada = member(tmp_path, "ada", place)
    ada("model", "register", "m", artifact(tmp_path, "m.bin"), "-v", "1.0.0")
    ada("model", "stage", "m:1.0.0", "--to", "production")
    assert json.loads(ada("push", "m", "--json").text)["refs"]  # `m` names no remote: a REF
    bob = member(tmp_path, "bob", place)
    pulled = json.loads(bob("pull", "m@production", "--json").text)
    assert pulled["remote"] == "origin" and {r["ref"] for r in pulled["refs"]} == {
        "models/m/1.0.0",
        "stages/models/m/production/1.0.0",
    }
