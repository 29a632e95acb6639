"""Names and paths from outside: checked before they touch the file system.

Objects come from other people once registries are shared, so every name an
object holds and a command uses as a path (a tree entry's name, a record's
`filename`) is untrusted input. One rule, checked here and nowhere else, by
the writers (write-tree, register, hash-object), by every checkout and
download, and by fsck (which reports a breaking object as damage):

- a name is one path component: not empty, not `.` or `..`, no `/` and no `\\`
  (the separator on Windows: a tree must not escape its folder anywhere it is
  checked out), no NUL or other control character (C0, DEL), at most 255 bytes
  of UTF-8 (the limit of every common file system), and valid UTF-8;
- two names in one folder that differ only by case (after Unicode NFC
  normalisation) would overwrite each other where the file system folds case
  (macOS, Windows): a checkout probes its destination and refuses such a tree
  there; elsewhere (ext4, XFS) they are distinct files and are kept.

Destinations and sources are checked here too: `--force` replaces only a
regular file, a directory or a symbolic link (the link itself, never its
target); an artifact or document to read is a regular file, a directory, or a
pipe the user handed over explicitly (`<(cmd)` gives `/dev/fd/N`) — never a
named FIFO, a device or a socket, which block or never end.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from pacha.errors import InvalidInput

NAME_MAX_BYTES = 255  # NAME_MAX on Linux, macOS (APFS) and Windows (NTFS, in UTF-16 units)
_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f]")
# Paths that name a file descriptor the caller holds: `<(cmd)` in bash and zsh gives
# /dev/fd/N; /dev/stdin is /proc/self/fd/0.
_DESCRIPTOR_PATH = re.compile(r"^/(dev/fd/\d+|proc/(self|\d+)/fd/\d+|dev/stdin)$")


def name_problem(name: object) -> str | None:
    """Why name cannot be a single path component, or None when it can."""
    if not isinstance(name, str):
        return "it is not a string"
    if name in ("", ".", ".."):
        return "it is empty, '.' or '..'"
    bad = _FORBIDDEN.search(name)
    if bad is not None:
        char = bad.group()
        what = {"/": "a '/'", "\\": "a '\\'", "\x00": "a NUL"}.get(char, f"control character {char!r}")
        return f"it holds {what}"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if size > NAME_MAX_BYTES:
        return f"it is {size} bytes long (at most {NAME_MAX_BYTES})"
    return None


def check_name(name: object, what: str) -> str:
    """name, if it is a safe single path component (see the module's rule).

    what says where the name comes from, e.g. "tree entry name" or "record filename".
    Raises InvalidInput naming the problem otherwise.
    """
    problem = name_problem(name)
    if problem is not None or not isinstance(name, str):  # name_problem refuses a non-string
        raise InvalidInput(f"{what} {name!r} is not a safe file name: {problem}")
    return name


def fold(name: str) -> str:
    """The key under which a case-folding file system stores name."""
    return unicodedata.normalize("NFC", name).casefold()


def case_collisions(names: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of names that differ only by case or Unicode normalisation."""
    seen: dict[str, str] = {}
    out = []
    for name in names:
        key = fold(name)
        if key in seen:
            out.append((seen[key], name))
        else:
            seen[key] = name
    return out


def folds_case(directory: str | os.PathLike[str]) -> bool:
    """Whether the file system holding directory treats names differing by case as one.

    Probes by creating a file with upper-case letters and looking it up in lower case.
    """
    probe = Path(directory) / f".PACHA-CASE-{os.urandom(6).hex().upper()}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        return os.path.lexists(Path(directory) / probe.name.lower())
    finally:
        os.unlink(probe)


def special_kind(mode: int) -> str | None:
    """'a FIFO', 'a socket' or 'a device' for those file types; None otherwise."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return None


def file_in_the_way(path: str | os.PathLike[str]) -> Path | None:
    """The nearest existing ancestor of path (not path itself) when it is not a directory: the
    file that makes creating path fail with ENOTDIR. None when there is none."""
    for parent in Path(path).parents:
        if os.path.lexists(parent):
            return None if parent.is_dir() else parent
    return None


def not_a_directory(path: str | os.PathLike[str]) -> str | None:
    """ "X is a file, not a directory" when a file stands where path needs a directory."""
    blocker = file_in_the_way(path)
    return None if blocker is None else f"{blocker} is a file, not a directory"


def check_destination(path: str | os.PathLike[str]) -> None:
    """Refuse to write over a FIFO, socket or device node at path (itself, not through a link).

    A regular file, a directory, a symbolic link (replaced itself) or nothing is fine.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        why = not_a_directory(path) if isinstance(exc, NotADirectoryError) else None
        raise InvalidInput(f"cannot write {path}: {why or exc.strerror}") from None
    kind = special_kind(info.st_mode)
    if kind is not None:
        raise InvalidInput(
            f"refusing to replace {path}: it is {kind}, not a file or directory; give another path"
        )


def is_descriptor_path(path: str | os.PathLike[str]) -> bool:
    """Whether path names a file descriptor (/dev/fd/N, /proc/self/fd/N, /dev/stdin)."""
    return _DESCRIPTOR_PATH.match(os.fspath(path)) is not None


def check_source(path: str | os.PathLike[str], what: str) -> os.stat_result:
    """The stat of an input path if it can be read to its end without blocking for ever.

    Allowed: a regular file, a directory, and a pipe given as a descriptor path
    (`<(cmd)`, /dev/stdin); `-` (standard input) is handled by callers before this.
    Refused with one line: a missing path, a named FIFO on disk, a device, a socket.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    kind = special_kind(info.st_mode)
    if kind == "a FIFO" and is_descriptor_path(path):
        return info  # a pipe the user handed over: it ends when its writer does
    if kind == "a FIFO":
        raise InvalidInput(
            f"{what} {path} is a FIFO, not a regular file or directory; "
            f"to read a stream, pass a pipe on purpose: <(cat {path})"
        )
    if kind is not None:
        raise InvalidInput(
            f"{what} {path} is {kind}, not a regular file or directory; copy what you need to a file"
        )
    return info
