"""The storage interface under a remote: keys holding immutable bytes, plus conditional writes.

Keys are '/'-separated paths relative to the remote's root (a directory, or a bucket
prefix). A backend raises KeyMissing, PreconditionFailed (412: the condition did not hold)
and Conflict (409: a concurrent conditional write; retry), and for everything else the
one-line errors of pacha.transport.errors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple, Protocol

MULTIPART_THRESHOLD = 16 << 20  # keys above this are uploaded in parts
PART_SIZE = 8 << 20  # size of each part of a multipart upload (S3's minimum is 5 MiB)

Buffer = bytes | bytearray | memoryview


class KeyMissing(Exception):
    """No object under that key."""


class PreconditionFailed(Exception):
    """A conditional write was refused (HTTP 412): the key exists (create) or changed (replace)."""


class Conflict(Exception):
    """A conditional write collided with a concurrent one (HTTP 409): retry."""


class Stat(NamedTuple):
    """A stored key: its size in bytes, its ETag (an opaque version tag, quoted as S3 gives it)
    and when it was last written (seconds since the epoch, the store's clock; 0.0: unknown)."""

    key: str
    size: int
    etag: str
    modified: float = 0.0


class Upload(NamedTuple):
    """An unfinished multipart upload: its key, id and start (seconds since the epoch, the store's clock)."""

    key: str
    upload_id: str
    initiated: float


class MultipartUpload(Protocol):
    """A key being written in parts (all of PART_SIZE but the last), from several threads;
    the key appears whole at complete(), never in part. An upload interrupted by a kill is
    found again by Backend.start_upload, with the parts it holds."""

    key: str

    def held(self, number: int, data: Buffer) -> str | None:
        """The ETag of part `number` (1-based) if the store holds it with these bytes already
        (left by an interrupted upload), else None: only what is missing is sent again."""
        ...

    def put_part(self, number: int, data: Buffer) -> str:
        """Store part `number`; returns its ETag (for complete)."""
        ...

    def complete(self, etags: Sequence[str]) -> None:
        """Join the parts (etags[i] is part i + 1's) into the key."""
        ...

    def abort(self) -> None:
        """Drop the parts (the key stays as it was)."""
        ...


class Backend(Protocol):
    """What a remote needs from a store. All methods are safe to call from several threads."""

    location: str  # for messages: the URL

    def get(self, key: str) -> tuple[bytes, str]:
        """The bytes under key and their ETag (raises KeyMissing)."""
        ...

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """length bytes from offset start (raises KeyMissing)."""
        ...

    def head(self, key: str) -> Stat | None:
        """The key's size and ETag, None if it does not exist."""
        ...

    def list(self, prefix: str) -> list[Stat]:
        """Every key under prefix ('dir/' lists a directory), in key order."""
        ...

    def put(self, key: str, data: bytes) -> str:
        """Store data under key unconditionally (content-addressed keys only); returns the ETag."""
        ...

    def start_upload(self, key: str, part_size: int, resume: bool = True) -> MultipartUpload:
        """Write key in parts of part_size bytes (the last shorter): the unfinished upload of key
        an interrupted call left (resume), with the parts it holds, else a new one."""
        ...

    def create(self, key: str, data: bytes) -> str:
        """Store data only if key does not exist (If-None-Match: *); returns the ETag."""
        ...

    def replace(self, key: str, data: bytes, etag: str) -> str:
        """Store data only if key's ETag is etag (If-Match); returns the new ETag."""
        ...

    def delete(self, key: str) -> None:
        """Remove key (no error if it does not exist)."""
        ...

    def list_uploads(self, prefix: str) -> Sequence[Upload]:
        """The unfinished multipart uploads of keys under prefix ([] where there are none)."""
        ...

    def abort_upload(self, upload: Upload) -> None:
        """Abort an unfinished multipart upload, dropping the parts it holds."""
        ...


def default_jobs() -> int:
    """Parallel requests by default: transfers wait on the network, not the CPU."""
    return max(4, min(32, 4 * (os.cpu_count() or 1)))
