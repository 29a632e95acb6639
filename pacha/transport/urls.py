"""Remote URLs: a filesystem path, file:///path or s3://bucket[/prefix]."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pacha.errors import UsageError

# S3 bucket naming rules (AWS: 3–63 characters, lowercase letters, digits, '.', '-', starting and
# ending with a letter or digit); stores that allow more (SeaweedFS) accept these too.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class RemoteURL:
    """A parsed remote location: scheme 'file' (path set) or 's3' (bucket and prefix set).

    prefix: '' or a key prefix without leading or trailing '/', e.g. 'team/registry'."""

    scheme: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""

    def __str__(self) -> str:
        if self.scheme == "file":
            return str(self.path)
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_url(url: str) -> RemoteURL:
    """Parse a remote URL (raises UsageError with the accepted forms)."""
    if not url or not url.strip():
        raise UsageError("remote URL is empty (use a path, file:///path or s3://bucket/prefix)")
    if url.startswith("s3://"):
        return _parse_s3(url)
    if url.startswith("file:"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise UsageError(f"bad file URL {url!r}: use file:///absolute/path")
        return RemoteURL("file", path=Path(unquote(parts.path)))
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", url):
        scheme = url.split("://", 1)[0]
        raise UsageError(f"unsupported remote URL scheme {scheme!r} in {url!r} (use s3:// or a path)")
    return RemoteURL("file", path=Path(os.path.abspath(os.path.expanduser(url))))


def _parse_s3(url: str) -> RemoteURL:
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise UsageError(
            f"bad bucket name {bucket!r} in {url!r}: 3-63 characters, lowercase letters, digits, '.', '-'"
        )
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise UsageError(f"bad key prefix {prefix!r} in {url!r}: no empty, '.' or '..' components")
    return RemoteURL("s3", bucket=bucket, prefix=prefix)
