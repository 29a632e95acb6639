"""Reading a file as one snapshot: what is recorded is what was read, or the file is refused.

A file registered while something writes it (a checkpoint still being saved, a
log that grows, an editor saving in place) must never be stored as a mix of old
and new bytes, nor recorded with a size it no longer has. Every reader of a
file to store or hash compares the file's identity (device, inode, size,
modification and change times) as it was listed or opened with its identity
once every byte was read, and the number of bytes read with the size: any
difference raises FileChanged. Sizes recorded in trees and version records are
the counts of bytes read, never a stat taken at another moment.

A file is read through mmap only once it has been unchanged for a while
(settled); a file being written is read into private
copies, since a mapping cannot survive the file shrinking under it. As with
b3sum, truncating a file that had been unchanged for seconds at the very moment
it is read through its mapping is not supported (the process gets SIGBUS; the
registry is left as it was).

Modification times have the filesystem's clock granularity: a write landing in
the same clock tick as the write before it, with the same size, does not move
them. Such a write while a file is read is the one change this cannot see.
"""

from __future__ import annotations

import os
import stat
import time

from pacha import blocks
from pacha.errors import InvalidInput
from pacha.hashing import hash_stream, new_hasher
from pacha.store.optional import attempt

Identity = tuple[int, int, int, int, int]
SETTLED_NS = 2_000_000_000  # a file unchanged for this long shows any later write in its times


class FileChanged(InvalidInput):
    """A file changed (size, contents or inode) between being listed or opened and fully read."""


def changed(path: object) -> FileChanged:
    """The error for path, worded for the user."""
    return FileChanged(f"{path} changed while it was being stored; store it again when it is complete")


def identity(info: os.stat_result) -> Identity:
    """What changes whenever a file's bytes change (or it is replaced)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def check_unchanged(path: object, fd: int, before: Identity, read: int) -> None:
    """Raise FileChanged unless fd's file still has identity before and read is its size."""
    after = identity(os.fstat(fd))
    if after != before or read != after[2]:
        raise changed(path)


def read_small(path: str, listed: Identity | None = None) -> bytes:
    """A small file's bytes, read whole, in as few system calls as possible.

    listed is the file's identity when it was listed (None: as it is when opened).
    Raises FileChanged if the file is not, from then until the last byte is read,
    the same file of the same size; OSError if it cannot be read.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        if listed is None:
            listed = identity(os.fstat(fd))
        size = listed[2]
        data = os.read(fd, size + 1)  # one byte more: a file that grew shows it here
        while len(data) <= size and (more := os.read(fd, size + 1 - len(data))):
            data += more
        check_unchanged(path, fd, listed, len(data))
    finally:
        os.close(fd)
    return data


def settled(info: os.stat_result) -> bool:
    """True if a write to the file from now on would change its mtime or ctime.

    File times have a coarse clock: a file written in the last tick could be
    written again without its times moving, so it is not read in place.
    """
    return time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) > SETTLED_NS


def hash_file(path: str) -> str:
    """The blob id of a file, hashed through mmap on every core (a regular file is refused
    with FileChanged if it changes while it is hashed); other files are read as streams."""
    with open(path, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return hash_stream(f)
    return hash_file_sized(path)[0]


def hash_file_sized(path: str | os.PathLike[str], listed: Identity | None = None) -> tuple[str, int]:
    """(blob id, size) of a regular file, hashed through mmap on every core.

    Raises FileChanged if the file changed since listed (or since it was opened)
    before every byte was hashed.
    """
    with open(path, "rb") as f:
        fd = f.fileno()
        info = os.fstat(fd)
        before = identity(info)
        if listed is not None and before != listed:
            raise changed(path)
        hasher = new_hasher()
        window = 4 * blocks.BLOCK  # larger updates keep every core busy in blake3
        # mapped in place only once settled (a file being written may shrink, which a
        # mapping cannot survive), and only if mmap works here (an address-space limit)
        mapped = None
        if settled(info):
            mapped = attempt("hashing the file in place (mmap)", lambda: blocks.MappedFile(f))
        if mapped is None:
            size = 0
            for block in blocks.read_blocks(f, window, 2):  # through the module: tests replace it
                hasher.update(block)
                size += len(block)
        else:
            with mapped:
                for offset, view in mapped.blocks(window):
                    hasher.update(view)
                    view.release()
                    mapped.release(offset, window)
                size = mapped.size
        check_unchanged(path, fd, before, size)
        return str(hasher.hexdigest()), size
