"""open_remote: a remote's backend, its probe, refs, reflog and the index of what it holds."""

from __future__ import annotations

import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, TypeVar

from pacha import perms
from pacha.errors import CorruptObject
from pacha.transport import cas, local, reftable
from pacha.transport.backend import Backend, KeyMissing, PreconditionFailed, Stat, default_jobs
from pacha.transport.cas import ProbeResult
from pacha.transport.errors import RemoteAccessDenied, RemoteFormatError, RemoteNotFound, RemoteUnsafeRefs
from pacha.transport.layout import (
    FORMAT_KEY,
    PACK_DIR,
    LogSegment,
    RemoteLogEntry,
    RemoteRefTable,
    check_format,
    format_document,
    index_key,
    pack_id_of_index,
)
from pacha.transport.urls import parse_url

__all__ = ["ProbeResult", "Remote", "open_remote"]

T = TypeVar("T")
R = TypeVar("R")


class Location(NamedTuple):
    """Where an object's stored form lies on the remote: a pack and a byte range in it."""

    pack_id: str
    offset: int
    length: int


class Remote:
    """A remote: objects in packs, and a ref table with its reflog (pacha.transport.layout)."""

    def __init__(self, url: str, backend: Backend, jobs: int, unsafe_refs: bool, name: str | None) -> None:
        self.url = url
        self.backend = backend
        self.jobs = jobs
        self.unsafe_refs = unsafe_refs
        self.name = name
        self._probe: ProbeResult | None = None
        self._objects: dict[str, Location] = {}
        self._packs: set[str] = set()
        self._listing: dict[str, Stat] = {}
        self._marker: tuple[dict[str, object], str] | None = None  # the format marker read, its ETag
        self.instance: str | None = None  # the marker's id: this remote, not another at the same URL

    @property
    def identity(self) -> str:
        """Which store this is: its URL and, for S3, the endpoint (the same bucket name on
        another endpoint is another store)."""
        return f"{self.url}\n{getattr(self.backend, 'endpoint', '')}"

    def __repr__(self) -> str:
        return f"Remote({self.url!r})"

    # --- probe and format ------------------------------------------------------------
    def probe(self) -> ProbeResult:
        """Can it be read, written, and does it honour conditional writes? (writes a test key)"""
        initialized = self._initialized()  # raises RemoteNotFound / RemoteAccessDenied if unreadable
        honoured, detail = cas.probe_conditional_writes(self.backend)
        self._probe = ProbeResult(True, honoured is not None, honoured, initialized, detail)
        return self._probe

    def _initialized(self) -> bool:
        """Does it hold Pacha's format marker (read once per Remote)? Raises RemoteFormatError
        if it holds another's."""
        if self._marker is not None:
            return True
        try:
            data, etag = self.backend.get(FORMAT_KEY)
        except KeyMissing:
            return False
        self._marker = (check_format(data, self.url), etag)
        found = self._marker[0].get("id")
        self.instance = found if isinstance(found, str) else None
        return True

    def check_format(self) -> bool:
        """True if the remote holds Pacha data (False: empty); raises RemoteFormatError if foreign."""
        return self._initialized()

    def init(self) -> None:
        """Write the format marker if missing (If-None-Match: *: two first pushes agree), with a
        new id (layout.format_document); give an older marker without one its id (If-Match)."""
        if self._initialized() and self.instance is not None:
            return
        try:
            if self._marker is None:
                cas.create(self.backend, FORMAT_KEY, format_document())
            else:
                cas.replace(self.backend, FORMAT_KEY, format_document(self._marker[0]), self._marker[1])
        except PreconditionFailed:  # written meanwhile by another pusher
            pass
        self._marker = None
        self._initialized()  # read it back: the id every pusher agrees on

    def require_safe_refs(self) -> None:
        """Refuse to move refs on a store that ignores conditional writes (unless unsafe_refs)."""
        if self.unsafe_refs:
            return
        result = self._probe or self.probe()
        if result.conditional_writes is None:
            raise RemoteAccessDenied(f"remote {self.url}: {result.detail}; pushing needs write access")
        if not result.conditional_writes:
            setting = f"remote.{self.name or '<name>'}.unsafe-refs = true"
            raise RemoteUnsafeRefs(
                f"remote {self.url} cannot move refs safely: {result.detail}; two pushers could overwrite "
                f"each other. For a single writer only, set {setting}"
            )

    # --- refs and reflog -------------------------------------------------------------
    def read_refs(self) -> RemoteRefTable:
        """The ref table now (empty, etag None, on a remote never pushed to)."""
        return reftable.read_table(self.backend)

    def read_log(self, table: RemoteRefTable | None = None) -> list[RemoteLogEntry]:
        """The whole audit trail, oldest first."""
        table = table if table is not None else self.read_refs()
        return [
            e
            for segment, _ in reftable.read_segments(self.backend, table.log_head)
            for e in segment.entries()
        ]

    def segments_since(self, table: RemoteRefTable, after_seq: int) -> list[tuple[LogSegment, bytes]]:
        """The segments newer than after_seq, oldest first, with their bytes."""
        return reftable.read_segments(self.backend, table.log_head, stop=lambda s: s.seq <= after_seq)

    # --- objects -----------------------------------------------------------------------
    def refresh_objects(self, cache_dir: Path | None) -> dict[str, Location]:
        """Every object the remote holds (in packs whose index is there), by id.

        Indexes are immutable and named by their pack id: each is downloaded once, checked
        and kept in cache_dir (None: not kept)."""
        try:
            listed = self.backend.list(PACK_DIR)
        except RemoteNotFound:
            return self._objects
        self._listing = {s.key: s for s in listed}
        new = [p for p in (pack_id_of_index(s.key) for s in listed) if p and p not in self._packs]
        for pack_id, entries in self.map(lambda p: _load_index(self.backend, cache_dir, p), new):
            for object_id, offset, length in zip(entries.ids, entries.offsets, entries.lengths, strict=True):
                self._objects.setdefault(object_id, Location(pack_id, offset, length))
            self._packs.add(pack_id)
        return self._objects

    def known_packs(self) -> set[str]:
        return set(self._packs)

    def pack_listing(self) -> dict[str, Stat]:
        """The keys under objects/pack/ as refresh_objects last listed them."""
        return dict(self._listing)

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], window: int | None = None, ordered: bool = False
    ) -> Iterator[R]:
        """fn over items on self.jobs threads, results as they complete (ordered: in the order of
        items); at most `window` (default 2 x jobs) in flight, so memory stays bounded whatever
        the number of items."""
        window = window or 2 * self.jobs
        with ThreadPoolExecutor(self.jobs) as pool:
            if ordered:
                queue: deque[Future[R]] = deque()
                for item in items:
                    queue.append(pool.submit(fn, item))
                    if len(queue) >= window:
                        yield queue.popleft().result()
                while queue:
                    yield queue.popleft().result()
                return
            pending: set[Future[R]] = set()
            for item in items:
                pending.add(pool.submit(fn, item))
                if len(pending) >= window:
                    yield from _drain(pending, one=True)
            yield from _drain(pending, one=False)


