"""File modes of what Pacha creates: private by default, shared by a group on request.

A registry's files hold models, datasets and the audit trail, so by default nobody but their
owner may read them: `pacha init` records ``core.shared = "private"`` and every process that
opens such a registry adds 0o077 to its umask, so directories are 0700, files that change
(config.toml, LMDB's data.mdb and lock.mdb, locks, the keyring) 0600, whatever the user's umask.
Files that never change once written (objects, packs, indexes) are then made read-only: their
write bits are cleared and their read bits are those the umask allows (0400 in a private
registry).

A registry shared by a Unix group (`pacha init --shared=group`, recorded as ``core.shared``,
like `git init --shared`) is honoured by every process that opens it: the group bits (and for
``all`` the others' read bits) are cleared from the process umask, so everything it creates is
group-writable whatever the user's own umask, and its directories are setgid, so what is
created in them belongs to the group. ``umask`` (or ``false``) honours each user's umask, as
Pacha did before registries were private; a registry whose config has no ``core.shared`` (made
by an older Pacha) is read as ``umask``, so upgrading changes no existing team's modes.

What a command writes outside the registry (a download, a checkout) follows the user's own
umask: `user_umask` restores it around such writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pacha.errors import InvalidInput

PRIVATE = "private"
LEGACY = "umask"  # a registry without core.shared
# core.shared value -> umask bits it clears (git's names: umask/false, group/true, all/world/everybody)
SHARED: dict[str, int] = {
    PRIVATE: 0,
    "umask": 0,
    "false": 0,
    "group": 0o070,
    "true": 0o070,
    "all": 0o075,
    "world": 0o075,
    "everybody": 0o075,
}
PRIVATE_BITS = 0o077  # what a private registry adds to the umask
SHARED_HINT = "private (the default), group, all or umask"

_umask: int | None = None
_user_umask: int | None = None


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


def _set_umask(mask: int) -> None:
    global _umask, _user_umask
    current = current_umask()
    if _user_umask is None:
        _user_umask = current
    if mask != current:
        os.umask(mask)
        _umask = mask


def apply_shared(value: object) -> None:
    """Set the process umask for the registry's core.shared value (None: a registry made before
    the value was recorded, read as umask): private adds 0o077, group and all clear the bits
    the group (and others) need."""
    if value is None:
        return
    mode = check_shared(value)
    mask = current_umask()
    if mode == PRIVATE:
        _set_umask(mask | PRIVATE_BITS)
    elif mask & SHARED[mode]:
        _set_umask(mask & ~SHARED[mode])


def user_mask() -> int:
    """The user's own umask (before a private or shared registry changed the process's): what
    programs Pacha starts (hooks, `recipe run` commands) get, so their files are theirs."""
    return _user_umask if _user_umask is not None else current_umask()


def restore_user_umask() -> None:
    """Give the process back the user's own umask, as before any registry changed it.

    Opening a private or shared registry in-process sets the process umask (apply_shared); a
    program that then writes files of its own, or opens another registry as if fresh (a test
    suite running many registries in one process), calls this first."""
    global _umask, _user_umask
    if _user_umask is not None:
        os.umask(_user_umask)
    _umask = None
    _user_umask = None


@contextmanager
def user_umask() -> Iterator[None]:
    """Hold while writing outside the registry: the user's own umask, not the registry's."""
    global _umask
    if _user_umask is None or _user_umask == current_umask():
        yield
        return
    registry_mask = current_umask()
    os.umask(_user_umask)
    _umask = _user_umask
    try:
        yield
    finally:
        os.umask(registry_mask)
        _umask = registry_mask


def outside_mode(base: int) -> int:
    """The mode of a file or directory written outside the registry (a directory remote): base
    less the user's own umask, not a private registry's (explicit, so no thread ever sees the
    process umask change)."""
    mask = _user_umask if _user_umask is not None else current_umask()
    return base & ~mask


def makedirs_outside(path: Path) -> None:
    """mkdir -p path, each directory created given outside_mode(0o777)."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        directory.chmod(outside_mode(0o777))


def share_tree(root: Path, value: str) -> None:
    """Make an existing registry's files and directories follow core.shared = value: for group
    and all, directories setgid and group-writable, files group-readable (and group-writable if
    they change); for private, no bit for the group or others."""
    mode_name = check_shared(value)
    bits = SHARED[mode_name]
    if mode_name != PRIVATE and not bits:
        return
    add_dir = 0o2000 | bits  # setgid; group rwx (and others r-x for all)
    for path in (root, *root.rglob("*")):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o7777
        if mode_name == PRIVATE:
            new = mode & ~(PRIVATE_BITS | 0o2000)
        elif path.is_dir():
            new = mode | add_dir
        else:
            writable = mode & 0o200
            new = mode | (bits & 0o044) | ((bits & 0o020) if writable else 0)
        if new != mode:
            path.chmod(new)
