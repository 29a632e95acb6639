"""Shared pieces of the transport tests: registries holding a small model, and remotes of
both kinds (a directory, and a bucket on the session's real SeaweedFS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pacha import objects
from pacha.registry import Registry, init_registry
from pacha.transport.remote import Remote, open_remote
from pacha.trees import write_tree
from tests.seaweedfs import SeaweedFS

BIG = 9 << 20  # above the chunking threshold (8 MiB): stored as a chunk list


def make_model(registry: Registry, where: Path, seed: bytes, name: str = "m", version: str = "1.0.0") -> str:
    """Register a folder (a chunked 9 MiB file and 30 small files) as a record; returns its id."""
    folder = where / f"{name}-{version}"
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(_random(seed, BIG))
    for i in range(30):
        (folder / f"part{i}.txt").write_text(f"{seed!r} {i}\n" * 20)
    tree = write_tree(registry.objects, folder)
    record = objects.make_record("model-version", {"name": name, "version": version}, [tree])
    record_id = registry.objects.put_bytes(record, "record")
    with registry.transaction(f"register {name} {version}") as tx:
        tx.update(f"models/{name}/{version}", record_id)
    return record_id


def _random(seed: bytes, size: int) -> bytes:
    """Reproducible incompressible bytes (the same seed gives the same file)."""
    import random

    return random.Random(seed).randbytes(size)


def new_registry(tmp_path: Path, name: str) -> Registry:
    return init_registry(tmp_path / name)[0]


@pytest.fixture(name="remote_url", params=["file", "s3"])
def remote_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh remote of each kind: a directory, and a bucket prefix on a real SeaweedFS."""
    if request.param == "file":
        yield str(tmp_path / "remote")
        return
    server: SeaweedFS = request.getfixturevalue("seaweedfs")
    bucket = server.new_bucket()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    try:
        yield f"s3://{bucket}/team/registry"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def connect(url: str, name: str = "origin", **kwargs: object) -> Remote:
    return open_remote(url, name=name, **kwargs)  # type: ignore[arg-type]
