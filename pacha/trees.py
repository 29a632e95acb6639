"""Directory artifacts: storing a folder as tree objects and restoring it.

Symbolic links are followed (a Hugging Face cache snapshot is a folder of links
into its blob store; the artifact is what they point at). Executable files keep
their executable bit; other metadata (owners, times) is not part of an artifact.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pacha.errors import InvalidInput, PachaError
from pacha.ignore import IgnoreRules
from pacha.objects import (
    BLOB,
    MODE_EXEC,
    MODE_FILE,
    MODE_TREE,
    TREE,
    TreeEntry,
    decode_tree,
    encode,
    make_tree,
)
from pacha.pathnames import case_collisions, check_destination, check_name, folds_case, name_problem
from pacha.store.snapshot import FileChanged, Identity, hash_file_sized, read_small
from pacha.store.snapshot import identity as snapshot_identity
from pacha.store.tmpfile import sync_filesystem

if TYPE_CHECKING:
    from pacha.store import ObjectStore
    from pacha.store import PreparedObject as Prepared
    from pacha.store.workers import Workers

SMALL_FILE = 1 << 20  # files up to this size are prepared on worker threads
GROUP = 256  # files a worker task prepares, at most
GROUP_BYTES = 8 << 20  # and at most this many bytes
WINDOW = 4  # tasks in flight: at most WINDOW * (GROUP_BYTES + SMALL_FILE) bytes wait in memory
PREPARE_THREADS = 2
# Past this many small files, worker processes store them (threads would serialise on
# the GIL; starting the processes costs about what threads take for this many files).
PROCESS_AFTER = 2000
CHECKOUT_THREADS = 2  # file creation is kernel time, which a second thread overlaps
CHECKOUT_GROUP = 256  # files per checkout task


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
            from pacha.errors import PachaError
            from pacha.store.workers import Workers

            try:
                self.workers = Workers(self.store)
            except (PachaError, OSError):
                self.small_files = -(1 << 62)  # processes cannot start here: threads do it all
        if self.workers is None:
            return self.pool.submit(self._prepare_group, items)
        from pacha.store.workers import SmallFile

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
        from pacha.hashing import hash_bytes
        from pacha.store import PreparedObject as Prepared
        from pacha.store.ingest import CompressionProbe, prepare_probed

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
        st = directory.stat()
        key = (st.st_dev, st.st_ino)
        if key in self.active:
            raise InvalidInput(f"{directory} is a symbolic-link loop; remove the link and retry")
        self.active.add(key)
        items = self._list(directory, base, prefix)
        groups = iter(_groups(items))
        pending: deque[tuple[list[int], Future[list[Prepared | OSError | FileChanged]] | int]] = deque()
        ready: dict[int, Prepared | str | OSError | FileChanged] = {}
        stored: set[int] = set()  # files a worker process has stored already

        def fill() -> None:
            while len(pending) < WINDOW and (group := next(groups, None)) is not None:
                pending.append((group, self._submit([items[i] for i in group])))

        fill()
        entries = []
        for i, item in enumerate(items):
            old = item.old
            if stat.S_ISDIR(item.mode):
                sub_base = _base_entries(self.store, old.id) if old and old.mode == MODE_TREE else None
                sub_id, size = self.write_dir(Path(item.path), sub_base, f"{prefix}{item.name}/")
                entries.append(TreeEntry(item.name, MODE_TREE, sub_id, size))
                continue
            mode = MODE_EXEC if item.mode & 0o111 else MODE_FILE
            old_blob = old.id if old and old.mode != MODE_TREE else None
            try:
                if i not in ready and pending and pending[0][0][0] == i:
                    group, future = pending.popleft()
                    if isinstance(future, int):
                        assert self.workers is not None
                        ready.update(zip(group, self.workers.result(future), strict=True))
                        stored.update(group)
                    else:
                        ready.update(zip(group, future.result(), strict=True))
                    fill()
                if i in ready:
                    prepared = ready.pop(i)
                    if isinstance(prepared, OSError | FileChanged):
                        raise prepared
                    if i in stored:
                        # a worker process read exactly the listed size, or said the file changed
                        stored.discard(i)
                        if self.progress is not None:
                            self.progress(item.size)
                        blob_id, size = prepared, item.size  # type: ignore[assignment]
                    else:
                        assert not isinstance(prepared, str)
                        blob_id, size = self._store_prepared(prepared, old_blob, item), len(prepared.data)
                else:
                    blob_id, size = self._put_file(item, old_blob)
            except OSError as exc:
                from pacha.registry import in_registry

                if in_registry(exc):
                    raise  # the registry refused (read-only, disk full): not the input's fault
                raise InvalidInput(f"cannot read or store {item.path}: {exc.strerror}") from None
            entries.append(TreeEntry(item.name, mode, blob_id, size))
        self.active.discard(key)
        tree = make_tree(entries)
        data = encode(tree)
        if self.store is None:
            from pacha.hashing import hash_bytes

            return hash_bytes(data), tree.size
        # make_tree checked the entries: no need to parse the tree back to validate it
        return self.store.put_prepared(self.store.prepare(data, TREE)), tree.size

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
        from pacha.store.ingest import ingest_file_sized

        with open(item.path, "rb") as f:
            return ingest_file_sized(self.store, f, base=base, progress=self.progress, listed=item.listed)


def read_tree(store: ObjectStore, tree_id: str):
    """The tree object tree_id, verified and parsed."""
    with store.open(tree_id) as reader:
        if reader.kind != TREE:
            raise InvalidInput(f"object {tree_id} is a {reader.kind}, not a tree")
        return decode_tree(reader.read())


def checkout(store: ObjectStore, object_id: str, dest: str | os.PathLike[str], force: bool = False) -> None:
    """Write a blob to a file or a tree to a directory at dest, verified and atomic.

    Everything is written next to dest under a temporary name and renamed into
    place only once every byte has been verified, so a failure leaves dest as it was.
    The temporary name, `.NAME.pacha-PID-START-RANDOM`, says which process wrote it:
    a checkout to dest first removes what killed checkouts to it left beside it.
    """
    dest = Path(dest)
    check_destination(dest)  # a FIFO, socket or device node is never replaced, even with --force
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InvalidInput(f"{dest} already exists; pass --force to replace it")
    if dest.is_dir() and not dest.is_symlink():
        _refuse_precious(dest)

    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"cannot write {dest}: directory {parent} does not exist")
    from pacha.crash import crash_point
    from pacha.leftovers import checkout_temp_name, clear_dead_siblings

    clear_dead_siblings(dest)  # what killed checkouts to dest left (never a live writer's)
    tmp = checkout_temp_name(parent / dest.name)
    try:
        kind = store.stat(object_id).kind
        if kind == BLOB:
            _checkout_blob(store, object_id, tmp, MODE_FILE)
            _fsync_path(tmp)
        elif kind == TREE:
            _checkout_tree(store, object_id, tmp)
            sync_filesystem(tmp)  # one flush for every file, before the rename makes them visible
        else:
            raise InvalidInput(f"object {object_id} is a {kind}; only blobs and trees are files")
        crash_point("checkout-before-rename")  # leaves .NAME.pacha-… beside dest (pacha.leftovers)
        if dest.is_dir() and not dest.is_symlink():
            # swap: the old directory goes aside, the new one in, then the old one away
            old = checkout_temp_name(parent / f"{dest.name}")
            old = old.with_name(old.name.replace(".pacha-", ".pacha-old-", 1))
            os.rename(dest, old)
            try:
                os.rename(tmp, dest)
            except BaseException:
                os.rename(old, dest)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            if dest.exists() or dest.is_symlink():
                dest.unlink()
            os.rename(tmp, dest)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def _refuse_precious(directory: Path) -> None:
    """Never replace a directory holding the current one, the home directory or the root."""
    target = directory.resolve()
    here = Path.cwd().resolve()
    if target == here or target in here.parents or target == Path.home().resolve() or target == Path("/"):
        raise InvalidInput(
            f"refusing to replace {directory}: it is (or holds) the current, home or root directory; "
            "give a new path"
        )


def _checkout_blob(store: ObjectStore, blob_id: str, path: Path, mode: str, size: int | None = None) -> None:
    """Write one file, created new (never through an existing name), verified.

    A small file (its size known from the tree) is read and verified whole, then
    written in one call; a large one is streamed.
    """
    from pacha.store import WHOLE_OBJECT_READ as WHOLE_READ
    from pacha.store.reader import write_all
    from pacha.store.tmpfile import WritebackFile

    data = store.read(blob_id) if size is not None and size <= WHOLE_READ else None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if mode == MODE_EXEC else 0o666)
    with open(fd, "wb", buffering=0) as out:
        if data is not None:
            write_all(out, data)
            return
        with store.open(blob_id) as reader:
            reader.copy_to(WritebackFile(out) if reader.size > WHOLE_READ else out)


def _checkout_files(store: ObjectStore, jobs: list[tuple[str, Path, str, int]]) -> None:
    for blob_id, path, mode, size in jobs:
        _checkout_blob(store, blob_id, path, mode, size)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checkout_tree(store: ObjectStore, tree_id: str, path: Path) -> None:
    """Make the folders here, then write the files on worker threads.

    Creating a file is mostly kernel time, which threads overlap (one thread
    spends as long creating 100,000 small files as decoding them).
    """
    jobs: list[tuple[str, Path, str, int]] = []
    _plan_tree(store, tree_id, path, jobs, _CaseProbe(path))
    with ThreadPoolExecutor(CHECKOUT_THREADS) as pool:
        tasks = [
            pool.submit(_checkout_files, store, jobs[i : i + CHECKOUT_GROUP])
            for i in range(0, len(jobs), CHECKOUT_GROUP)
        ]
        try:
            for task in tasks:
                task.result()
        except BaseException:
            for task in tasks:
                task.cancel()
            raise


class _CaseProbe:
    """Whether the checkout's file system folds case, probed once and only if a tree needs it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folds: bool | None = None

    def refuse_collisions(self, tree_id: str, names: list[str], where: Path) -> None:
        clashes = case_collisions(names)
        if not clashes:
            return
        if self.folds is None:
            self.folds = folds_case(self.root)
        if self.folds:
            first, second = clashes[0]
            raise InvalidInput(
                f"tree {tree_id} holds {first!r} and {second!r} in {where}, which this file system "
                "cannot tell apart (it ignores case); check it out on a case-sensitive file system"
            )


def _plan_tree(
    store: ObjectStore, tree_id: str, path: Path, jobs: list[tuple[str, Path, str, int]], probe: _CaseProbe
) -> None:
    path.mkdir()
    entries = read_tree(store, tree_id).entries  # parsing checked every name (pacha.pathnames)
    probe.refuse_collisions(tree_id, [e.name for e in entries], path)
    for entry in entries:
        target = path / check_name(entry.name, "tree entry name")  # again, where it is used
        if entry.mode == MODE_TREE:
            _plan_tree(store, entry.id, target, jobs, probe)
        else:
            jobs.append((entry.id, target, entry.mode, entry.size))
