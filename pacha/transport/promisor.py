"""Objects on demand: a lazy registry fetches an object it lacks when something reads it.

Git's partial clone calls the remote that promised the missing objects a "promisor remote"
and fetches from it whatever a command reads and lacks. Here the promisor is the default
remote when its settings say `lazy = true` (config.toml, `[remote.<name>]`; set by
`pacha clone --lazy` or `pacha remote set NAME lazy true`). ObjectStore.open() and read()
call fetch_missing() for an id they cannot find (stat() and has() do not: gc, fsck and the
closure walks ask whether an object is here without fetching it). What arrives is the
object with what it needs to be read (a chunked blob's chunks, a delta's base) and, for a
record or tree, the records and trees it links to (pacha.transport.partial), each verified
(BLAKE3) before it is installed.

A registry that is not lazy but has a remote fetches nothing: the read fails with one line
naming the command that brings the object (`pacha pull REMOTE REF`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pacha.errors import InvalidInput, ObjectNotFound
from pacha.registry import Registry

if TYPE_CHECKING:
    from pacha.config import Config

__all__ = ["default_remote_name", "fetch_missing", "install"]

_TRUE = ("true", "yes", "on", "1")
_busy = threading.local()  # a fetch in progress on this thread: its own reads never fetch again


def install() -> None:
    """Make every Registry of this process fetch what its readers miss (Registry.fetch_hook)."""
    Registry.fetch_hook = fetch_missing


def default_remote_name(config: Config) -> str | None:
    """The default remote: core.default-remote, else the only remote there is (None: no default)."""
    named = config.get("core.default-remote")
    if isinstance(named, str) and named:
        return named
    tables = _tables(config)
    return next(iter(tables)) if len(tables) == 1 else None


def _tables(config: Config) -> dict[str, Any]:
    section = config.data.get("remote", {})
    return section if isinstance(section, dict) else {}


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def lazy_remote(registry: Registry) -> str | None:
    """The name of the registry's default remote if it is lazy (it promises what is not here)."""
    try:
        name = default_remote_name(registry.config)
        table = _tables(registry.config).get(name) if name else None
    except InvalidInput:
        return None
    return name if isinstance(table, dict) and _flag(table.get("lazy", False)) else None


def fetch_missing(registry: Registry, object_id: str) -> bool:
    """Fetch object_id from the lazy default remote; True once it is here.

    Returns False when there is nothing to fetch from (no remote: the reader reports the
    missing object as before). Raises ObjectNotFound naming `pacha pull` when the registry
    has a default remote that is not lazy, and the transport's errors (unreachable remote,
    RemoteMissingObject when the remote lacks it too, RemoteObjectCorrupt)."""
    if getattr(_busy, "on", False):
        return False
    try:
        config = registry.config
        name = default_remote_name(config)
        table = _tables(config).get(name) if name else None
    except InvalidInput:
        return False  # a broken config.toml is reported by the commands that read it
    if not isinstance(table, dict) or not isinstance(table.get("url"), str):
        return False
    if not _flag(table.get("lazy", False)):
        raise ObjectNotFound(
            f"object {object_id} is not here; if remote {name} has it, `pacha pull {name} REF` fetches "
            f"a version with its objects (or `pacha remote set {name} lazy true` lets commands fetch "
            "what they read)"
        )
    # Imported on a miss in a lazy registry only: the transport (msgspec, threads, the S3 client
    # set-up) is no part of a plumbing command's start-up, and install() runs at every one.
    from pacha.transport.partial import fetch_records
    from pacha.transport.remote import open_remote

    jobs = table.get("jobs")
    remote = open_remote(
        table["url"],
        endpoint_url=str(table["endpoint-url"]) if table.get("endpoint-url") else None,
        jobs=int(jobs) if isinstance(jobs, int) else None,
        unsafe_refs=_flag(table.get("unsafe-refs", False)),
        name=name,
    )
    _busy.on = True
    try:
        with registry.writing():  # gc cannot remove it before the reader reads it
            fetch_records(registry, remote, [object_id])
    finally:
        _busy.on = False
    return registry.objects.has(object_id)
