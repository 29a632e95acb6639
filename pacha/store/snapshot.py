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

A file's times also move without its bytes changing: chmod, a hard link, an
extended attribute or security label, a rename, a program saving the same bytes
again, `touch`. Refusing those would be a false "changed while it was being
stored". So when only the times moved while the file was read (same device,
inode and size, every byte read), it is read again while it holds still and
accepted if those bytes are the ones read (confirm_hash, confirm_bytes): what is
recorded is then the file as it is now. (Facts read from it before, such as a
card's, must be read again by their reader: see porcelain.versions.register.)
Between listing and opening, nothing was read to compare with: any move there
is refused. A write that changed the bytes (even with its modification
time put back, as rsync -t does) is still refused, and the refusal says what
moved: the size (a writer still appending), the bytes, or the file itself.
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
    """A file changed (size, contents or inode) between being listed or opened and fully read.

    after is its identity when that was seen (None: unknown or gone); times_only is True
    when only its times moved, every byte having been read: its bytes may be the same.
    """

    def __init__(self, message: str, after: Identity | None = None, times_only: bool = False) -> None:
        super().__init__(message)
        self.after = after
        self.times_only = times_only
        self.read_bytes: bytes | None = None  # a small file's bytes as read (read_small)
        self.hashed: str | None = None  # a file's blob id as hashed (hash_file_sized)


def changed(
    path: object,
    before: Identity | None = None,
    after: Identity | None = None,
    read: int | None = None,
    when: str = "while it was read",
) -> FileChanged:
    """The error for path, worded for the user: what moved between before and after (identities),
    read being the number of bytes read (None: none yet), when the window it moved in."""
    detail, times_only = _what_moved(before, after, read, when)
    text = f"{path} changed while it was being stored{detail}; store it again when it is complete"
    return FileChanged(text, after, times_only and read is not None)


def _what_moved(
    before: Identity | None, after: Identity | None, read: int | None, when: str
) -> tuple[str, bool]:
    if before is None or after is None:
        return "", False
    if before[:2] != after[:2]:
        return f" (it was replaced by another file {when})", False
    if before[2] != after[2]:
        verb = "grew" if after[2] > before[2] else "shrank"
        return f" (it {verb} from {before[2]:,} to {after[2]:,} bytes {when}: its writer was not done)", False
    if read is not None and read != after[2]:
        return f" ({read:,} bytes could be read of its {after[2]:,}: it was cut and written again)", False
    return f" (it was written to {when}: its modification time moved and its bytes differ)", True


def identity(info: os.stat_result) -> Identity:
    """What changes whenever a file's bytes change (or it is replaced)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def check_unchanged(path: object, fd: int, before: Identity, read: int) -> None:
    """Raise FileChanged unless fd's file still has identity before and read is its size."""
    after = identity(os.fstat(fd))
    if after != before or read != after[2]:
        raise changed(path, before, after, read)


def check_listed(path: object, listed: Identity | None, opened: Identity) -> Identity:
    """The identity the bytes read from an opened file must keep: opened, which must be listed
    if given (else FileChanged: what was listed, and read from since, is not what is read)."""
    if listed is not None and opened != listed:
        raise changed(path, listed, opened, when="after it was listed")
    return opened


def confirm_hash(error: FileChanged, path: str | os.PathLike[str], blob_id: str) -> None:
    """Accept a file whose times alone moved while it was read if, read again while it holds
    still, its blob id is blob_id (the bytes read); else raise error, or FileChanged saying
    that it kept changing. OSError if it can no longer be read."""
    if not error.times_only or not isinstance(path, str | os.PathLike):  # a name to open again
        raise error
    try:
        again, _size = _hash_once(path, error.after)
    except FileChanged:
        raise _kept_changing(path) from None
    if again != blob_id:
        raise error


def confirm_bytes(error: FileChanged, path: str, data: bytes) -> None:
    """confirm_hash for a small file whose bytes are in hand."""
    if not error.times_only:
        raise error
    try:
        again = _read_once(path, error.after)
    except FileChanged:
        raise _kept_changing(path) from None
    if again != data:
        raise error


def _kept_changing(path: object) -> FileChanged:
    return FileChanged(
        f"{path} changed while it was being stored (it was still changing when it was read again: "
        "its writer was not done); store it again when it is complete"
    )


def read_small(path: str, listed: Identity | None = None) -> bytes:
    """A small file's bytes, read whole, in as few system calls as possible.

    listed is the file's identity when it was listed (None: as it is when opened).
    Raises FileChanged if the file is not, from then until the last byte is read,
    the same file of the same size (its times alone moving is let through if its
    bytes read again are the same: confirm_bytes); OSError if it cannot be read.
    """
    try:
        return _read_once(path, listed)
    except FileChanged as moved:
        data = moved.read_bytes
        if data is None:
            raise
        confirm_bytes(moved, path, data)
        return data


def _read_once(path: str, listed: Identity | None) -> bytes:
    """read_small without a second look: any move raises FileChanged (with the bytes read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        before = check_listed(path, listed, identity(os.fstat(fd)))
        size = before[2]
        data = os.read(fd, size + 1)  # one byte more: a file that grew shows it here
        while len(data) <= size and (more := os.read(fd, size + 1 - len(data))):
            data += more
        try:
            check_unchanged(path, fd, before, len(data))
        except FileChanged as moved:
            moved.read_bytes = data
            raise
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
    before every byte was hashed (its times alone moving is let through if its
    bytes hashed again are the same: confirm_hash).
    """
    try:
        return _hash_once(path, listed)
    except FileChanged as moved:
        if moved.hashed is None:
            raise
        confirm_hash(moved, path, moved.hashed)
        return moved.hashed, moved.after[2] if moved.after else 0


def _hash_once(path: str | os.PathLike[str], listed: Identity | None) -> tuple[str, int]:
    """hash_file_sized without a second look: any move raises FileChanged (with the id hashed)."""
    with open(path, "rb") as f:
        fd = f.fileno()
        info = os.fstat(fd)
        before = check_listed(path, listed, identity(info))
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
        blob_id = str(hasher.hexdigest())
        try:
            check_unchanged(path, fd, before, size)
        except FileChanged as moved:
            moved.hashed = blob_id
            raise
        return blob_id, size
