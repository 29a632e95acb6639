"""Removing what interrupted or lost pushes leave on a remote (`pacha remote prune`).

A push never deletes anything (objects first, refs last), so a push that was killed, or that
lost the race for the ref table, leaves keys that no reader uses (docs/remotes.md, Layout):
- a pack without its index (`objects/pack/pack-<P>.pack` alone): invisible to readers;
- a reflog segment the table's chain does not reach (`logs/…`): a lost race or a killed push;
- an unfinished multipart upload (S3): parts stored, and billed, but no object;
- a probe key (`probe/…`) of a probe that was killed before removing it;
- on a directory remote, temp files under `tmp/` of killed writers (a lock file a killed
  writer left is removed by the next writer: pacha.transport.file_backend).

Like `git prune --expire` and restic's `prune`, only what is older than a grace period is
removed, measured with the store's own clock (the time a key written now gets), so that what
a push in progress is writing is never touched: a push writes its keys within seconds of each
other, and one that reuses a pack it finds without an index (a resumed push) reuses it only
if the pack is younger than transfer.REUSE_WITHIN (10 min), else uploads it again, and
checks after writing the index that the pack is still there.
Each candidate is checked again just before it is removed (a pack whose index appeared
meanwhile is kept).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pacha.transport import reftable
from pacha.transport.backend import Backend, Stat, Upload
from pacha.transport.errors import RemoteFormatError
from pacha.transport.file_backend import FileBackend
from pacha.transport.layout import LOG_DIR, PACK_DIR, PROBE_DIR, index_key, pack_id_of_index
from pacha.transport.remote import Remote

DEFAULT_GRACE = 3600.0  # seconds: leftovers younger than this are kept (a push may be writing them)


@dataclass(frozen=True)
class Leftover:
    """A key (or unfinished upload) nothing on the remote uses."""

    key: str
    what: str  # "pack without index", "unreachable reflog segment", "unfinished upload", "probe key",
    # "temp file"
    size: int  # bytes (0 for an unfinished upload: its parts are not listed)
    age: float  # seconds, by the store's clock
    upload: Upload | None = None  # the unfinished upload to abort

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "what": self.what, "size": self.size, "age_s": round(self.age, 1)}


@dataclass
class PruneReport:
    """What prune found: removed (or, with dry_run, would remove) and kept for being too young."""

    url: str
    grace: float
    dry_run: bool
    removed: list[Leftover] = field(default_factory=list)
    young: list[Leftover] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(item.size for item in self.removed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "grace_s": self.grace,
            "dry_run": self.dry_run,
            "removed": [item.as_dict() for item in self.removed],
            "bytes": self.bytes,
            "kept_young": [item.as_dict() for item in self.young],
        }


def prune(remote: Remote, *, grace: float = DEFAULT_GRACE, dry_run: bool = False) -> PruneReport:
    """Remove (dry_run: list) the leftovers of the remote older than grace seconds (module doc).

    Needs write access (the store's clock is read by writing a probe key). Raises the remote's
    one-line errors (RemoteAccessDenied for read-only credentials)."""
    backend = remote.backend
    if not remote.check_format():
        raise RemoteFormatError(f"{remote.url} holds no Pacha registry: nothing to prune")
    now = store_now(backend)
    report = PruneReport(remote.url, grace, dry_run)
    for item in _candidates(remote, now):
        if item.age < grace:
            report.young.append(item)
            continue
        if not dry_run and not _remove(backend, item):
            continue
        report.removed.append(item)
    return report


def store_now(backend: Backend) -> float:
    """The store's clock now (seconds since the epoch): the time a key written now gets."""
    key = f"{PROBE_DIR}clock-{uuid.uuid4().hex}"
    backend.put(key, b"")
    try:
        stat = backend.head(key)
    finally:
        backend.delete(key)
    return stat.modified if stat is not None else 0.0


def _candidates(remote: Remote, now: float) -> list[Leftover]:
    backend = remote.backend
    out = _packs(backend.list(PACK_DIR), now)
    out += _segments(remote, backend.list(LOG_DIR), now)
    out += [_item(s, "probe key", now) for s in backend.list(PROBE_DIR)]
    out += [_upload(u, now) for u in backend.list_uploads("")]
    if isinstance(backend, FileBackend):  # a directory remote: killed writers' files
        out += [_item(s, "temp file", now) for s in backend.list("tmp/")]
    return out


def _item(stat: Stat, what: str, now: float) -> Leftover:
    return Leftover(stat.key, what, stat.size, max(0.0, now - stat.modified))


def _upload(upload: Upload, now: float) -> Leftover:
    return Leftover(upload.key, "unfinished upload", 0, max(0.0, now - upload.initiated), upload)


def _packs(listed: list[Stat], now: float) -> list[Leftover]:
    """Packs whose index is not there."""
    indexed = {p for p in (pack_id_of_index(s.key) for s in listed) if p}
    return [
        _item(s, "pack without index", now)
        for s in listed
        if s.key.endswith(".pack") and s.key[len(PACK_DIR) + 5 : -5] not in indexed
    ]


def _segments(remote: Remote, listed: list[Stat], now: float) -> list[Leftover]:
    """Reflog segments the table's chain does not reach (read once, from the head back)."""
    if not listed:
        return []
    table = remote.read_refs()
    chain = reftable.read_segments(remote.backend, table.log_head)
    reachable = {table.log_head} | {segment.prev for segment, _ in chain}
    return [_item(s, "unreachable reflog segment", now) for s in listed if s.key not in reachable]


def _remove(backend: Backend, item: Leftover) -> bool:
    """Remove one leftover after checking it again; False if it is no longer one."""
    if item.upload is not None:
        backend.abort_upload(item.upload)
        return True
    if item.what == "pack without index":
        pack_id = item.key[len(PACK_DIR) + 5 : -5]
        if backend.head(index_key(pack_id)) is not None:
            return False  # a push completed it meanwhile: it is a pack now
    backend.delete(item.key)
    return True
