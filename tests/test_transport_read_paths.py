"""A ranged GET's body is read from the socket straight into its buffer when botocore and
urllib3 have the expected shape (pacha.transport.s3_backend._plain_socket_reader), else through
urllib3's documented readinto: both give the same bytes, and connections are reused. Against a
real SeaweedFS."""

from __future__ import annotations

from pathlib import Path

import pytest

import pacha
from pacha.transport import s3_backend
from porcelain.remotes.sync import pull
from tests.remotes import artifact, as_member, make_shared, member
from tests.seaweedfs import SeaweedFS


@pytest.mark.parametrize("path", ["socket", "urllib3"])
def test_a_pull_reads_the_same_bytes_either_way(
    path: str, tmp_path: Path, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = make_shared("s3", tmp_path, seaweedfs)
    with pytest.MonkeyPatch.context() as env:
        for key, value in shared.env.items():
            env.setenv(key, value)
        ada, bob = member(tmp_path, "ada", shared), member(tmp_path, "bob", shared)
        model = artifact(tmp_path, "m.bin", 5 << 20)  # chunked: many objects, several ranged GETs
        ada("model", "register", "m", model, "-v", "1.0.0")
        ada("push")
        used: list[bool] = []
        real = s3_backend._plain_socket_reader

        def reader(body, reply):  # type: ignore[no-untyped-def]
            found = real(body, reply) if path == "socket" else None
            used.append(found is not None)
            return found

        monkeypatch.setattr(s3_backend, "_plain_socket_reader", reader)
        with as_member(bob):
            pull(pacha.open_registry(bob.registry), "origin")
        assert used and set(used) == {path == "socket"}  # this botocore has the expected shape
        bob("model", "download", "m:1.0.0", "-o", tmp_path / "out.bin")
        assert (tmp_path / "out.bin").read_bytes() == model.read_bytes()
        bob("fsck")
