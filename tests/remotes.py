"""Helpers of the remote tests: a shared remote (a real SeaweedFS bucket or a directory) and
registries that use it, driven through the real `pacha` command or the Python API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.seaweedfs import SeaweedFS


@dataclass
class Shared:
    """A place a team shares: its URL and what a client needs to reach it."""

    kind: str  # "file" or "s3"
    url: str
    env: dict[str, str] = field(default_factory=dict)
    server: SeaweedFS | None = None
    bucket: str = ""
    prefix: str = ""
    root: Path | None = None

    @property
    def endpoint(self) -> str | None:
        return self.server.endpoint_url if self.server else None

    def add_args(self) -> list[str]:
        return ["--endpoint-url", self.server.endpoint_url] if self.server else []

    def keys(self, under: str = "") -> list[str]:
        """Every key (file path) stored under the remote's root/under."""
        if self.root is not None:
            base = self.root / under
            return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())
        assert self.server is not None
        client = self.server.client()
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/{under}"
        )
        return sorted(o["Key"][len(self.prefix) + 1 :] for page in pages for o in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        if self.root is not None:
            return (self.root / key).read_bytes()
        assert self.server is not None
        return self.server.client().get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["Body"].read()

    def size(self, key: str) -> int:
        if self.root is not None:
            return (self.root / key).stat().st_size
        assert self.server is not None
        head = self.server.client().head_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")
        return int(head["ContentLength"])

    def arrived(self) -> int:
        """Bytes of the packs the remote shows (those whose index is there)."""
        keys = set(self.keys("objects/pack"))
        return sum(self.size(k) for k in keys if k.endswith(".pack") and k[: -len(".pack")] + ".idx" in keys)

    def write(self, key: str, data: bytes) -> None:
        """Replace a stored key's bytes behind Pacha's back (damage, as a faulty disk or a person)."""
        if self.root is not None:
            path = self.root / key
            path.chmod(0o644)
            path.write_bytes(data)
            return
        assert self.server is not None
        self.server.client().put_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}", Body=data)


def make_shared(kind: str, tmp_path: Path, seaweedfs: SeaweedFS | None) -> Shared:
    if kind == "file":
        root = tmp_path / "shared-remote"
        return Shared("file", str(root), root=root)
    assert seaweedfs is not None
    bucket = seaweedfs.new_bucket()
    return Shared(
        "s3", f"s3://{bucket}/team", env=seaweedfs.env(), server=seaweedfs, bucket=bucket, prefix="team"
    )


def shared_place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    """The body of a test file's `shared` fixture (params file, s3): the same scenario against a
    directory and against a real SeaweedFS bucket."""
    server = request.getfixturevalue("seaweedfs") if request.param == "s3" else None
    place = make_shared(request.param, tmp_path, server)
    with aws_env(place.env):
        yield place


@contextmanager
def aws_env(env: dict[str, str]) -> Iterator[None]:
    """The AWS variables of the shared place in this process (for Python API calls)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def member(tmp_path: Path, name: str, place: Shared, *, add: bool = True, read_only: bool = False) -> Cli:
    """A registry of one team member, with `origin` pointing at place (unless add is False)."""
    cli = Cli(tmp_path / name / ".pacha", tmp_path / name)
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    cli.env.update(place.server.env(read_only) if place.server else {})
    cli.env["PACHA_AUTHOR_NAME"] = name.capitalize()
    cli.env["PACHA_AUTHOR_EMAIL"] = f"{name}@example.com"
    cli.env["PACHA_NO_PROGRESS"] = "1"
    if add:  # in this process: each `pacha` process costs a start-up and an S3 client set-up
        import pacha
        from porcelain.remotes.settings import add_remote

        plumbing, _ = pacha.init_registry(cli.registry)
        endpoint = place.server.endpoint_url if place.server else None
        add_remote(plumbing, "origin", place.url, endpoint_url=endpoint, default=True)
    return cli


def artifact(tmp_path: Path, name: str, size: int = 50_000) -> Path:
    path = tmp_path / "artifacts" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


@contextmanager
def as_member(cli: Cli) -> Iterator[None]:
    """PACHA_AUTHOR_* of a member in this process (Python API calls record them as who)."""
    env = {k: cli.env[k] for k in ("PACHA_AUTHOR_NAME", "PACHA_AUTHOR_EMAIL")}
    with aws_env(env):
        yield
