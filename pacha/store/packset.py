"""Every pack of a store: found by listing objects/pack, refreshed when it changes.

Lookups go through the multi-pack index (pacha.store.midx) for the packs it
covers, then through the packs it does not; a damaged pack or index is set aside
with one warning, and costs only its own objects.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pacha.errors import CorruptObject
from pacha.store.midx import MIDX_NAME, MultiPackIndex
from pacha.store.pack import Pack

RACY_NS = 2_000_000_000


class PackSet:
    """Every pack of a store: found by listing objects/pack, refreshed when it changes."""

    def __init__(self, pack_dir: Path) -> None:
        self.dir = pack_dir
        self._packs: list[Pack] = []
        self._stamp: int | None = None
        self._listed_at = 0
        self._last: Pack | None = None
        # The multi-pack index (pacha.store.midx), the packs it covers by number, and the others.
        self._midx: MultiPackIndex | None = None
        self._midx_packs: list[Pack] = []
        self._uncovered: list[Pack] = []
        self.damaged: dict[str, str] = {}  # index file name -> why it was set aside
        self._touched: dict[Path, float] = {}  # pack file -> when freshen() last touched it

    def _listing_stamp(self) -> int:
        try:
            return os.stat(self.dir).st_mtime_ns
        except FileNotFoundError:
            return 0

    def refresh(self, force: bool = False) -> bool:
        """Re-read the directory if it may have changed; True if it was re-read.

        A directory's mtime has a coarse clock, so a listing taken within RACY_NS
        of its last change might miss a pack added in the same tick: such a
        listing is never trusted (as Git treats "racily clean" files).
        """
        stamp = self._listing_stamp()
        if not force and stamp == self._stamp and self._listed_at - stamp > RACY_NS:
            return False
        self._listed_at = time.time_ns()
        known = {p.index_path.name: p for p in self._packs}
        packs = []
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".idx"))
        except FileNotFoundError:
            names = []
        damaged: dict[str, str] = {}
        for name in names:
            pack = known.pop(name, None)
            if pack is None:
                try:
                    pack = Pack(self.dir / name)
                    pack.check_pack_file()
                except FileNotFoundError:
                    if pack is not None:
                        pack.close()
                    continue  # removed while listing (repack)
                except (CorruptObject, OSError, ValueError) as exc:
                    # One damaged pack costs only its own objects: the others, and loose
                    # objects, are still served (fsck reports it; index-pack rebuilds an index).
                    if pack is not None:
                        pack.close()
                    damaged[name] = str(exc)
                    warn_damaged(self.dir / name, str(exc))
                    continue
            packs.append(pack)
        self.damaged = damaged
        self._packs = packs
        if self._last is not None and self._last not in packs:
            self._last = None
        self._stamp = stamp
        self._load_midx()
        return True

    def _load_midx(self) -> None:
        """Use the multi-pack index if it is sound and every pack it names is listed."""
        midx = self._midx
        try:
            info = os.stat(self.dir / MIDX_NAME)
            if midx is None or midx.stamp != (info.st_mtime_ns, info.st_ino):
                midx = MultiPackIndex(self.dir / MIDX_NAME)
        except FileNotFoundError:
            midx = None  # none: every pack is searched
        except (CorruptObject, OSError, ValueError) as exc:
            midx = None  # damaged (fsck says so): every pack is searched
            warn_damaged(self.dir / MIDX_NAME, str(exc))
        if midx is not self._midx and self._midx is not None:
            self._midx.close()
        by_name = {p.name: p for p in self._packs}
        if midx is not None and all(name in by_name for name in midx.pack_names):
            self._midx = midx
            self._midx_packs = [by_name[name] for name in midx.pack_names]
            covered = set(midx.pack_names)
            self._uncovered = [p for p in self._packs if p.name not in covered]
        else:  # a pack it names was removed (by a repack or gc that rewrites it next)
            self._midx, self._midx_packs, self._uncovered = midx, [], self._packs

    def extendable_midx(self) -> MultiPackIndex | None:
        """The multi-pack index in use if every pack it names is here (so that one over more
        packs can be made from it: midx.extend_midx), else None (none, damaged or stale)."""
        if self._stamp is None:
            self.refresh()
        return self._midx if self._midx_packs else None

    @property
    def uncovered(self) -> int:
        """How many packs the multi-pack index does not cover (all of them if there is none)."""
        if self._stamp is None:
            self.refresh()
        return len(self._uncovered)

    @property
    def packs(self) -> list[Pack]:
        if self._stamp is None:
            self.refresh()
        return self._packs

    def find(self, object_id: str, relist: bool = True) -> tuple[Pack, int] | None:
        """The pack holding object_id and its position there.

        On a miss the directory is re-listed (another process may have added a
        pack), unless relist is False: writers checking whether to store an
        object again can afford a stale answer, readers cannot.
        """
        raw = bytes.fromhex(object_id)
        last = self._last
        if last is not None:  # objects are looked up in runs: the chunks of one file, a folder
            i = last.position(raw)
            if i >= 0:
                return last, i
        for attempt in range(2):
            found = self._lookup(raw)
            if found is not None:
                return found
            if attempt == 0 and not (relist and self.refresh()):
                return None
        return None

    def _lookup(self, raw: bytes) -> tuple[Pack, int] | None:
        """Through the multi-pack index, then the packs it does not cover."""
        if self._stamp is None:
            self.refresh()
        if self._midx_packs:
            assert self._midx is not None
            number = self._midx.pack_of(raw)
            if 0 <= number < len(self._midx_packs):
                found = self._search(raw, [self._midx_packs[number]])
                if found is not None:
                    return found
        return self._search(raw, self._uncovered)

    def _search(self, raw: bytes, packs: list[Pack]) -> tuple[Pack, int] | None:
        for pack in packs:
            i = pack.position(raw)
            if i >= 0:
                self._last = pack
                return pack, i
        return None

    def freshen(self, pack: Pack) -> None:
        """Mark pack as just written (its mtime), so gc's grace period covers an object a
        write reuses from it; at most once a minute a pack."""
        now = time.time()
        if now - self._touched.get(pack.path, 0.0) > 60:
            with contextlib.suppress(OSError):  # a read-only shared store: not ours to collect
                os.utime(pack.path)
            self._touched[pack.path] = now

    def iter_ids(self) -> Iterator[str]:
        self.refresh()
        seen: set[str] = set()
        for pack in self.packs:
            for object_id in pack.iter_ids():
                if object_id not in seen:
                    seen.add(object_id)
                    yield object_id

    def ids_with_prefix(self, prefix: str) -> list[str]:
        self.refresh()
        out: set[str] = set()
        for pack in self.packs:
            out.update(pack.ids_with_prefix(prefix))
        return sorted(out)

    def forget(self) -> None:
        """Close every mapping (after repack or gc replaced the packs)."""
        for pack in self._packs:
            pack.close()
        if self._midx is not None:
            self._midx.close()
        self._packs, self._midx, self._midx_packs, self._uncovered = [], None, [], []
        self._stamp = None
        self._last = None


_WARNED: set[str] = set()


def warn_damaged(path: Path, why: str) -> None:
    """One line on stderr, once per process and file, naming a damaged pack file set aside."""
    if str(path) in _WARNED:
        return
    _WARNED.add(str(path))
    if path.name == "multi-pack-index":
        fix = "run `pacha multi-pack-index write`"
    else:
        fix = f"run `pacha fsck`; `pacha index-pack {path.with_suffix('.pack')}` rebuilds an index"
    sys.stderr.write(f"pacha: warning: {why}; ignoring it ({fix})\n")

