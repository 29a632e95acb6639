"""Restoring stored files: a blob to a file or a tree to a folder (checkout), and reading trees.

Everything is written next to the destination under a temporary name and renamed into
place once every byte has been verified; executable files get their executable bit back.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, cast

from pacha.crash import crash_point
from pacha.errors import InvalidInput
from pacha.leftovers import checkout_temp_name, clear_dead_siblings
from pacha.objects import BLOB, MODE_EXEC, MODE_FILE, MODE_TREE, TREE, Tree, decode_tree
from pacha.pathnames import case_collisions, check_destination, check_name, folds_case, not_a_directory
from pacha.store import WHOLE_OBJECT_READ as WHOLE_READ
from pacha.store import ObjectStore
from pacha.store.reader import write_all
from pacha.store.tmpfile import WritebackFile, sync_filesystem

CHECKOUT_THREADS = 2  # file creation is kernel time, which a second thread overlaps
CHECKOUT_GROUP = 256  # files per checkout task


def read_tree(store: ObjectStore, tree_id: str) -> Tree:
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
    _checkout(store, object_id, Path(dest), force)  # dest is the user's: their umask (pacha.perms)


def _checkout(store: ObjectStore, object_id: str, dest: Path, force: bool) -> None:
    check_destination(dest)  # a FIFO, socket or device node is never replaced, even with --force
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InvalidInput(f"{dest} already exists; pass --force to replace it")
    if dest.is_dir() and not dest.is_symlink():
        _refuse_precious(dest)

    parent = dest.parent if str(dest.parent) else Path(".")
    blocker = not_a_directory(dest)
    if blocker is not None:
        raise InvalidInput(f"cannot write {dest}: {blocker}")
    if not parent.is_dir():
        raise InvalidInput(f"cannot write {dest}: directory {parent} does not exist")
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
    data = store.read(blob_id) if size is not None and size <= WHOLE_READ else None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if mode == MODE_EXEC else 0o666)
    with open(fd, "wb", buffering=0) as out:
        if data is not None:
            write_all(out, data)
            return
        with store.open(blob_id) as reader:
            # copy_to only writes: a WritebackFile (pages written back as it goes) serves as the file
            target = cast(IO[bytes], WritebackFile(out)) if reader.size > WHOLE_READ else out
            reader.copy_to(target)


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
