"""Chunked blobs, the read side: the chunk list and reading a blob back from its chunks.

A blob larger than CHUNK_THRESHOLD is cut with FastCDC (pyfastcdc) into chunks
of AVG_CHUNK bytes on average; each chunk is a blob of its own, and the file is
stored under its whole-file BLAKE3 id as a chunk list (encoding 3: 40 bytes a
chunk, id and size; docs/format.md, "Chunked blobs"). A second version that differs in a few places shares
every unchanged chunk, so it costs only what changed. Readers see one blob:
reading streams the chunks and verifies the whole (which proves every chunk).

Writing one (cutting, hashing, packing): pacha.store.chunk_writer.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from collections.abc import Callable
from typing import NamedTuple

from pacha import codec
from pacha.crypto.stage import Keys, open_chunk_into
from pacha.errors import CorruptObject
from pacha.store.reader import BodySource, ObjectSource, Stream

_ENTRY = struct.Struct("<32sQ")  # raw chunk id, size
CHUNK_ENTRY = _ENTRY.size
# A reader reads runs of chunks stored whole back to back in a pack with one preadv
# (two buffers a chunk: header and body; IOV_MAX is 1024 on Linux).
RUN_MIN = 2
RUN_MAX = 500


def _map_range(fd: int, start: int, size: int) -> mmap.mmap | None:
    """Bytes [start, start + size) of a pack file mapped read-only and already faulted in
    (MAP_POPULATE: page-table entries for pages in the page cache, one system call), or
    None where that cannot be had: mmap refused, or a range past the file's end (a pack cut
    short: Python's mmap refuses it, as it must: touching it would kill the process with
    SIGBUS; the regular path then reports the damage). Packs never change once installed.
    Decrypting from the mapping reads the page cache in place: a pread into a buffer cost
    a copy of every byte more (0.13 s of CPU per GiB, about what AES-GCM itself costs)."""
    skip = start % mmap.ALLOCATIONGRANULARITY
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    try:
        return mmap.mmap(fd, skip + size, flags=flags, prot=mmap.PROT_READ, offset=start - skip)
    except (OSError, ValueError, OverflowError):
        return None


class ChunkRef(NamedTuple):
    """One chunk of a chunked blob: its blob id and size in bytes."""

    id: str
    size: int


# How a chunk's stored body is decoded (pacha.store.encodings.body_source, passed in by
# it: the chunk list is one of the encodings it knows).
Decode = Callable[[codec.Header, Stream, ObjectSource], BodySource]


def encode_chunk_list(chunks: list[ChunkRef]) -> bytes:
    """The body of a chunk list (CHUNK_ENTRY bytes a chunk)."""
    return b"".join(_ENTRY.pack(bytes.fromhex(c.id), c.size) for c in chunks)


def decode_chunk_list(body: bytes) -> list[ChunkRef]:
    """The chunks a chunk list's body names (CorruptObject if it is not whole entries)."""
    if len(body) % _ENTRY.size:
        raise CorruptObject(f"chunk list of {len(body)} bytes is not a whole number of entries")
    return [ChunkRef(raw.hex(), size) for raw, size in _ENTRY.iter_unpack(body)]


