"""Optional optimisations of a write, and their fallback to plain storage.

Compression, deltas (of files, folder entries and chunks), reading a file in
place through mmap and worker processes only make a write smaller or faster:
none of them may make it fail. Each is run through `attempt`, which turns any
failure (a library's error such as zstd refusing a prefix under 8 bytes, a base
object that cannot be read, mmap refused under an address-space limit) into
"no optimisation": the caller then stores the bytes plainly. The plain write
itself (temp file, pack append, fsync, rename) is never run under `attempt`, so
a full disk or a read-only store is still reported as the error it is.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# zstd frame layout (RFC 8878, section 3.1.1): magic, a frame header descriptor, the
# content size, then blocks of at most 128 KiB, each with a 3-byte header.
_ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)
_SINGLE_SEGMENT_U64_SIZE = bytes((0xE0,))  # content size in 8 bytes, one segment, no checksum
_MAX_BLOCK = 128 << 10


def attempt(what: str, optimisation: Callable[[], T]) -> T | None:
    """optimisation(), or None if it failed in any way (the caller then stores plainly).

    what names the optimisation for PACHA_DEBUG=1, which reports each fallback on
    stderr. KeyboardInterrupt and SystemExit are never swallowed. Raises nothing else.
    """
    try:
        return optimisation()
    except Exception as exc:  # any failure of an optimisation only costs the optimisation
        if os.environ.get("PACHA_DEBUG"):
            sys.stderr.write(f"pacha: {what} skipped ({type(exc).__name__}: {exc}); stored plainly\n")
        return None


def raw_zstd_frame(data: bytes | bytearray | memoryview) -> bytes:
    """One valid zstd frame that holds data uncompressed (raw blocks, RFC 8878 3.1.1.2).

    Used where a body is a sequence of zstd frames and compressing one block
    failed: the block is still a frame every zstd decoder reads.
    """
    view = memoryview(data)
    parts = [_ZSTD_MAGIC, _SINGLE_SEGMENT_U64_SIZE, struct.pack("<Q", len(view))]
    if not len(view):
        parts.append((1).to_bytes(3, "little"))  # one empty raw block, marked last
    for offset in range(0, len(view), _MAX_BLOCK):
        block = view[offset : offset + _MAX_BLOCK]
        last = offset + _MAX_BLOCK >= len(view)
        parts.append(((len(block) << 3) | last).to_bytes(3, "little"))
        parts.append(bytes(block))
    return b"".join(parts)
