"""Directory artifacts: storing a folder as tree objects and restoring it.

Symbolic links are followed (a Hugging Face cache snapshot is a folder of links
into its blob store; the artifact is what they point at). Executable files keep
their executable bit; other metadata (owners, times) is not part of an artifact.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from pacha.checkout_files import checkout as checkout
from pacha.checkout_files import read_tree as read_tree
from pacha.errors import InvalidInput, PachaError
from pacha.hashing import hash_bytes
from pacha.ignore import IgnoreRules
from pacha.objects import (
    BLOB,
    MODE_EXEC,
    MODE_FILE,
    MODE_TREE,
    TREE,
    TreeEntry,
    encode,
    make_tree,
)
from pacha.pathnames import name_problem
from pacha.registry import in_registry
from pacha.store import ObjectStore
from pacha.store import PreparedObject as Prepared
from pacha.store.ingest import CompressionProbe, ingest_file_sized, prepare_probed
from pacha.store.snapshot import FileChanged, Identity, hash_file_sized, read_small
from pacha.store.snapshot import identity as snapshot_identity
from pacha.store.workers import SmallFile, Workers

SMALL_FILE = 1 << 20  # files up to this size are prepared on worker threads
GROUP = 256  # files a worker task prepares, at most
GROUP_BYTES = 8 << 20  # and at most this many bytes
WINDOW = 4  # tasks in flight: at most WINDOW * (GROUP_BYTES + SMALL_FILE) bytes wait in memory
PREPARE_THREADS = 2
# Past this many small files, worker processes store them (threads would serialise on
# the GIL; starting the processes costs about what threads take for this many files).
PROCESS_AFTER = 2000


def write_tree(
    store: ObjectStore | None, directory: str | os.PathLike[str], ignore: IgnoreRules | None = None
) -> str:
    """Store every file under directory; return the id of its tree.

    With store=None nothing is written: the id is computed only (what the tree
    would be named), e.g. to compare a folder with a registered version.
    ignore: what to leave out (pacha.ignore); by default the folder's
    `.pachaignore` and the store's own registry directory.
    """
    return write_tree_sized(store, directory, ignore=ignore)[0]


def write_tree_sized(
    store: ObjectStore | None,
    directory: str | os.PathLike[str],
    base: str | None = None,
    progress: Callable[[int], None] | None = None,
    ignore: IgnoreRules | None = None,
) -> tuple[str, int]:
    """As write_tree, also returning the total bytes of every file in the tree.

    Everything new goes into one pack (one fsync, however many files), and small
    files are read, hashed and compressed on worker threads. base names an
    earlier version's tree: a file whose path it has may be stored as a delta
    against the file there. Every entry's size is the count of bytes read and
    stored; a file that changes while it is read raises FileChanged
    (pacha.store.snapshot) and nothing is installed.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a directory")
    if ignore is None:
        ignore = IgnoreRules.for_folder(root, registry=registry_of(store))
    writer = _TreeWriter(store, progress, ignore)
    try:
        if store is None:
            return writer.write_dir(root, None, "")
        with store.batch():
            result = writer.write_dir(root, _base_entries(store, base), "")
            writer.commit()
            return result
    finally:
        writer.close()


def registry_of(store: ObjectStore | None) -> Path | None:
    """The registry directory a store belongs to (its objects/ directory's parent)."""
    return None if store is None else Path(store.loose.root).parent


def _base_entries(store: ObjectStore | None, tree_id: str | None) -> dict[str, TreeEntry] | None:
    """The entries of a base tree by name (None when there is no usable base)."""
    if store is None or tree_id is None:
        return None
    try:
        return {e.name: e for e in read_tree(store, tree_id).entries}
    except PachaError:
        return None  # not a tree, not here or damaged: store without deltas


class _Item(NamedTuple):
    name: str
    path: str
    mode: int
    size: int
    old: TreeEntry | None  # the entry of that name in the base tree
    listed: Identity  # the file as listed: it must still be that file once read


