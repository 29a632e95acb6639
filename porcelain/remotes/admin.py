"""remote add / list / remove / check, and clone: setting remotes up."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pacha
from pacha.errors import UsageError
from pacha.registry import default_init_path
from porcelain.errors import CheckFailed, InvalidInput, NotFound
from porcelain.locking import maintain
from porcelain.remotes import base, refsync, settings, wire
from porcelain.remotes.keyring_report import reports_keyring
from porcelain.remotes.progress import Progress
from porcelain.remotes.sync import SyncReport, apply_local, tracking

ORIGIN = "origin"


@dataclass(frozen=True)
class CheckReport:
    """What `remote check` found: can we read, write, and trust conditional writes?"""

    remote: str
    url: str
    readable: bool
    writable: bool
    conditional_writes: bool
    unsafe_refs: bool
    detail: str

    @property
    def ok(self) -> bool:
        return self.readable and (self.conditional_writes or self.unsafe_refs or not self.writable)

    def as_dict(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "url": self.url,
            "readable": self.readable,
            "writable": self.writable,
            "conditional_writes": self.conditional_writes,
            "unsafe_refs": self.unsafe_refs,
            "ok": self.ok,
            "detail": self.detail,
        }


def check(plumbing: pacha.Registry, name: str | None) -> CheckReport:
    """Probe a remote: read and write access, and that a second create-if-absent is refused.

    Raises NotFound for a directory remote that does not exist yet (the probe would create it)."""
    remote_settings = settings.get_remote(plumbing, name)
    missing = wire.check_url(remote_settings.url, remote_settings.endpoint_url)
    if missing is not None:
        raise NotFound(
            f"remote {remote_settings.name}: {missing} does not exist yet (the first `pacha push "
            f"{remote_settings.name}` creates it); nothing to check"
        )
    return _probe(
        wire.connect(remote_settings), remote_settings.name, remote_settings.url, remote_settings.unsafe_refs
    )


def _probe(remote: wire.Remote, name: str, url: str, unsafe_refs: bool) -> CheckReport:
    result = remote.probe()
    return CheckReport(
        name,
        url,
        bool(getattr(result, "readable", True)),
        bool(getattr(result, "writable", False)),
        bool(getattr(result, "conditional_writes", False)),
        unsafe_refs,
        str(getattr(result, "detail", "") or ""),
    )


@dataclass(frozen=True)
class Added:
    """What `remote add` did: the settings recorded, the probe's report (None: not probed), and
    the directory of a path remote that does not exist yet (nothing is created before a push)."""

    settings: settings.RemoteSettings
    report: CheckReport | None
    missing: Path | None


def add(
    plumbing: pacha.Registry,
    name: str,
    url: str,
    *,
    endpoint_url: str | None = None,
    default: bool = False,
    probe: bool = True,
) -> Added:
    """Probe a remote, then record it (a store that ignores conditional writes is reported).

    Bad arguments are usage errors (exit 2) and a probe that fails (unreachable, no such bucket,
    no access) fails the command: either way nothing is recorded. A directory that does not
    exist is recorded and not created (as `git remote add` creates nothing): the first push
    creates it, and the caller says so, so a typo is seen at once."""
    settings.check_new_name(plumbing, name)
    missing = wire.check_url(url, endpoint_url)
    report = None
    if probe and missing is None:
        report = _probe(wire.connect_url(url, endpoint_url, None, name), name, url, False)
    added = settings.add_remote(plumbing, name, url, endpoint_url=endpoint_url, default=default)
    return Added(added, report, missing)


def set_option(plumbing: pacha.Registry, name: str, key: str, value: str) -> settings.RemoteSettings:
    """`remote set NAME KEY VALUE`: a URL or endpoint is checked as `remote add` checks it."""
    current = settings.get_remote(plumbing, name)
    if key == "url":
        wire.check_url(value, current.endpoint_url)
    elif key == "endpoint-url":
        wire.check_url(current.url, value)
    return settings.set_remote_option(plumbing, name, key, value)


def remove(plumbing: pacha.Registry, name: str) -> tuple[settings.RemoteSettings, int]:
    """Forget a remote: its settings and its remote-tracking refs (their objects stay until gc)."""
    remote = settings.get_remote(plumbing, name)
    tracked = tracking(plumbing, remote.name)
    prefix = refsync.tracking_prefix(remote.name)
    if tracked:
        moves = [refsync.Move(prefix + ref, oid, None) for ref, oid in tracked.items()]
        apply_local(plumbing, moves, f"remote remove {remote.name}")
    base.forget(plumbing, remote.name)
    settings.remove_remote(plumbing, remote.name)
    return remote, len(tracked)


@reports_keyring
def clone(
    url: str,
    path: str | Path | None,
    *,
    endpoint_url: str | None = None,
    all_objects: bool = False,
    lazy: bool = False,
    jobs: int | None = None,
    progress: bool = True,
) -> tuple[pacha.Registry, SyncReport]:
    """A new registry at path holding the remote's refs and audit trail, as `origin` (the default).

    Objects: the closure of every ref (default), every object the remote holds (all_objects), or
    none yet (lazy: remote.origin.lazy = true; objects come when download or verify needs them).
    A failure removes what was created.
    """
    if all_objects and lazy:
        raise UsageError("give --all or --lazy, not both")
    remote = wire.connect_url(url, endpoint_url, jobs, ORIGIN)
    if remote.read_refs().etag is None:  # a foreign remote is refused by read_refs itself
        raise NotFound(f"{url} holds no registry (nothing was ever pushed there): check the URL")
    root = Path(path).expanduser() if path else default_init_path()
    if root.exists() and not root.is_dir():
        raise InvalidInput(
            f"{root} is a file: clone makes a new registry in a new or empty directory; give another PATH"
        )
    if root.exists() and any(root.iterdir()):
        raise InvalidInput(
            f"{root} already exists and is not an empty directory: clone makes a new registry; give another "
            "PATH, or in that registry run `pacha remote add` and `pacha pull`"
        )
    created = not root.exists()
    try:
        plumbing, _ = pacha.init_registry(root)
        settings.add_remote(
            plumbing, ORIGIN, url, endpoint_url=endpoint_url, default=True, lazy=lazy, jobs=jobs
        )
        with plumbing.writing():
            report = _fill(plumbing, remote, url, all_objects, lazy, progress)
    except BaseException:
        _undo(root, created)
        raise
    return plumbing, report


def _fill(
    plumbing: pacha.Registry, remote: wire.Remote, url: str, all_objects: bool, lazy: bool, progress: bool
) -> SyncReport:
    with Progress("cloning: records", enabled=progress) as bar:
        records = wire.fetch(plumbing, remote, ORIGIN, bar)  # lazy: these and no artifact bytes
        table = tracking(plumbing, ORIGIN)
        roots = wire.remote_ids(remote) if all_objects else sorted(set(table.values()))
        bar.phase("cloning: artifacts")
        result = None if lazy or not roots else wire.fetch_objects(plumbing, remote, roots, bar)
    report = SyncReport(ORIGIN, url)
    for counted in (records, result):
        report.objects += int(getattr(counted, "objects", 0) or 0)
        report.bytes += int(getattr(counted, "bytes", 0) or 0)
    report.moved = [refsync.Move(ref, None, oid) for ref, oid in sorted(table.items())]
    agreed: dict[str, str | None] = dict(table)
    apply_local(plumbing, report.moved, f"clone from {url}", lazy=lazy, remote=ORIGIN, agreed=agreed)
    maintain(plumbing)
    return report


def _undo(root: Path, created: bool) -> None:
    """Remove a registry a failed clone created (a directory that existed empty is emptied)."""
    if not root.exists():
        return
    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


__all__ = ["CheckFailed", "CheckReport", "add", "check", "clone", "remove"]
