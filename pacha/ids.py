"""Object ids: BLAKE3 digests written as 64 lowercase hex characters."""

from __future__ import annotations

import re
from typing import Any

from pacha.errors import InvalidInput

ID_LEN = 64
MIN_PREFIX_LEN = 4
ZERO_ID = "0" * ID_LEN
HEX_DIGITS = frozenset("0123456789abcdef")

# Blocks this large keep blake3's multi-threaded update near full speed while
# bounding memory; see ../shared/MEASUREMENTS.md.
HASH_BLOCK = 8 << 20


_HEX = re.compile(r"[0-9a-fA-F]+")


def is_hex(text: str) -> bool:
    """True when text is non-empty and only lowercase or uppercase hex digits."""
    return _HEX.fullmatch(text) is not None


def is_full_id(text: str) -> bool:
    """True when text is a complete object id (any case)."""
    return len(text) == ID_LEN and is_hex(text)


def check_id(text: str, what: str = "object id") -> str:
    """Return text as a canonical (lowercase) full id or raise InvalidInput."""
    if not is_full_id(text):
        raise InvalidInput(f"{what} {text!r} is not a valid id: expected {ID_LEN} hex characters")
    return text.lower()


# Below this many bytes, starting threads costs more than it saves.
THREADED_HASH_MIN = 1 << 20


def new_hasher(size: int | None = None) -> Any:
    """A BLAKE3 hasher; it uses every core unless size says the input is small."""
    import blake3

    if size is not None and size < THREADED_HASH_MIN:
        return blake3.blake3()
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


def hash_bytes(data: bytes | memoryview) -> str:
    """The id of a blob with exactly these bytes (equal to `b3sum`)."""
    hasher = new_hasher(len(data))
    hasher.update(data)
    return hasher.hexdigest()


def hash_stream(stream: Any) -> str:
    """The blob id of everything read from a binary stream, in bounded memory."""
    from pacha.blocks import read_blocks

    hasher = new_hasher()
    for block in read_blocks(stream):
        hasher.update(block)
    return hasher.hexdigest()
