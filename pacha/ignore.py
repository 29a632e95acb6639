"""What a folder artifact leaves out: the registry itself, `.pachaignore` and `--exclude`.

A registry never stores itself (as Git never adds `.git`): wherever the
registry's directory appears inside a folder being stored, however it is
reached (its usual `.pacha/` name, a registry found through PACHA_DIR or
--registry lying deeper in the folder, a symbolic link to it), it is skipped,
recognised by device and inode rather than by name. A path inside the registry
cannot be stored at all.

A `.pachaignore` file at the folder's root and `--exclude PATTERN` options hold
patterns in gitignore syntax (https://git-scm.com/docs/gitignore, matched by
the pathspec library), relative to the folder's root; `--exclude` patterns come
after the file's lines, so they can also re-include (`!PATTERN`). As in Git, a
file inside an excluded directory cannot be re-included, and `.pachaignore`
itself is stored like any other file. The same rules apply whether a folder is
stored or only hashed, so a folder always gets the same id.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pacha.errors import InvalidInput

if TYPE_CHECKING:
    import pathspec

IGNORE_FILE = ".pachaignore"
MAX_IGNORE_FILE = 1 << 20  # a longer .pachaignore is surely not one


def _key(info: os.stat_result) -> tuple[int, int]:
    return (info.st_dev, info.st_ino)


def refuse_inside_registry(path: str | os.PathLike[str], registry: str | os.PathLike[str] | None) -> None:
    """Raise InvalidInput if path is the registry's directory or anything inside it."""
    if registry is None:
        return
    try:
        root = Path(registry).resolve()
        target = Path(path).resolve()
    except (OSError, RuntimeError):  # a symbolic-link loop: reading it says so later
        return
    if target == root or root in target.parents:
        raise InvalidInput(
            f"{path} is inside the registry {registry}; a registry never stores itself "
            "(copy the file out of it first)"
        )


class IgnoreRules:
    """Which paths under a folder's root are left out of its tree.

    patterns: gitignore lines (from `.pachaignore`, then `--exclude`); skip:
    directories left out whatever their name (the registry's).
    """

    def __init__(self, patterns: Sequence[str] = (), skip: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.patterns = list(patterns)
        self._spec = _compile(self.patterns) if self.patterns else None
        self._skip: set[tuple[int, int]] = set()
        for path in skip:
            try:
                self._skip.add(_key(os.stat(path)))
            except OSError:
                continue  # not there: nothing to skip

    @classmethod
    def for_folder(
        cls,
        root: str | os.PathLike[str],
        exclude: Sequence[str] = (),
        registry: str | os.PathLike[str] | None = None,
    ) -> IgnoreRules:
        """The rules for storing the folder root: its `.pachaignore`, then exclude; the
        registry's directory is skipped. Raises InvalidInput for a folder inside the
        registry, an unreadable `.pachaignore` or an invalid pattern."""
        refuse_inside_registry(root, registry)
        if os.path.lexists(root) and not os.path.isdir(root):
            raise InvalidInput(f"{root} is a file, not a directory: give the folder to store")
        lines = _read_ignore_file(Path(root) / IGNORE_FILE)
        for pattern in exclude:
            if "\n" in pattern or "\r" in pattern:
                raise InvalidInput(f"--exclude {pattern!r}: a pattern is one line")
        return cls([*lines, *exclude], [registry] if registry is not None else [])

    def skips(self, info: os.stat_result) -> bool:
        """True for a directory that is never stored (the registry), by its stat."""
        return bool(self._skip) and _key(info) in self._skip

    def excludes(self, relative: str, is_dir: bool) -> bool:
        """True if the path (relative to the root, '/'-separated) matches the patterns."""
        if self._spec is None:
            return False
        return bool(self._spec.match_file(relative + "/" if is_dir else relative))

    def walk(self, root: str | os.PathLike[str], suffixes: Iterable[str] | None = None) -> Iterator[Path]:
        """Every regular file under root that a tree of root holds, in no set order
        (symbolic links followed, as trees follow them; unreadable parts left out);
        only those whose names end with one of suffixes (lowercased) if given."""
        ends = tuple(suffixes) if suffixes is not None else None
        seen: set[tuple[int, int]] = set()

        def visit(directory: Path, prefix: str) -> Iterator[Path]:
            try:
                entries = list(os.scandir(directory))
            except OSError:
                return
            for entry in entries:
                try:  # the directory entry's type: no system call but for links
                    is_dir = entry.is_dir()
                    is_file = not is_dir and entry.is_file()
                except OSError:
                    continue
                if is_file and ends is not None and not entry.name.lower().endswith(ends):
                    continue
                relative = prefix + entry.name
                if not (is_dir or is_file) or self.excludes(relative, is_dir):
                    continue
                if is_file:
                    yield Path(entry.path)
                    continue
                try:
                    key = _key(entry.stat())
                except OSError:
                    continue
                if key in self._skip or key in seen:
                    continue  # the registry, or a directory seen already (a link loop)
                seen.add(key)
                yield from visit(Path(entry.path), relative + "/")

        yield from visit(Path(root), "")


def _compile(patterns: list[str]) -> pathspec.GitIgnoreSpec:
    import pathspec  # ~28 ms: loaded only when there are patterns

    for number, line in enumerate(patterns, 1):
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                f"ignore pattern {line!r} (line {number} of {IGNORE_FILE} and --exclude) is invalid: {exc}"
            ) from None
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _read_ignore_file(path: Path) -> list[str]:
    """The lines of a `.pachaignore` (none if there is no such regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO there must not block
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"{path} is not a regular file; make it one or remove it")
        if info.st_size > MAX_IGNORE_FILE:
            raise InvalidInput(f"{path} is larger than {MAX_IGNORE_FILE} bytes; it cannot be an ignore file")
        data = os.read(fd, MAX_IGNORE_FILE + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; save it as UTF-8") from None
    return text.splitlines()
