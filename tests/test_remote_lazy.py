"""A lazy clone behaves like Git's partial clone (--filter=blob:none): every record (versions,
cards, lineage, runs, recipes) and tree arrives at clone, fetch and pull; artifact bytes
only when something reads them, verified on arrival. Against a directory and a real SeaweedFS."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import pacha
from tests.conftest import Cli
from tests.remotes import Shared, artifact, member, shared_place
from tests.test_cards import CARD
from tests.test_recipes import RECIPE

BIG = 3 << 20  # bytes of each model artifact: chunked, and far more than all the records


@pytest.fixture(params=["file", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from shared_place(request, tmp_path)


def _team_registry(ada: Cli, tmp_path: Path) -> dict[str, str]:
    """Datasets (a file and a folder), a recipe and a run, two models with lineage and a card."""
    work = ada.cwd
    (work / "t.csv").write_text("a,b\n1,2\n")
    ada("data", "register", "transactions", work / "t.csv")
    folder = work / "images"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.bin").write_bytes(os.urandom(70_000))
    ada("data", "register", "images", folder)
    (work / "requirements.txt").write_text("torch==2.3\n")
    (work / "recipe.toml").write_text(RECIPE)
    ada("recipe", "register", work / "recipe.toml")
    run = ada("run", "start", "bert-finetune:1.0.0").text.strip().split()[-1]
    ada("run", "log", run, "loss=0.5", "--step", "1")
    ada("run", "finish", run)
    ada("model", "register", "fraud", artifact(tmp_path, "m1.bin", BIG), "-v", "1.0.0")
    (work / "card.toml").write_text(CARD)
    m2 = artifact(tmp_path, "m2.bin", BIG)
    ada("model", "register", "fraud", m2, "-v", "1.1.0", "--card", work / "card.toml")
    ada("model", "lineage", "add", "fraud:1.1.0", "--from", "fraud:1.0.0", "--relation", "fine-tuned")
    ada("model", "stage", "fraud:1.0.0", "--to", "production", "-m", "passed review")
    ada("push")
    got = json.loads(ada("model", "get", "fraud:1.1.0", "--json").text)
    return {"run": run, "artifact": got["record"]["artifact"]}


def _here(cli: Cli, object_id: str) -> bool:
    """Whether the registry stores the object (asked without fetching it, as gc and fsck ask)."""
    return pacha.open_registry(cli.registry).objects.has(object_id)


def _lazy_clone(shared: Shared, tmp_path: Path) -> tuple[Cli, dict]:
    lazy = member(tmp_path, "lazy", shared, add=False)
    report = json.loads(lazy("clone", "--lazy", shared.url, lazy.registry, *shared.add_args(), "--json").text)
    return lazy, report


def test_every_read_command_works_after_a_lazy_clone_without_artifact_bytes(
    shared: Shared, tmp_path: Path
) -> None:
    ada = member(tmp_path, "ada", shared)
    made = _team_registry(ada, tmp_path)
    lazy, report = _lazy_clone(shared, tmp_path)
    assert report["lazy"] is True
    assert 0 < report["bytes"] < BIG // 4, report  # the records, not the artifacts
    assert not _here(lazy, made["artifact"])  # left on the remote

    def same(*args: str) -> None:
        mine, theirs = lazy(*args).text, ada(*args).text
        if "--json" in args:  # the same document (a rebuilt run summary orders its keys otherwise)
            mine, theirs = json.loads(mine), json.loads(theirs)
        assert mine == theirs, args

    same("model", "list", "--json")
    same("model", "get", "fraud:1.1.0", "--json")
    same("model", "card", "fraud:1.1.0")
    same("model", "lineage", "fraud:1.1.0", "--json")
    same("model", "provenance", "fraud:1.1.0", "--json")
    same("model", "used-by", "fraud:1.0.0", "--json")
    same("data", "list", "--json")
    same("data", "get", "images:1.0.0", "--json")
    same("recipe", "list", "--json")
    same("recipe", "show", "bert-finetune:1.0.0")
    same("run", "list", "--json")
    same("run", "get", made["run"], "--json")
    same("run", "metrics", made["run"], "--json")
    same("for-each-ref")
    stages = json.loads(lazy("model", "history", "fraud", "--json").text)
    assert {(s["version"], s["to"]) for s in stages} >= {("1.0.0", "production")}
    assert not _here(lazy, made["artifact"])  # none of that fetched artifacts
    checked = lazy("fsck")  # artifacts the remote holds are not damage here (Git: promisor objects)
    assert "not fetched: " + made["artifact"] in checked.err and not _here(lazy, made["artifact"])
    out = tmp_path / "m2.out"
    lazy("model", "download", "fraud:1.1.0", "-o", out)
    assert out.read_bytes() == (tmp_path / "artifacts" / "m2.bin").read_bytes()


def test_fetch_and_pull_into_a_lazy_registry_bring_new_records(shared: Shared, tmp_path: Path) -> None:
    ada = member(tmp_path, "ada", shared)
    made = _team_registry(ada, tmp_path)
    lazy, _ = _lazy_clone(shared, tmp_path)
    ada("model", "register", "fraud", artifact(tmp_path, "m3.bin", BIG), "-v", "1.2.0")
    ada("push")
    fetched = json.loads(lazy("fetch", "--json").text)
    assert fetched["bytes"] < BIG // 4, fetched
    lazy("for-each-ref", "remotes/")  # the tracking refs' records are here: no missing object
    pulled = json.loads(lazy("pull", "--json").text)
    assert pulled["bytes"] < BIG // 4, pulled
    assert (
        lazy("model", "get", "fraud:1.2.0", "--json").out == ada("model", "get", "fraud:1.2.0", "--json").out
    )
    three = json.loads(lazy("model", "get", "fraud:1.2.0", "--json").text)
    assert not _here(lazy, three["record"]["artifact"])
    assert made["artifact"]


def test_a_read_of_a_missing_object_in_a_lazy_registry_fetches_it_verified(
    shared: Shared, tmp_path: Path
) -> None:
    """Any reader (here plumbing cat-object) of an object a lazy registry lacks gets it from the
    default remote; a registry that is not lazy says which command fetches it."""
    ada = member(tmp_path, "ada", shared)
    made = _team_registry(ada, tmp_path)
    lazy, _ = _lazy_clone(shared, tmp_path)
    assert lazy("cat-object", "-p", made["artifact"]).out == (tmp_path / "artifacts" / "m2.bin").read_bytes()
    assert _here(lazy, made["artifact"])  # kept, verified on arrival
    lazy("remote", "set", "origin", "lazy", "false")
    one = json.loads(lazy("model", "get", "fraud:1.0.0", "--json").text)["record"]["artifact"]
    refused = lazy.fails("cat-object", "-p", one, code=1)
    assert refused.err.count("\n") == 1 and "pacha pull origin" in refused.err, refused.err


def test_for_each_ref_lists_refs_whose_objects_were_never_fetched(tmp_path: Path) -> None:
    """Remote-tracking refs naming objects that are not here (a fetch of refs only, as an older
    Pacha or an interrupted fetch leaves them): for-each-ref lists them, exit 0; the type column
    says `missing` unless the registry is lazy, which fetches the (small) record."""
    from pacha.transport.fetch import fetch
    from pacha.transport.remote import open_remote

    shared = Shared("file", str(tmp_path / "shared-remote"), root=tmp_path / "shared-remote")
    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "m", artifact(tmp_path, "m.bin"), "-v", "1.0.0")
    ada("push")
    bob = member(tmp_path, "bob", shared)
    fetch(pacha.open_registry(bob.registry), open_remote(shared.url), "origin", objects=False)
    record = ada("rev-parse", "m:1.0.0").text.strip()
    assert not _here(bob, record)
    listed = bob("for-each-ref", "remotes/").lines
    assert f"{record} missing\tremotes/origin/models/m/1.0.0" in listed, listed
    sizes = bob("for-each-ref", "--format", "%(objectsize) %(refname)", "remotes/origin/models/").lines
    assert sizes == ["- remotes/origin/models/m/1.0.0"]
    rows = json.loads(bob("for-each-ref", "--json", "remotes/").text)
    assert {r["type"] for r in rows} == {None}
    assert not _here(bob, record)  # listing fetched nothing
    bob("remote", "set", "origin", "lazy", "true")
    assert f"{record} record\tremotes/origin/models/m/1.0.0" in bob("for-each-ref", "remotes/").lines
    assert _here(bob, record)
