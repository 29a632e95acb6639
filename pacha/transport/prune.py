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
a push in progress is writing is left alone. Each candidate is checked again just before it
is removed (a pack whose index appeared meanwhile is kept).

A pack is the one leftover a push may still complete, however long it stalled between the
pack and its index (a suspended laptop, a hung connection): grace alone cannot tell it from
a leftover. So a pack is removed under a *prune lock*, and the two sides order their requests
as in Dekker's mutual exclusion, which needs nothing of the store but read-after-write
consistency (S3 has it since 2020; no conditional delete exists to do better):

    prune:  PUT  pack-P.prune-<t>     push:  PUT  pack-P.idx
            HEAD pack-P.idx                  LIST objects/pack/ (after every pack's index)
            absent: DELETE pack-P.pack       a lock on P: wait until it is gone, LIST again
            DELETE pack-P.prune-<t>          P missing: send it again (its index is there)
                                             then move the refs

If the prune's HEAD does not see the index, it ran before the index was written, so its lock
was written before the push's LIST, which sees the lock (or, once the lock is gone, the pack
gone): the push sends the pack again before any ref names it. Otherwise the prune keeps the
pack. A pack with its index is never removed (its lock first, then its index checked), so
after a LIST with no lock on them the push's packs stay. The lock key is the prune's own
(random token), so two prunes never release each other's lock; a lock left by a killed prune
is removed by the next prune once older than the grace period (a push waiting on it gives
up with one line after PRUNE_WAIT). Tests: tests/test_transport_prune_race.py drives each
interleaving step by step (pacha.transport.hooks).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pacha.transport import reftable
from pacha.transport.backend import Backend, Stat, Upload
from pacha.transport.errors import RemoteFormatError
from pacha.transport.file_backend import FileBackend
from pacha.transport.hooks import reached
from pacha.transport.layout import (
    LOG_DIR,
    PACK_DIR,
    PROBE_DIR,
    index_key,
    pack_id_of_index,
    pack_id_of_prune_lock,
    pack_key,
    prune_lock_key,
)
from pacha.transport.remote import Remote

DEFAULT_GRACE = 3600.0  # seconds: leftovers younger than this are kept (a push may be writing them)


@dataclass(frozen=True)
class Leftover:
    """A key (or unfinished upload) nothing on the remote uses."""

    key: str
    what: str  # "pack without index", "unreachable reflog segment", "unfinished upload", "probe key",
    # "temp file", "prune lock" (left by a killed prune)
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
    """Packs whose index is not there, and the locks of prunes killed while removing one."""
    indexed = {p for p in (pack_id_of_index(s.key) for s in listed) if p}
    return [
        _item(s, "pack without index", now)
        for s in listed
        if s.key.endswith(".pack") and s.key[len(PACK_DIR) + 5 : -5] not in indexed
    ] + [_item(s, "prune lock", now) for s in listed if pack_id_of_prune_lock(s.key)]


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
        return _remove_pack(backend, item.key[len(PACK_DIR) + 5 : -5])
    backend.delete(item.key)
    return True


def _remove_pack(backend: Backend, pack_id: str) -> bool:
    """Remove an index-less pack under a prune lock (module doc); False if its index appeared."""
    lock = prune_lock_key(pack_id, uuid.uuid4().hex[:16])
    backend.put(lock, b"")
    try:
        reached("prune-locked")
        if backend.head(index_key(pack_id)) is not None:
            return False  # a push completed it meanwhile: it is a pack now
        reached("prune-before-delete")
        backend.delete(pack_key(pack_id))
        return True
    finally:
        backend.delete(lock)
