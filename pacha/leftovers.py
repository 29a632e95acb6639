"""What interrupted operations leave behind, found and cleared by maintenance commands.

Every write is atomic (temp file, fsync, rename), so a killed process never
leaves a half object; but it can leave:

- a temp file under tmp/ (or a `.NAME.pacha-…` file or folder next to a
  checkout's destination): its name carries the writer's pid and start time
  (pacha.store.tmpfile.temp_path), so a dead writer's file is told from a
  live one's and removed, and a live one's never is;
- a pack without its index (a writer is killed between the two renames):
  `repack` and `gc` index it (pacha.store.index_pack), or, if it cannot be
  indexed, remove it once it is older than the grace period;
- a multi-pack index naming a pack that is gone (a repack or gc killed before
  rewriting it): readers do without it; `repack` and `gc` rewrite it.

`fsck` lists these as warnings with the command that clears them, and
`count-objects -v` counts them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pacha.errors import CorruptObject, PachaError
from pacha.store import ObjectStore
from pacha.store.index_pack import index_pack
from pacha.store.midx import MIDX_NAME, MultiPackIndex
from pacha.store.repack import rewrite_midx
from pacha.store.tmpfile import owner_alive, owner_tag

# The grace period (as Git's): how long `pacha gc` keeps unreachable objects, and how old
# a pack that cannot be indexed must be before it is removed.
DEFAULT_GRACE_S = 14 * 24 * 3600
# A temp file whose name does not say who wrote it is a leftover after this long.
UNKNOWN_AFTER_S = 14 * 24 * 3600


@dataclass(frozen=True)
class Leftover:
    """One thing an interrupted operation left behind."""

    kind: str  # "temp", "orphan-pack", "stale-midx"
    path: Path
    size: int
    why: str
    fix: str

    def describe(self) -> str:
        return f"{self.why} ({self.size} bytes); {self.fix}"


def _temp_is_leftover(name: str, mtime: float, now: float, cutoff: float | None) -> bool:
    """Whether a temp file is an interrupted write's leftover (never a live writer's)."""
    alive = owner_alive(name)
    if alive:
        return False
    if alive is False:
        # Its writer is gone, so nothing will complete it. (Every writer of the store holds
        # the registry's write lock while it writes, so gc never even runs beside a live one.)
        return True
    return mtime < (now - UNKNOWN_AFTER_S if cutoff is None else cutoff)


def scan(store: ObjectStore, cutoff: float | None = None) -> list[Leftover]:
    """Every leftover of the store: temp files of dead writers, packs without an index,
    a multi-pack index naming packs that are gone. cutoff: a Unix time before which a
    temp file of unknown owner counts as left over (default: the grace period)."""
    out: list[Leftover] = []
    now = time.time()
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(store.tmp_dir):
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.is_file(follow_symlinks=False) and _temp_is_leftover(
                entry.name, info.st_mtime, now, cutoff
            ):
                out.append(
                    Leftover(
                        "temp",
                        Path(entry.path),
                        info.st_size,
                        f"temp file {entry.path} of an interrupted write",
                        "`pacha gc` removes it",
                    )
                )
    pack_dir = store.packs.dir
    try:
        names = set(os.listdir(pack_dir))
    except FileNotFoundError:
        names = set()
    for name in sorted(names):
        if name.endswith(".pack") and name.removesuffix(".pack") + ".idx" not in names:
            path = pack_dir / name
            with contextlib.suppress(FileNotFoundError):
                out.append(
                    Leftover(
                        "orphan-pack",
                        path,
                        path.stat().st_size,
                        f"pack {path} has no index (an interrupted write or repack)",
                        f"`pacha repack` or `pacha gc` indexes it, as `pacha index-pack {path}` does",
                    )
                )
    stale = stale_midx(store)
    if stale is not None:
        out.append(stale)
    return out


def stale_midx(store: ObjectStore) -> Leftover | None:
    """The multi-pack index, if it names a pack that is not installed (else None)."""
    path = store.packs.dir / MIDX_NAME
    try:
        midx = MultiPackIndex(path)
    except (FileNotFoundError, CorruptObject, ValueError):
        return None  # none, or damaged: fsck reports damage on its own
    try:
        missing = [n for n in midx.pack_names if not (store.packs.dir / f"{n}.idx").exists()]
        size = path.stat().st_size
    finally:
        midx.close()
    if not missing:
        return None
    return Leftover(
        "stale-midx",
        path,
        size,
        f"multi-pack index {path} names {len(missing)} pack(s) that are gone, such as {missing[0]} "
        "(an interrupted repack or gc)",
        "`pacha repack`, `pacha gc` or `pacha multi-pack-index write` rewrites it",
    )


@dataclass
class CleanReport:
    temp_removed: int = 0
    packs_indexed: int = 0
    packs_removed: int = 0
    midx_rewritten: bool = False


def clean(store: ObjectStore, cutoff: float | None = None, dry_run: bool = False) -> CleanReport:
    """Complete or clear what interrupted operations left: index packs without an index
    (or remove one that cannot be indexed once older than cutoff, default the grace
    period), remove temp files of dead writers, rewrite a stale multi-pack index.

    Callers hold the registry's write or gc lock. Never removes a live writer's file.
    """
    report = CleanReport()
    limit = time.time() - DEFAULT_GRACE_S if cutoff is None else cutoff
    for item in scan(store, cutoff):
        if item.kind == "temp":
            if not dry_run:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item.path)
            report.temp_removed += 1
        elif item.kind == "orphan-pack" and not dry_run:
            try:
                index_pack(store, item.path)
                report.packs_indexed += 1
            except FileNotFoundError:
                continue
            except PachaError as exc:
                try:
                    old = item.path.stat().st_mtime < limit
                except FileNotFoundError:
                    continue
                if old:
                    item.path.unlink(missing_ok=True)
                    report.packs_removed += 1
                else:
                    sys.stderr.write(f"pacha: warning: cannot index {item.path} ({exc}); left as it is\n")
        elif item.kind == "stale-midx" and not dry_run:
            store.forget_packs()
            rewrite_midx(store)
            report.midx_rewritten = True
    return report


def checkout_temp_name(dest: Path) -> Path:
    """The temp name a checkout to dest writes under, next to it (see clear_dead_siblings)."""
    return dest.parent / f".{dest.name}.pacha-{owner_tag()}-{os.urandom(6).hex()}"


def clear_dead_siblings(dest: Path) -> int:
    """Remove what killed checkouts to dest left next to it (`.NAME.pacha-PID-START-…`
    files or folders whose writer is gone); returns how many. Live writers' are kept."""
    parent = dest.parent if str(dest.parent) else Path(".")
    prefix = f".{dest.name}.pacha-"
    removed = 0
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(prefix)]
    except OSError:
        return 0
    for entry in entries:
        rest = entry.name[len(prefix) :].removeprefix("old-")
        if owner_alive(f"x-{rest}") is not False:
            continue  # a live writer's, or not ours to judge
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            continue
    return removed
