"""File modes of what Pacha creates: private by default, shared by a group on request.

A registry's files hold models, datasets and the audit trail, so by default nobody but their
owner may read them: `pacha init` records ``core.shared = "private"`` and everything Pacha creates
in such a registry is given an explicit mode: directories 0700, files that change (config.toml,
LMDB's data.mdb and lock.mdb, locks, the keyring) 0600, whatever the user's umask. Files that
never change once written (objects, packs, indexes) are then made read-only: their write bits
are cleared and their read bits are those the registry's mask allows (0400 in a private one).

A registry shared by a Unix group (`pacha init --shared=group`, recorded as ``core.shared``,
like `git init --shared`) is honoured by every process that opens it: the group bits (and for
``all`` the others' read bits) are left out of the mask its files are made with, so everything
created there is group-writable whatever the user's own umask, and its directories are setgid,
so what is created in them belongs to the group. ``umask`` (or ``false``) honours each user's
umask, as Pacha did before registries were private; a registry whose config has no
``core.shared`` (made by an older Pacha) is read as ``umask``, so upgrading changes no existing
team's modes.

Opening a registry never changes the process umask: `share` records the registry's mask (by its
root directory), and every write path inside it sets the mode of what it creates explicitly
(`create`, `mkdirs`, `file_mode`, `read_only_mode`). What a command writes outside a registry
(a download, a checkout, a directory remote) and the programs Pacha starts (hooks, `recipe run`)
simply keep the process umask, the user's own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
PRIVATE_BITS = 0o077  # what a private registry adds to the mask
SHARED_HINT = "private (the default), group, all or umask"
SETGID = 0o2000

_umask: int | None = None
_masks: dict[str, int] = {}  # a registry's root (absolute path text) -> the mask of its new files


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
        if _umask is None:  # no /proc: the only way to read it is to set it (and set it back)
            _umask = os.umask(0o022)
            os.umask(_umask)
    return _umask


def check_shared(value: object) -> str:
    """A valid core.shared value, or InvalidInput naming the choices."""
    if not isinstance(value, str) or value.lower() not in SHARED:
        raise InvalidInput(f"core.shared must be {SHARED_HINT}, not {value!r}")
    return value.lower()


def mask_of(value: object) -> int:
    """The mask files of a registry whose core.shared is value are made with (None: a registry
    made before the value was recorded, read as umask): private adds 0o077 to the umask, group
    and all clear the bits the group (and others) need."""
    mask = current_umask()
    if value is None:
        return mask
    mode = check_shared(value)
    return mask | PRIVATE_BITS if mode == PRIVATE else mask & ~SHARED[mode]


def share(root: str | os.PathLike[str], value: object) -> None:
    """Record how what is created under root is made (core.shared value; pacha.registry calls
    this when it opens or creates a registry). The process umask is left alone."""
    _masks[os.path.abspath(root)] = mask_of(value)


def mask_for(path: str | os.PathLike[str]) -> int:
    """The mask of what is created at path: that of the innermost registry holding it, else the
    process umask."""
    text = os.path.abspath(path)
    best, found = -1, current_umask()
    for root, mask in list(_masks.items()):  # a copy: another thread may open a registry meanwhile
        if len(root) > best and (text == root or text.startswith(root.rstrip(os.sep) + os.sep)):
            best, found = len(root), mask
    return found


def file_mode(path: str | os.PathLike[str], base: int = 0o666) -> int:
    """The mode of a file that changes, created at path: base less the mask."""
    return base & ~mask_for(path)


def read_only_mode(path: str | os.PathLike[str] | None = None, base: int = 0o444) -> int:
    """The mode of a finished file at path that never changes: base's bits the mask allows, no
    write bit (the owner can always read it). path None: the process umask decides."""
    mask = current_umask() if path is None else mask_for(path)
    return (base & ~mask & 0o555) | 0o400


def create(path: str | os.PathLike[str], flags: int, base: int = 0o666) -> int:
    """os.open(path, flags | O_CREAT, ...) giving a file it creates file_mode(path, base) exactly
    (whatever the umask). Returns the descriptor. Raises OSError as os.open."""
    mode = file_mode(path, base)
    fd = os.open(path, flags | os.O_CREAT, mode)
    try:
        if os.fstat(fd).st_mode & 0o7777 != mode:
            os.fchmod(fd, mode)
    except PermissionError:
        pass  # another user's file (a shared registry's lock): its mode is theirs to set
    except BaseException:
        os.close(fd)
        raise
    return fd


def fix_mode(path: str | os.PathLike[str], base: int = 0o666) -> None:
    """Give a file some library created at path (LMDB's) file_mode(path, base) if it is ours."""
    mode = file_mode(path, base)
    try:
        if os.stat(path).st_mode & 0o7777 != mode:
            os.chmod(path, mode)
    except (PermissionError, FileNotFoundError):
        pass


def mkdirs(path: str | os.PathLike[str]) -> None:
    """mkdir -p path, each directory created given 0o777 less the mask of its place (keeping the
    setgid bit a group-shared registry's directories pass on). Raises OSError as mkdir."""
    _makedirs(Path(path), mask_for)


def outside_mode(base: int) -> int:
    """The mode of a file or directory written outside any registry (a directory remote): base
    less the process umask, the user's own."""
    return base & ~current_umask()


def makedirs_outside(path: Path) -> None:
    """mkdir -p path, each directory created given outside_mode(0o777)."""
    _makedirs(path, lambda _: current_umask())


def _makedirs(path: Path, mask: Callable[[Path], int]) -> None:
    """mkdir -p: each directory made with 0o777 less mask(it) (never more open than that, even
    for a moment), then given exactly that mode, with the setgid bit it inherited."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        mode = 0o777 & ~mask(directory)
        try:
            directory.mkdir(mode)
        except FileExistsError:
            continue
        have = directory.stat().st_mode & 0o7777
        if have != mode | (have & SETGID):
            directory.chmod(mode | (have & SETGID))


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
