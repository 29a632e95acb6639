"""A remote in an S3-compatible bucket, through botocore (the core of boto3, the AWS SDK for Python).

Endpoint, region and credentials come from the standard AWS sources (environment
variables such as AWS_ACCESS_KEY_ID / AWS_PROFILE / AWS_ENDPOINT_URL, ~/.aws/config and
~/.aws/credentials, instance roles); endpoint_url overrides the endpoint for
S3-compatible stores. Conditional writes: PutObject with IfNoneMatch="*" (create) and
IfMatch=<ETag> (replace); 412 PreconditionFailed and 409 ConditionalRequestConflict are
told apart (AWS S3 since 2024, R2, SeaweedFS 4.x; see docs/remotes.md).

Large keys go up in parts (S3Upload, fed part by part by the sender as it builds them); an
upload interrupted by a kill is resumed: the parts S3 already holds for the key (ListParts of
the unfinished upload) are kept when their MD5 (the ETag S3 gives a part) matches the local
bytes, and only the others are sent. The MD5 is computed only for a part S3 already holds
(a fresh upload hashes nothing of its own: S3 signs and checks each request).

The client is botocore's, not boto3's: boto3 adds resources and the transfer manager, which
Pacha does not use, and importing it costs ~0.1 s of every command that talks to S3.
Credentials, profiles, regions and endpoints resolve the same way (boto3's client is
botocore's).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any, cast

from pacha.crash import crash_point
from pacha.transport.backend import (
    Buffer,
    Conflict,
    KeyMissing,
    PreconditionFailed,
    Stat,
    Upload,
    default_jobs,
)
from pacha.transport.errors import RemoteAccessDenied, RemoteError, RemoteNotFound, RemoteUnreachable
from pacha.transport.urls import RemoteURL

READ_STEP = 1 << 20  # bytes per read of a response body
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "AllAccessDisabled"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


# What selects the credentials, region and endpoint a new client gets (besides endpoint_url):
# clients are shared per process for the same values (a boto3 client is thread-safe).
_CLIENT_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
_CLIENTS: dict[tuple[object, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()
_LOADER: list[Any] = []  # botocore's data loader, shared: it caches the parsed service models


def shared_client(endpoint_url: str | None, pool: int) -> Any:
    """The process's S3 client for this endpoint, connection pool size and AWS environment.

    Setting up a client costs ~0.3-0.7 s (botocore parses the S3 service model and endpoint
    rules); the parsed models are shared by every session of the process (one data loader),
    and a client is made once per distinct setting. Each new client still gets a fresh
    boto3 session, so credentials and profiles resolve exactly as boto3 resolves them."""
    key = (endpoint_url, pool, *(os.environ.get(name) for name in _CLIENT_ENV))
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = _new_client(endpoint_url, pool)
        return client


def _new_client(endpoint_url: str | None, pool: int) -> Any:
    import botocore.session
    from botocore.config import Config

    core = botocore.session.Session()
    if _LOADER:
        core.register_component("data_loader", _LOADER[0])
    else:
        _LOADER.append(core.get_component("data_loader"))
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    plain_http = (endpoint or "").startswith("http:")
    config = Config(
        max_pool_connections=pool,
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=120,
        # Over plain HTTP botocore signs every body with SHA-256 (SigV4), which proves it arrived
        # whole; the CRC32 it adds by default would be a second checksum of each part (~0.5 s of
        # CPU per GiB). Over HTTPS the body is not signed and the CRC32 is what checks it: kept.
        request_checksum_calculation="when_required" if plain_http else "when_supported",
    )
    return core.create_client("s3", endpoint_url=endpoint_url, config=config)


class S3Backend:
    """Keys under s3://bucket/prefix."""

    def __init__(self, url: RemoteURL, endpoint_url: str | None = None, jobs: int | None = None) -> None:
        self.bucket = url.bucket
        self.prefix = url.prefix + "/" if url.prefix else ""
        self.location = str(url)
        try:
            self.client: Any = shared_client(endpoint_url, max(10, jobs or default_jobs()))
        except Exception as exc:  # a bad profile, region or endpoint in the AWS configuration
            raise RemoteError(f"remote {self.location}: cannot set up the S3 client: {exc}") from None
        self.endpoint = str(self.client.meta.endpoint_url)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _error(self, exc: Exception, doing: str) -> Exception:
        """The one-line error (or KeyMissing, PreconditionFailed, Conflict) for a client exception."""
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = f"remote {self.location}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code == "PreconditionFailed" or status == 412:
                return PreconditionFailed(doing)
            if code == "ConditionalRequestConflict" or (status == 409 and code != "BucketAlreadyExists"):
                return Conflict(doing)
            if code == "NoSuchBucket":
                return RemoteNotFound(f"{where}: no such bucket {self.bucket!r} (create it first)")
            if code in _MISSING or status == 404:
                return KeyMissing(doing)
            if code in _DENIED or status == 403:
                return RemoteAccessDenied(
                    f"{where}: access denied {doing} ({code}); check the credentials (AWS_PROFILE, "
                    "AWS_ACCESS_KEY_ID) and what they allow"
                )
            return RemoteError(f"{where}: {doing} failed: {code or status} {exc}")
        if isinstance(exc, NoCredentialsError):
            return RemoteAccessDenied(
                f"{where}: no S3 credentials found "
                "(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            )
        if isinstance(exc, EndpointConnectionError | ConnectionError | OSError):
            return RemoteUnreachable(f"{where}: cannot reach the server {doing}: {exc}")
        return RemoteError(f"{where}: {doing} failed: {exc}")

    def _call(self, doing: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError, OSError) as exc:
            raise self._error(exc, doing) from None

    # --- reading -------------------------------------------------------------------
    def get(self, key: str) -> tuple[bytes, str]:
        reply = self._call(f"reading {key}", "get_object", Key=self._key(key))
        return _read_body(self, reply, key), reply["ETag"]

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        reply = self._call(
            f"reading {key}", "get_object", Key=self._key(key), Range=f"bytes={start}-{start + length - 1}"
        )
        return _read_into(self, reply, key, min(length, int(reply.get("ContentLength", length))))

    def head(self, key: str) -> Stat | None:
        try:
            reply = self._call(f"reading {key}", "head_object", Key=self._key(key))
        except KeyMissing:
            return None
        return Stat(key, int(reply["ContentLength"]), reply["ETag"], _seconds(reply.get("LastModified")))

    def list(self, prefix: str) -> list[Stat]:
        out = []
        token: dict[str, str] = {}
        while True:
            reply = self._call(f"listing {prefix}", "list_objects_v2", Prefix=self._key(prefix), **token)
            for item in reply.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                modified = _seconds(item.get("LastModified"))
                out.append(Stat(key, int(item["Size"]), item.get("ETag", ""), modified))
            if not reply.get("IsTruncated"):
                return sorted(out)
            token = {"ContinuationToken": reply["NextContinuationToken"]}

    # --- writing -------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> str:
        return str(self._call(f"writing {key}", "put_object", Key=self._key(key), Body=data)["ETag"])

    def create(self, key: str, data: bytes) -> str:
        reply = self._call(f"creating {key}", "put_object", Key=self._key(key), Body=data, IfNoneMatch="*")
        return str(reply["ETag"])

    def replace(self, key: str, data: bytes, etag: str) -> str:
        reply = self._call(f"replacing {key}", "put_object", Key=self._key(key), Body=data, IfMatch=etag)
        return str(reply["ETag"])

    def delete(self, key: str) -> None:
        self._call(f"removing {key}", "delete_object", Key=self._key(key))

    def list_uploads(self, prefix: str) -> Sequence[Upload]:
        out = []
        markers: dict[str, str] = {}
        while True:
            reply = self._call(
                f"listing the unfinished uploads of {prefix}", "list_multipart_uploads",
                Prefix=self._key(prefix), **markers,
            )  # fmt: skip
            for item in reply.get("Uploads", []):
                key = str(item["Key"])[len(self.prefix) :]
                out.append(Upload(key, str(item["UploadId"]), _seconds(item.get("Initiated"))))
            if not reply.get("IsTruncated"):
                return out
            markers = {"KeyMarker": reply["NextKeyMarker"], "UploadIdMarker": reply["NextUploadIdMarker"]}

    def abort_upload(self, upload: Upload) -> None:
        self._call(
            f"aborting the upload of {upload.key}", "abort_multipart_upload",
            Key=self._key(upload.key), UploadId=upload.upload_id,
        )  # fmt: skip

    def start_upload(self, key: str, part_size: int, resume: bool = True) -> S3Upload:
        """A multipart upload of key: the unfinished one an interrupted push left (with the parts
        it holds; the newest if several), else a new one (resume=False: always a new one)."""
        full = self._key(key)
        if resume:
            reply = self._call(f"writing {key}", "list_multipart_uploads", Prefix=full)
            uploads = [u for u in reply.get("Uploads", []) if u.get("Key") == full]
            for upload in sorted(uploads, key=lambda u: str(u.get("Initiated", "")), reverse=True):
                return S3Upload(self, key, str(upload["UploadId"]), self._parts(key, str(upload["UploadId"])))
        upload_id = self._call(f"writing {key}", "create_multipart_upload", Key=full)["UploadId"]
        return S3Upload(self, key, str(upload_id), {})

    def _parts(self, key: str, upload_id: str) -> dict[int, tuple[int, str]]:
        """The parts an unfinished upload holds: number -> (size, ETag)."""
        parts: dict[int, tuple[int, str]] = {}
        marker = 0
        while True:
            listed = self._call(
                f"writing {key}", "list_parts",
                Key=self._key(key), UploadId=upload_id, PartNumberMarker=marker,
            )  # fmt: skip
            for part in listed.get("Parts", []):
                parts[int(part["PartNumber"])] = (int(part.get("Size", -1)), str(part["ETag"]))
            if not listed.get("IsTruncated"):
                return parts
            marker = int(listed["NextPartNumberMarker"])


class S3Upload:
    """One multipart upload in progress (pacha.transport.backend.Upload's counterpart for
    writing): parts are sent from several threads, then completed in order."""

    def __init__(
        self, backend: S3Backend, key: str, upload_id: str, have: dict[int, tuple[int, str]]
    ) -> None:
        self.backend = backend
        self.key = key
        self.upload_id = upload_id
        self.have = have

    def held(self, number: int, data: Buffer) -> str | None:
        """The ETag of part `number` if the store holds it already with these bytes, else None."""
        there = self.have.get(number)
        if there is None or there[0] not in (-1, len(memoryview(data))):
            return None
        etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
        return etag if etag == there[1] else None

    def put_part(self, number: int, data: Buffer) -> str:
        """Send part `number` (1-based); returns its ETag."""
        reply = self.backend._call(
            f"writing {self.key} (part {number})", "upload_part",
            Key=self.backend._key(self.key), UploadId=self.upload_id, PartNumber=number, Body=data,
        )  # fmt: skip
        crash_point("push-multipart-part")
        return str(reply["ETag"])

    def complete(self, etags: Sequence[str]) -> None:
        """Join the parts (etags[i] is part i + 1's) into the key."""
        parts = [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, start=1)]
        self.backend._call(
            f"writing {self.key}", "complete_multipart_upload",
            Key=self.backend._key(self.key), UploadId=self.upload_id, MultipartUpload={"Parts": parts},
        )  # fmt: skip

    def abort(self) -> None:
        self.backend.abort_upload(Upload(self.key, self.upload_id, 0.0))


