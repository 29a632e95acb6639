"""File modes of what Pacha creates: the umask is honoured, and a shared registry stays shared.

Every file and directory Pacha creates takes its mode from the process umask, as any
Unix tool's does: plain files are created 0o666 and directories 0o777, less the umask
(LMDB's data.mdb and lock.mdb included; py-lmdb's default mode ignored a group's write
bit). Files that never change once written (objects, packs, indexes) are then made
read-only: their write bits are cleared and their read bits are those the umask allows.

A registry shared by a Unix group (`pacha init --shared=group`, recorded as
``core.shared`` in config.toml, like `git init --shared`) is honoured by every process
that opens it: the group bits (and for ``all`` the others' read bits) are cleared from
the process umask, so everything it creates is group-writable whatever the user's own
umask, and its directories are setgid, so what is created in them belongs to the group.
"""

from __future__ import annotations

import os
from pathlib import Path

from pacha.errors import InvalidInput

# core.shared value -> umask bits it clears (git's names: umask/false, group/true, all/world/everybody)
SHARED: dict[str, int] = {
    "umask": 0,
    "false": 0,
    "group": 0o070,
    "true": 0o070,
    "all": 0o075,
    "world": 0o075,
    "everybody": 0o075,
}
SHARED_HINT = "umask (the default), group or all"

_umask: int | None = None


def current_umask() -> int:
    """The process umask (read from /proc, so that it is never changed, even for a moment)."""
    global _umask
    if _umask is None:
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("Umask:"):
                        _umask = int(line.split()[1], 8)
                        break
        except (OSError, ValueError):
            pass
        if _umask is None:
            _umask = os.umask(0o022)
            os.umask(_umask)
    return _umask


def read_only_mode(base: int = 0o444) -> int:
    """The mode of a finished file that never changes: base's bits the umask allows, no write bit
    (the owner can always read it)."""
    return (base & ~current_umask() & 0o555) | 0o400


def check_shared(value: object) -> str:
    """A valid core.shared value, or InvalidInput naming the choices."""
    if not isinstance(value, str) or value.lower() not in SHARED:
        raise InvalidInput(f"core.shared must be {SHARED_HINT}, not {value!r}")
    return value.lower()


def apply_shared(value: object) -> None:
    """Clear from the process umask the bits a shared registry needs (no-op for umask/None)."""
    global _umask
    if value is None:
        return
    bits = SHARED[check_shared(value)]
    mask = current_umask()
    if mask & bits:
        os.umask(mask & ~bits)
        _umask = mask & ~bits


def share_tree(root: Path, value: str) -> None:
    """Make an existing registry's files and directories follow core.shared = value: directories
    setgid and group-writable, files group-readable (and group-writable if they change)."""
    bits = SHARED[check_shared(value)]
    if not bits:
        return
    add_dir = 0o2000 | bits  # setgid; group rwx (and others r-x for all)
    for path in (root, *root.rglob("*")):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o7777
        if path.is_dir():
            new = mode | add_dir
        else:
            writable = mode & 0o200
            new = mode | (bits & 0o044) | ((bits & 0o020) if writable else 0)
        if new != mode:
            path.chmod(new)