def _groups(items: list[_Item]) -> list[list[int]]:
    """Positions of the small files, in runs of at most GROUP files and GROUP_BYTES bytes."""
    out: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, item in enumerate(items):
        if not stat.S_ISREG(item.mode) or item.size > SMALL_FILE:
            continue
        if current and (len(current) == GROUP or size + item.size > GROUP_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(i)
        size += item.size
    if current:
        out.append(current)
    return out


class _TreeWriter:
    """Stores a folder. Small files (up to SMALL_FILE bytes) are read, hashed and, unless
    already stored, compressed on worker threads, GROUP files a task and at most WINDOW
    tasks ahead (reading, BLAKE3 and zstd release the GIL); the caller's thread stores
    the results in order, so the tree is the same whatever the timing. Past PROCESS_AFTER
    files, worker processes (pacha.store.workers) read and store them instead, each into
    a pack of its own: per-file Python work no longer waits on one GIL."""

    def __init__(
        self, store: ObjectStore | None, progress: Callable[[int], None] | None, ignore: IgnoreRules
    ) -> None:
        self.store = store
        self.progress = progress
        self.ignore = ignore
        self.active: set[tuple[int, int]] = set()
        self.pool = ThreadPoolExecutor(PREPARE_THREADS, thread_name_prefix="pacha-tree")
        self.workers: Workers | None = None
        self.small_files = 0  # handed out so far: past PROCESS_AFTER, worker processes take over

    def commit(self) -> None:
        """Install what worker processes stored (before the caller's pack of trees)."""
        if self.workers is not None:
            self.workers.commit()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.workers is not None:
            self.workers.abort()

    def _submit(self, items: list[_Item]) -> Future[list[Prepared | OSError | FileChanged]] | int:
        """Start preparing a group on a thread (a future), or storing it in a worker (a ticket)."""
        self.small_files += len(items)
        if self.workers is None and self.store is not None and self.small_files > PROCESS_AFTER:
            try:
                self.workers = Workers(self.store)
            except (PachaError, OSError):
                self.small_files = -(1 << 62)  # processes cannot start here: threads do it all
        if self.workers is None:
            return self.pool.submit(self._prepare_group, items)
        return self.workers.submit(
            [
                SmallFile(i.path, i.listed, i.old.id, i.old.size)
                if i.old is not None and i.old.mode != MODE_TREE
                else SmallFile(i.path, i.listed, None, 0)
                for i in items
            ]
        )

    def _prepare_group(self, items: list[_Item]) -> list[Prepared | OSError | FileChanged]:
        """Runs on a worker: each file's bytes and id, encoded too if it is not stored yet
        (a Prepared without header: only hashed, or the same as in the base tree)."""
        probe = CompressionProbe()  # one per group: what is compressed does not depend on timing
        out: list[Prepared | OSError | FileChanged] = []
        store = self.store
        for item in items:
            try:
                data = read_small(item.path, item.listed)
            except (OSError, FileChanged) as exc:
                out.append(exc)
                continue
            if store is None:
                out.append(Prepared(hash_bytes(data), BLOB, data, None, None))
            elif item.old is not None and item.old.size == len(data) and hash_bytes(data) == item.old.id:
                out.append(Prepared(item.old.id, BLOB, data, None, None))  # unchanged since the base
            else:
                out.append(prepare_probed(store, data, probe))
        return out

    def _list(self, directory: Path, base: dict[str, TreeEntry] | None, prefix: str) -> list[_Item]:
        """The entries of directory that the tree holds (prefix: its path from the root, with '/')."""
        try:
            scanned = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise InvalidInput(f"cannot read directory {directory}: {exc.strerror}") from None
        items = []
        for entry in scanned:
            name = entry.name
            problem = name_problem(name)
            if problem is not None:
                raise InvalidInput(f"cannot store {entry.path!s}: {problem}; rename it")
            try:
                info = entry.stat()  # follows symbolic links, as the tree does
            except OSError as exc:
                raise InvalidInput(f"cannot read {entry.path}: {exc.strerror}") from None
            is_dir = stat.S_ISDIR(info.st_mode)
            if self.ignore.excludes(prefix + name, is_dir) or (is_dir and self.ignore.skips(info)):
                continue  # left out by .pachaignore or --exclude, or the registry itself
            if not (is_dir or stat.S_ISREG(info.st_mode)):
                raise InvalidInput(
                    f"{entry.path} is not a regular file or directory; remove it or move it out"
                )
            items.append(
                _Item(
                    name,
                    entry.path,
                    info.st_mode,
                    info.st_size,
                    base.get(name) if base else None,
                    snapshot_identity(info),
                )
            )
        return items

    def write_dir(self, directory: Path, base: dict[str, TreeEntry] | None, prefix: str) -> tuple[str, int]:
        """(id, total bytes) of the tree of directory, whose path from the root is prefix."""
        st = directory.stat()
        key = (st.st_dev, st.st_ino)
        if key in self.active:
            raise InvalidInput(f"{directory} is a symbolic-link loop; remove the link and retry")
        self.active.add(key)
        items = self._list(directory, base, prefix)
        window = _Window(self, items)
        entries = []
        for i, item in enumerate(items):
            old = item.old
            if stat.S_ISDIR(item.mode):
                sub_base = _base_entries(self.store, old.id) if old and old.mode == MODE_TREE else None
                sub_id, size = self.write_dir(Path(item.path), sub_base, f"{prefix}{item.name}/")
                entries.append(TreeEntry(item.name, MODE_TREE, sub_id, size))
                continue
            mode = MODE_EXEC if item.mode & 0o111 else MODE_FILE
            try:
                blob_id, size = self._write_file(window, i, item)
            except OSError as exc:
                if in_registry(exc):
                    raise  # the registry refused (read-only, disk full): not the input's fault
                raise InvalidInput(f"cannot read or store {item.path}: {exc.strerror}") from None
            entries.append(TreeEntry(item.name, mode, blob_id, size))
        self.active.discard(key)
        tree = make_tree(entries)
        data = encode(tree)
        if self.store is None:
            return hash_bytes(data), tree.size
        # make_tree checked the entries: no need to parse the tree back to validate it
        return self.store.put_prepared(self.store.prepare(data, TREE)), tree.size

    def _write_file(self, window: _Window, i: int, item: _Item) -> tuple[str, int]:
        """(id, bytes read) of the file at position i of its folder, stored (or only hashed)."""
        old_blob = item.old.id if item.old and item.old.mode != MODE_TREE else None
        done = window.take(i)
        if done is None:  # a large file, read here
            return self._put_file(item, old_blob)
        if isinstance(done, str):  # a worker process read exactly the listed size, or said it changed
            if self.progress is not None:
                self.progress(item.size)
            return done, item.size
        return self._store_prepared(done, old_blob, item), len(done.data)

    def _store_prepared(self, prepared: Prepared, base: str | None, item: _Item) -> str:
        """Store what a thread read (the very bytes it hashed: the file is not read again)."""
        if self.progress is not None:
            self.progress(len(prepared.data))
        if self.store is None:
            return prepared.id
        if prepared.header is None:  # the same as in the base tree: stored already, unless it is gone
            return self.store.put_prepared(prepared)
        return self.store.put_prepared(prepared, base)

    def _put_file(self, item: _Item, base: str | None) -> tuple[str, int]:
        """(id, bytes read) of a large file, stored or only hashed; the file must still be
        the one listed."""
        if self.store is None:
            object_id, size = hash_file_sized(item.path, item.listed)
            if self.progress is not None:
                self.progress(size)
            return object_id, size
        with open(item.path, "rb") as f:
            return ingest_file_sized(self.store, f, base=base, progress=self.progress, listed=item.listed)


class _Window:
    """The small files of one folder in flight: groups handed to threads or worker processes
    (_TreeWriter._submit) at most WINDOW ahead of the file being stored, and their results."""

    def __init__(self, writer: _TreeWriter, items: list[_Item]) -> None:
        self.writer = writer
        self.items = items
        self.groups = iter(_groups(items))
        self.pending: deque[tuple[list[int], Future[list[Prepared | OSError | FileChanged]] | int]] = deque()
        self.ready: dict[int, Prepared | str | OSError | FileChanged] = {}
        self.fill()

    def fill(self) -> None:
        while len(self.pending) < WINDOW and (group := next(self.groups, None)) is not None:
            self.pending.append((group, self.writer._submit([self.items[i] for i in group])))

    def take(self, i: int) -> Prepared | str | None:
        """What was done for file i: prepared on a thread (Prepared), stored by a worker process
        (its id), or None for a file in no group; raises what reading it raised."""
        if i not in self.ready and self.pending and self.pending[0][0][0] == i:
            group, future = self.pending.popleft()
            if isinstance(future, int):
                workers = self.writer.workers
                if workers is None:  # a ticket comes only from worker processes
                    raise RuntimeError("a worker ticket without worker processes")
                self.ready.update(zip(group, workers.result(future), strict=True))
            else:
                self.ready.update(zip(group, future.result(), strict=True))
            self.fill()
        if i not in self.ready:
            return None
        done = self.ready.pop(i)
        if isinstance(done, OSError | FileChanged):
            raise done
        return done