def _drain(pending: set[Future[R]], one: bool) -> Iterator[R]:
    from concurrent.futures import FIRST_COMPLETED, wait

    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            pending.discard(future)
            yield future.result()  # an exception in one request ends the transfer
        if one:
            return


def _load_index(backend: Backend, cache_dir: Path | None, pack_id: str) -> tuple[str, local.IndexEntries]:
    cached = cache_dir / f"pack-{pack_id}.idx" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        try:
            return pack_id, local.parse_index(cached.read_bytes(), pack_id)
        except CorruptObject:
            cached.unlink(missing_ok=True)  # a damaged cache copy: fetch it again
    data, _etag = backend.get(index_key(pack_id))
    try:
        entries = local.parse_index(data, pack_id)
    except CorruptObject as exc:
        raise RemoteFormatError(f"remote {backend.location}: {exc}") from None
    if cached is not None:
        write_cache(cached, data)
    return pack_id, entries


def write_cache(path: Path, data: bytes) -> None:
    """A cache file of the registry, atomically (temp + rename: a reader never sees half of it;
    no fsync: every cache is checked when read, and only a slower next command if lost)."""
    try:
        perms.mkdirs(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
        tmp.write_bytes(data)
        os.chmod(tmp, perms.file_mode(path))  # the registry's mode, not the umask's
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written (read-only registry) is only a slower next time


def open_remote(
    url: str,
    *,
    endpoint_url: str | None = None,
    jobs: int | None = None,
    unsafe_refs: bool = False,
    name: str | None = None,
    client: str | None = None,
) -> Remote:
    """A remote at url (a path, file:///path or s3://bucket[/prefix]).

    endpoint_url: an S3-compatible store's endpoint (else AWS_ENDPOINT_URL or AWS's);
    jobs: parallel requests (default: backend.default_jobs()); unsafe_refs: move refs even on a
    store that ignores conditional writes (one writer only); name: the remote's name, for
    messages; client: 'boto3' (default) or 'obstore' (PACHA_S3_CLIENT), for measuring."""
    parsed = parse_url(url)
    jobs = jobs or default_jobs()
    backend: Backend
    if parsed.scheme == "file":
        from pacha.transport.file_backend import FileBackend

        assert parsed.path is not None
        backend = FileBackend(parsed.path)
    elif (client or os.environ.get("PACHA_S3_CLIENT", "boto3")) == "obstore":
        from pacha.transport.obstore_backend import ObstoreBackend

        backend = ObstoreBackend(parsed, endpoint_url, jobs)
    else:
        from pacha.transport.s3_backend import S3Backend

        backend = S3Backend(parsed, endpoint_url, jobs)
    return Remote(str(parsed), backend, jobs, unsafe_refs, name)


def cache_dir(registry_root: Path) -> Path:
    """Where a registry keeps the indexes of remote packs (derived data, safe to delete)."""
    return registry_root / "cache" / "remote-idx"