class ChunkedSource:
    """The bytes of a chunked blob, chunk after chunk.

    Chunks are decoded without hashing each one: the reader hashes the whole
    blob, which proves every byte (one pass over the data instead of two). When
    the whole does not match, diagnose() finds the damaged chunk to name it.
    """

    def __init__(self, body: bytes, objects: ObjectSource, decode: Decode) -> None:
        self.chunks = decode_chunk_list(body)
        self._objects = objects
        self._decode = decode
        self._next = 0
        self._current: BodySource | None = None  # the decoded stream of the chunk being read
        self._raw: Stream | None = None  # its stored bytes, closed after it
        self._left = 0  # bytes of the current chunk not read yet
        self._scratch = bytearray()  # sealed runs are read here, reused from run to run

    def _open(self, chunk: ChunkRef) -> None:
        header, raw = self._objects.open_stored(chunk.id)
        if header.kind != "blob" or header.size != chunk.size:
            raw.close()
            raise CorruptObject(
                f"chunk {chunk.id} is a {header.kind} of {header.size} bytes, "
                f"the chunk list says a blob of {chunk.size}"
            )
        if header.encoding == codec.CHUNKS:  # not written by Pacha, but readable: verify it alone
            raw.close()
            self._current, self._raw = self._objects.open(chunk.id), None
        else:
            self._current = self._decode(header, raw, self._objects)
            self._raw = raw
        self._left = chunk.size

    def _close_current(self) -> None:
        if self._raw is not None and self._raw is not self._current:
            self._raw.close()
        close = getattr(self._current, "close", None)  # every decoder but a bare BodySource
        if close is not None:
            close()
        self._current = self._raw = None

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill as much of buffer as the remaining chunks allow (large reads hash faster)."""
        view = memoryview(buffer)
        filled = 0
        while filled < len(view):
            if self._current is None:
                if self._next >= len(self.chunks):
                    break
                run = self._read_run(view[filled:]) or self._read_sealed_run(view[filled:])
                if run:
                    filled += run
                    continue
                self._open(self.chunks[self._next])
            assert self._current is not None
            n = self._current.readinto(view[filled : filled + self._left]) if self._left else 0
            if n:
                filled += n
                self._left -= n
            elif self._left:
                chunk = self.chunks[self._next]
                raise CorruptObject(f"chunk {chunk.id} ends {self._left} bytes short of its {chunk.size}")
            if not self._left:
                self._close_current()
                self._next += 1
        return filled

    def _packed_run(
        self, view: memoryview, whole: Callable[[ChunkRef, int], bool]
    ) -> tuple[int, int, list[tuple[ChunkRef, int]]]:
        """The next chunks whose pack entries lie back to back in one pack file and that fit in
        view, each accepted by whole(chunk, entry length): (fd, start offset, [(chunk, entry
        length)]); an empty list when the store has no packed entries to offer."""
        packed_entry = getattr(self._objects, "packed_entry", None)
        run: list[tuple[ChunkRef, int]] = []
        if packed_entry is None:
            return -1, 0, run
        filled = start = end = 0
        fd = -1
        for chunk in self.chunks[self._next : self._next + RUN_MAX]:
            if filled + chunk.size > len(view):
                break
            where = packed_entry(chunk.id)
            if where is None or not whole(chunk, where[2]):
                break
            if fd < 0:
                fd, start, end = where[0], where[1], where[1]
            elif where[0] != fd or where[1] != end:
                break
            end += where[2]
            run.append((chunk, where[2]))
            filled += chunk.size
        return fd, start, run

    def _read_run(self, view: memoryview) -> int:
        """Read the next chunks straight into view with one preadv, if at least RUN_MIN of
        them are stored whole (identity) back to back in one pack and fit; returns the
        bytes read (0: the regular path reads the next chunk). Each entry's header is read
        too and must be exactly what such a chunk's header is; where one is not, the run
        stops there and the regular path reads (and overwrites) from that chunk on."""

        def identity(chunk: ChunkRef, length: int) -> bool:
            return length == len(codec.pack_header("blob", chunk.size, codec.IDENTITY)) + chunk.size

        fd, start, run = self._packed_run(view, identity)
        if len(run) < RUN_MIN:
            return 0
        buffers: list[bytearray | memoryview] = []
        headers: list[tuple[bytearray, bytes, int]] = []  # (read, expected, chunk size)
        filled = 0
        for chunk, length in run:
            read = bytearray(length - chunk.size)
            buffers += (read, view[filled : filled + chunk.size])
            headers.append((read, codec.pack_header("blob", chunk.size, codec.IDENTITY), chunk.size))
            filled += chunk.size
        if os.preadv(fd, buffers, start) != sum(length for _, length in run):
            return 0  # a short read: the regular path says what is wrong
        done = 0
        for read, expected, size in headers:
            if read != expected:
                break
            done += size
            self._next += 1
        return done

    def _read_sealed_run(self, view: memoryview) -> int:
        """As _read_run, for chunks sealed by an encrypted registry: the entries of a run
        lying back to back in one pack are mapped (or, where mmap is refused, read with one
        pread), then each is decrypted straight into view (pacha.crypto.stage.open_chunk_into);
        the run stops at the first that is not a whole sealed identity chunk, which the
        regular path reads."""
        keys = getattr(self._objects, "keys", None)
        if keys is None or not keys.encrypted:
            return 0
        fd, start, run = self._packed_run(view, lambda chunk, length: True)
        if len(run) < RUN_MIN:
            return 0
        size = sum(length for _, length in run)
        mapped = _map_range(fd, start, size)
        try:
            if mapped is not None:
                with memoryview(mapped) as whole:
                    return self._open_run(keys, run, whole[start % mmap.ALLOCATIONGRANULARITY :], view)
            if len(self._scratch) < size:
                self._scratch = bytearray(size)
            stored = memoryview(self._scratch)[:size]
            if os.preadv(fd, [stored], start) != len(stored):
                return 0  # a short read: the regular path says what is wrong
            return self._open_run(keys, run, stored, view)
        finally:
            if mapped is not None:
                # still exported if an exception's traceback holds a view of it: then the
                # mapping goes when that does
                with contextlib.suppress(BufferError):
                    mapped.close()

    def _open_run(
        self, keys: Keys, run: list[tuple[ChunkRef, int]], stored: memoryview, view: memoryview
    ) -> int:
        """Decrypt the run's chunks, whose entries are stored back to back, into view, up to the
        first that is not a whole sealed identity chunk; returns the bytes written."""
        done = at = 0
        for chunk, length in run:
            out = view[done : done + chunk.size]
            if not open_chunk_into(keys, chunk.id, chunk.size, stored[at : at + length], out):
                break
            at += length
            done += chunk.size
            self._next += 1
        return done

    def diagnose(self) -> None:
        """Verify every chunk on its own: raises CorruptObject naming the first damaged one."""
        for chunk in self.chunks:
            with self._objects.open(chunk.id) as reader:
                reader.verify()

    def close(self) -> None:
        self._close_current()
