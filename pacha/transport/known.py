"""What a registry remembers about a remote between pushes: derived data in its cache/remotes/
(safe to delete: the next push is only slower).

- The probe passed: the store at this URL and endpoint honoured conditional writes (the
  probe writes and removes a test key with five requests); trusted for PROBE_VALID seconds,
  then probed again (`remote check` always probes).
- Objects the remote holds whole (each object and everything it links to): the closure a push
  walked, once all its packs are up. The next push's walk stops at them as it stops at the
  remote's ref tips, so the 2 %-changed version of a 1 GiB model walks the ~300 chunks that
  are new, not all 13,000. Trusted only for objects the remote's pack indexes list now (a pack
  removed by hand is noticed), and only for the same remote: the file is named by the remote's
  id (its marker's, pacha.transport.layout.format_document), so a remote made anew at the same
  URL starts from nothing.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Container, Iterable
from pathlib import Path

from pacha.hashing import hash_bytes
from pacha.transport.remote import Remote, write_cache

PROBE_VALID = 24 * 3600.0  # seconds a passed probe is trusted
_ID = 32  # bytes of a raw object id


def _folder(root: Path, remote: Remote) -> Path:
    return root / "cache" / "remotes" / hash_bytes(remote.identity.encode())[:32]


def probe_passed(root: Path, remote: Remote) -> bool:
    """Did this store pass the conditional-write probe within PROBE_VALID seconds?"""
    try:
        return time.time() - (_folder(root, remote) / "probe").stat().st_mtime < PROBE_VALID
    except OSError:
        return False


def remember_probe(root: Path, remote: Remote) -> None:
    write_cache(_folder(root, remote) / "probe", b"conditional writes honoured\n")


def _whole_file(root: Path, remote: Remote) -> Path | None:
    if remote.instance is None:
        return None
    return _folder(root, remote) / f"whole-{hash_bytes(remote.instance.encode())[:32]}"


def whole_objects(root: Path, remote: Remote) -> set[str]:
    """The ids remembered as held whole by this remote (empty if none, or the file is damaged)."""
    path = _whole_file(root, remote)
    try:
        data = path.read_bytes() if path is not None else b""
    except OSError:
        return set()
    if len(data) % _ID:
        return set()
    text = data.hex()
    return {text[i : i + 2 * _ID] for i in range(0, len(text), 2 * _ID)}


def remember_whole(root: Path, remote: Remote, ids: Collection[str]) -> None:
    """Add ids (objects now held whole by the remote) to what is remembered."""
    path = _whole_file(root, remote)
    if path is None or not ids:
        return
    known = whole_objects(root, remote)
    if known.issuperset(ids):
        return
    write_cache(path, bytes.fromhex("".join(sorted(known.union(ids)))))


class Learnt:
    """What a push learnt, remembered once it succeeded (a refused push leaves the registry as
    it was, its cache included): whether the probe passed, and the objects now whole there."""

    def __init__(self, probed: bool, whole: set[str]) -> None:
        self.probed = probed
        self.whole = whole

    def keep(self, root: Path, remote: Remote) -> None:
        if self.probed:
            remember_probe(root, remote)
        remember_whole(root, remote, self.whole)


class Whole(Container[str]):
    """Objects whose closure the remote holds: its ref tips, and remembered ones it lists now."""

    def __init__(self, tips: Iterable[str], remembered: set[str], listed: Container[str]) -> None:
        self.tips = set(tips)
        self.remembered = remembered
        self.listed = listed

    def __contains__(self, object_id: object) -> bool:
        return object_id in self.tips or (object_id in self.remembered and object_id in self.listed)
