"""Directory artifacts: storing a folder as tree objects and restoring it.

Symbolic links are followed (a Hugging Face cache snapshot is a folder of links
into its blob store; the artifact is what they point at). Executable files keep
their executable bit; other metadata (owners, times) is not part of an artifact.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pacha.errors import InvalidInput, ObjectNotFound
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
from pacha.store.tmpfile import sync_filesystem

if TYPE_CHECKING:
    from pacha.store import ObjectStore, Prepared

SMALL_FILE = 1 << 20  # files up to this size are prepared on worker threads
WINDOW = 64  # at most this many prepared files wait in memory
PREPARE_THREADS = 2


def write_tree(store: ObjectStore | None, directory: str | os.PathLike[str]) -> str:
    """Store every file under directory; return the id of its tree.

    With store=None nothing is written: the id is computed only (what the tree
    would be named), e.g. to compare a folder with a registered version.
    """
    return write_tree_sized(store, directory)[0]


def write_tree_sized(
    store: ObjectStore | None,
    directory: str | os.PathLike[str],
    base: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """As write_tree, also returning the total bytes of every file in the tree.

    Everything new goes into one pack (one fsync, however many files), and small
    files are read, hashed and compressed on worker threads. base names an
    earlier version's tree: a file whose path it has may be stored as a delta
    against the file there.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a directory")
    writer = _TreeWriter(store, progress)
    try:
        if store is None:
            return writer.write_dir(root, None)
        with store.batch():
            return writer.write_dir(root, _base_entries(store, base))
    finally:
        writer.close()


def _base_entries(store: ObjectStore | None, tree_id: str | None) -> dict[str, TreeEntry] | None:
    """The entries of a base tree by name (None when there is no usable base)."""
    if store is None or tree_id is None:
        return None
    try:
        return {e.name: e for e in read_tree(store, tree_id).entries}
    except (InvalidInput, ObjectNotFound):
        return None  # not a tree, or not here: store without deltas


class _Item(NamedTuple):
    name: str
    path: Path
    info: os.stat_result
    old: TreeEntry | None  # the entry of that name in the base tree


class _TreeWriter:
    """Stores a folder: files of up to SMALL_FILE bytes are prepared WINDOW at a time on
    worker threads (reading, BLAKE3 and zstd release the GIL), then stored in order."""

    def __init__(self, store: ObjectStore | None, progress: Callable[[int], None] | None) -> None:
        self.store = store
        self.progress = progress
        self.active: set[tuple[int, int]] = set()
        self.pool = ThreadPoolExecutor(PREPARE_THREADS, thread_name_prefix="pacha-tree")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _prepare(self, path: Path) -> Prepared | str:
        """Read a small file and hash (and, to store it, encode) it; runs on a worker."""
        with open(path, "rb") as f:
            data = f.read()
        if self.store is None:
            from pacha.ids import hash_bytes

            return hash_bytes(data)
        return self.store.prepare(data)

    def _list(self, directory: Path, base: dict[str, TreeEntry] | None) -> list[_Item]:
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise InvalidInput(f"cannot read directory {directory}: {exc.strerror}") from None
        items = []
        for name in names:
            path = directory / name
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInput(f"file name {path!s} is not valid UTF-8; rename it") from None
            try:
                info = path.stat()
            except OSError as exc:
                raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
            if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                raise InvalidInput(f"{path} is not a regular file or directory; remove it or move it out")
            items.append(_Item(name, path, info, base.get(name) if base else None))
        return items

    def write_dir(self, directory: Path, base: dict[str, TreeEntry] | None) -> tuple[str, int]:
        st = directory.stat()
        key = (st.st_dev, st.st_ino)
        if key in self.active:
            raise InvalidInput(f"{directory} is a symbolic-link loop; remove the link and retry")
        self.active.add(key)
        items = self._list(directory, base)
        small = iter(
            i
            for i, item in enumerate(items)
            if stat.S_ISREG(item.info.st_mode) and item.info.st_size <= SMALL_FILE
        )
        pending: dict[int, Future[Prepared | str]] = {}

        def fill() -> None:
            while len(pending) < WINDOW and (i := next(small, None)) is not None:
                pending[i] = self.pool.submit(self._prepare, items[i].path)

        fill()
        entries = []
        for i, item in enumerate(items):
            old = item.old
            if stat.S_ISDIR(item.info.st_mode):
                sub_base = _base_entries(self.store, old.id) if old and old.mode == MODE_TREE else None
                sub_id, size = self.write_dir(item.path, sub_base)
                entries.append(TreeEntry(item.name, MODE_TREE, sub_id, size))
                continue
            mode = MODE_EXEC if item.info.st_mode & 0o111 else MODE_FILE
            old_blob = old.id if old and old.mode != MODE_TREE else None
            try:
                if i in pending:
                    prepared = pending.pop(i).result()
                    fill()
                    blob_id = self._store_prepared(prepared, old_blob, item.info.st_size)
                else:
                    blob_id = self._put_file(item.path, old_blob)
            except OSError as exc:
                raise InvalidInput(f"cannot read or store {item.path}: {exc.strerror}") from None
            entries.append(TreeEntry(item.name, mode, blob_id, item.info.st_size))
        self.active.discard(key)
        tree = make_tree(entries)
        data = encode(tree)
        if self.store is None:
            from pacha.ids import hash_bytes

            return hash_bytes(data), tree.size
        return self.store.put_bytes(data, TREE), tree.size

    def _store_prepared(self, prepared: Prepared | str, base: str | None, size: int) -> str:
        if self.progress is not None:
            self.progress(size)
        if isinstance(prepared, str):
            return prepared  # only hashed
        assert self.store is not None
        return self.store.put_prepared(prepared, base)

    def _put_file(self, path: Path, base: str | None) -> str:
        if self.store is not None:
            return self.store.put_file(path, base=base, progress=self.progress)
        from pacha.blocks import hash_file

        object_id = hash_file(str(path))
        if self.progress is not None:
            self.progress(path.stat().st_size)
        return object_id


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
    """
    dest = Path(dest)
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InvalidInput(f"{dest} already exists; pass --force to replace it")
    if dest.is_dir() and not dest.is_symlink():
        _refuse_precious(dest)

    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"cannot write {dest}: directory {parent} does not exist")
    tmp = parent / f".{dest.name}.pacha-{os.urandom(6).hex()}"
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
        if dest.is_dir() and not dest.is_symlink():
            # swap: the old directory goes aside, the new one in, then the old one away
            old = parent / f".{dest.name}.pacha-old-{os.urandom(6).hex()}"
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


def _checkout_blob(store: ObjectStore, blob_id: str, path: Path, mode: str) -> None:
    with store.open(blob_id) as reader, open(path, "xb") as out:
        reader.copy_to(out)
    if mode == MODE_EXEC:
        os.chmod(path, 0o755)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checkout_tree(store: ObjectStore, tree_id: str, path: Path) -> None:
    path.mkdir()
    for entry in read_tree(store, tree_id).entries:
        if entry.mode == MODE_TREE:
            _checkout_tree(store, entry.id, path / entry.name)
        else:
            _checkout_blob(store, entry.id, path / entry.name, entry.mode)