def _seconds(moment: Any) -> float:
    """A datetime botocore parsed (LastModified, Initiated) as seconds since the epoch."""
    return float(moment.timestamp()) if moment is not None else 0.0


def _read_into(backend: S3Backend, reply: Any, key: str, length: int) -> bytes:
    """A ranged GET's body read straight into one buffer of its length (no list of pieces
    joined at the end: a transfer holds each range once, not twice); shorter if the body is."""
    from botocore.exceptions import BotoCoreError

    buffer = bytearray(length)
    view = memoryview(buffer)
    done = 0
    body = reply["Body"]
    raw = _plain_socket_reader(body, reply)
    try:
        if raw is not None:  # straight from the socket into the buffer
            while done < length and (n := raw.readinto(view[done:])):
                done += n
            body._raw_stream.read()  # at the end: urllib3 sees it and puts the connection back
        else:  # in steps of READ_STEP: urllib3 reads a readinto() into a temporary of that size first
            while done < length and (n := body.readinto(view[done : done + READ_STEP])):
                done += n
    except (BotoCoreError, OSError) as exc:
        raise backend._error(exc, f"reading {key}") from None
    finally:
        view.release()
    if done < length:
        del buffer[done:]
    return cast(bytes, buffer)  # a bytearray, used read-only from here (bytes(buffer) would copy it)


def _plain_socket_reader(body: Any, reply: Any) -> Any:
    """The http.client response under botocore's body, when reading it directly gives the same
    bytes: a plain StreamingBody (no checksum wrapper) over urllib3 with no content decoding.
    urllib3's readinto() reads into a temporary bytes and copies it (~0.2 s of CPU per GiB,
    holding the GIL); http.client's reads from the socket into the buffer. None otherwise (a
    botocore or urllib3 of another shape): the documented way is used."""
    if type(body).__name__ != "StreamingBody" or reply.get("ContentEncoding"):
        return None
    stream = getattr(body, "_raw_stream", None)
    fp = getattr(stream, "_fp", None)
    if fp is None or not hasattr(fp, "readinto") or getattr(stream, "_decoder", None) is not None:
        return None
    return fp


def _read_body(backend: S3Backend, reply: Any, key: str) -> bytes:
    from botocore.exceptions import BotoCoreError

    try:
        return bytes(reply["Body"].read())
    except (BotoCoreError, OSError) as exc:
        raise backend._error(exc, f"reading {key}") from None
