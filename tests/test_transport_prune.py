"""`pacha remote prune`: what killed or lost pushes leave on a remote (a pack without its index,
an unreachable reflog segment, an unfinished multipart upload, a probe key, a directory
remote's temp files) is removed once older than the grace period, never what a
push in progress may be writing, and never anything a ref needs (a directory remote and a
real SeaweedFS bucket, through the CLI)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pacha.ids import ZERO_ID
from pacha.transport.layout import Change, LogSegment
from pacha.transport.remote import open_remote
from tests.remotes import Shared, artifact, member, shared_place
from tests.test_transport_resume import killed_push


@pytest.fixture(params=["file", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from shared_place(request, tmp_path)


def make_leftovers(shared: Shared, tmp_path: Path) -> tuple[object, set[str]]:
    """A registry pushed to shared, then leftovers of every kind; returns (ada, leftover keys)."""
    import pacha

    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "fraud", artifact(tmp_path, "v1.bin"), "-v", "1.0.0")
    ada("push")
    remote = open_remote(shared.url, endpoint_url=shared.endpoint)
    before = set(shared.keys())
    # a push killed between a pack and its index
    registry = pacha.open_registry(ada.registry)
    record = registry.refs.get("models/fraud/1.0.1") or _second_version(ada, tmp_path, registry)
    killed_push(registry, shared.url, record, "push-pack-before-index", target=20_000)
    # a segment that lost the race for the table (uploaded, never named by it)
    table = remote.read_refs()
    lost = LogSegment(
        table.seq + 1, table.log_head, "Bob", time.time_ns(), "lost", [Change("x/y", ZERO_ID, record)]
    )
    remote.backend.create(lost.key(), lost.encode())
    remote.backend.put("probe/0123456789abcdef", b"first")  # a probe killed before removing its key
    if shared.server is not None:  # an unfinished multipart upload
        client = shared.server.client()
        key = f"{shared.prefix}/objects/pack/pack-{'ab' * 32}.pack"
        upload = client.create_multipart_upload(Bucket=shared.bucket, Key=key)["UploadId"]
        client.upload_part(Bucket=shared.bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 1000)
    else:  # a writer killed mid-write
        (shared.root / "tmp").mkdir(exist_ok=True)
        (shared.root / "tmp" / "put-999-dead").write_bytes(b"half")
    leftovers = set(shared.keys()) - before
    return ada, leftovers


def _second_version(ada, tmp_path: Path, registry) -> str:
    ada("model", "register", "fraud", artifact(tmp_path, "v2.bin", 200_000), "-v", "1.0.1")
    return registry.refs.get("models/fraud/1.0.1")


def uploads(shared: Shared) -> list[str]:
    if shared.server is None:
        return []
    reply = shared.server.client().list_multipart_uploads(Bucket=shared.bucket, Prefix=shared.prefix)
    return [u["Key"] for u in reply.get("Uploads", [])]


def age(shared: Shared, keys: set[str], seconds: float) -> None:
    """Make keys of a directory remote look written `seconds` ago."""
    assert shared.root is not None
    then = time.time() - seconds
    for key in keys:
        os.utime(shared.root / key, (then, then))


def test_prune_removes_old_leftovers_and_nothing_a_ref_needs(shared: Shared, tmp_path: Path) -> None:
    ada, leftovers = make_leftovers(shared, tmp_path)
    kinds = {"pack without index", "unreachable reflog segment", "probe key"}
    kinds |= {"unfinished upload"} if shared.server else {"temp file"}
    # young: the default grace (1 h) keeps everything, and says so
    report = json.loads(ada("remote", "prune", "--json").text)
    assert report["removed"] == [] and {i["what"] for i in report["kept_young"]} == kinds
    if shared.server is None:
        age(shared, leftovers, 2 * 3600)
        grace = []  # the default, 1 h
    else:
        grace = ["--grace", "0"]  # a bucket's keys cannot be made older: nothing else writes now
    dry = json.loads(ada("remote", "prune", "--dry-run", "--json", *grace).text)
    assert {i["what"] for i in dry["removed"]} == kinds and dry["dry_run"]
    assert leftovers <= set(shared.keys())  # a dry run removes nothing
    done = json.loads(ada("remote", "prune", "--json", *grace).text)
    assert {i["key"] for i in done["removed"]} == {i["key"] for i in dry["removed"]}
    assert not leftovers & set(shared.keys()) and uploads(shared) == []
    assert "removed 0 leftover(s)" in ada("remote", "prune", *grace).text
    # what the refs need is all there: a clone is whole and equal
    carl = member(tmp_path, "carl", shared, add=False)
    carl("clone", shared.url, tmp_path / "carl" / ".pacha", *shared.add_args())
    carl("fsck")
    carl("model", "download", "fraud:1.0.0", "-o", tmp_path / "got.bin")
    assert (tmp_path / "got.bin").read_bytes() == (tmp_path / "artifacts" / "v1.bin").read_bytes()


def test_prune_keeps_a_young_pack_and_a_push_completes_it(shared: Shared, tmp_path: Path) -> None:
    import pacha

    ada, _ = make_leftovers(shared, tmp_path)
    pruned = json.loads(ada("remote", "prune", "--json").text)  # everything is young
    assert pruned["removed"] == []
    ada("push")  # resumes the killed push: the young pack is reused, its index sent
    assert pacha.open_registry(ada.registry).refs.get("remotes/origin/models/fraud/1.0.1")
    carl = member(tmp_path, "carl", shared, add=False)
    carl("clone", shared.url, tmp_path / "carl" / ".pacha", *shared.add_args())
    carl("fsck")


def test_prune_refuses_a_place_that_holds_no_registry(tmp_path: Path) -> None:
    shared = Shared("file", str(tmp_path / "empty"), root=tmp_path / "empty")
    ada = member(tmp_path, "ada", shared)
    assert "holds no Pacha registry" in ada.fails("remote", "prune", code=128).err
    assert "not a duration" in ada.fails("remote", "prune", "--grace", "soon", code=2).err
    assert not (tmp_path / "empty").exists()
