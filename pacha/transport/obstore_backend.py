"""A remote in an S3-compatible bucket through obstore (Rust object_store bindings).

Built to measure against the boto3 backend on the same data (scripts/bench_transport.py);
see docs/remotes.md for the figures and the choice. Conditional writes: put(mode="create")
sends If-None-Match: *, put(mode={"e_tag": ...}) sends If-Match.
Credentials: the AWS_* environment variables (object_store reads neither ~/.aws/config
profiles nor SSO by itself).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from pacha.transport.backend import (
    MULTIPART_THRESHOLD,
    PART_SIZE,
    Buffer,
    KeyMissing,
    PreconditionFailed,
    Stat,
    Upload,
)
from pacha.transport.errors import RemoteAccessDenied, RemoteError, RemoteNotFound, RemoteUnreachable
from pacha.transport.urls import RemoteURL


class ObstoreBackend:
    """Keys under s3://bucket/prefix."""

    def __init__(self, url: RemoteURL, endpoint_url: str | None = None, jobs: int | None = None) -> None:
        from obstore.store import S3Store

        self.location = str(url)
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        options: dict[str, Any] = {}
        if endpoint:
            options["endpoint"] = endpoint
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.store = S3Store(
            url.bucket,
            prefix=url.prefix or None,
            region=region or "us-east-1",
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http:"))},
            **options,
        )
        self.jobs = jobs or 8

    def _error(self, exc: Exception, doing: str) -> Exception:
        import obstore.exceptions as oe

        where = f"remote {self.location}"
        text = str(exc)
        if isinstance(exc, oe.AlreadyExistsError | oe.PreconditionError):
            return PreconditionFailed(doing)
        if isinstance(exc, FileNotFoundError | oe.NotFoundError):
            if "NoSuchBucket" in text:
                return RemoteNotFound(f"{where}: no such bucket")
            return KeyMissing(doing)
        if isinstance(exc, oe.PermissionDeniedError | oe.UnauthenticatedError) or "403" in text:
            return RemoteAccessDenied(f"{where}: access denied {doing}")
        if isinstance(exc, ConnectionError | TimeoutError):
            return RemoteUnreachable(f"{where}: cannot reach the server {doing}")
        return RemoteError(f"{where}: {doing} failed: {text.splitlines()[0] if text else exc!r}")

    def _call(self, doing: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self.store, *args, **kwargs)
        except Exception as exc:
            raise self._error(exc, doing) from None

    def get(self, key: str) -> tuple[bytes, str]:
        import obstore

        reply = self._call(f"reading {key}", obstore.get, key)
        return bytes(reply.bytes()), str(reply.meta["e_tag"])

    def get_range(self, key: str, start: int, length: int) -> bytes:
        import obstore

        if length <= 0:
            return b""
        return bytes(self._call(f"reading {key}", obstore.get_range, key, start=start, length=length))

    def head(self, key: str) -> Stat | None:
        import obstore

        try:
            meta = self._call(f"reading {key}", obstore.head, key)
        except KeyMissing:
            return None
        return Stat(key, int(meta["size"]), str(meta["e_tag"]), _seconds(meta))

    def list(self, prefix: str) -> list[Stat]:
        import obstore

        out = []
        for batch in self._call(f"listing {prefix}", obstore.list, prefix=prefix.rstrip("/") or None):
            for meta in batch:
                if meta["path"].startswith(prefix):
                    out.append(Stat(meta["path"], int(meta["size"]), str(meta["e_tag"]), _seconds(meta)))
        return sorted(out)

    def put(self, key: str, data: bytes) -> str:
        import obstore

        return str(self._call(f"writing {key}", obstore.put, key, data)["e_tag"])

    def create(self, key: str, data: bytes) -> str:
        import obstore

        return str(self._call(f"creating {key}", obstore.put, key, data, mode="create")["e_tag"])

    def replace(self, key: str, data: bytes, etag: str) -> str:
        import obstore

        return str(self._call(f"replacing {key}", obstore.put, key, data, mode={"e_tag": etag})["e_tag"])

    def delete(self, key: str) -> None:
        import obstore

        with contextlib.suppress(KeyMissing):
            self._call(f"removing {key}", obstore.delete, key)

    def list_uploads(self, prefix: str) -> Sequence[Upload]:
        return []  # obstore does not list unfinished multipart uploads (the boto3 backend does)

    def abort_upload(self, upload: Upload) -> None:
        pass

    def start_upload(self, key: str, part_size: int, resume: bool = True) -> ObstoreUpload:
        return ObstoreUpload(self, key)


class ObstoreUpload:
    """A key written in parts: obstore's multipart writer takes parts in order only, so the
    parts are gathered and put in one call at complete() (never resumed; for measuring)."""

    def __init__(self, backend: ObstoreBackend, key: str) -> None:
        self.backend = backend
        self.key = key
        self._parts: dict[int, bytes] = {}

    def held(self, number: int, data: Buffer) -> str | None:
        return None

    def put_part(self, number: int, data: Buffer) -> str:
        self._parts[number] = bytes(data)
        return f'"part-{number}"'

    def complete(self, etags: Sequence[str]) -> None:
        import obstore

        data = b"".join(self._parts[n] for n in sorted(self._parts))
        self._parts.clear()
        self.backend._call(
            f"writing {self.key}", obstore.put, self.key, data,
            use_multipart=len(data) > MULTIPART_THRESHOLD, chunk_size=PART_SIZE, max_concurrency=4,
        )  # fmt: skip

    def abort(self) -> None:
        self._parts.clear()


def _seconds(meta: Any) -> float:
    moment = meta.get("last_modified")
    return float(moment.timestamp()) if moment is not None else 0.0
