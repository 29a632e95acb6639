"""BLAKE3 hashing: object ids (hex) and the raw digests that pack files carry.

An object's id is the BLAKE3 of its bytes written as 64 lowercase hex characters
(what `b3sum` prints; pacha.ids checks their syntax). Pack and index files end with
raw 32-byte BLAKE3 digests (docs/format.md). blake3 is imported on first use.
"""

from __future__ import annotations

from typing import IO, Any

from pacha import blocks

# Blocks this large keep blake3's multi-threaded update near full speed while
# bounding memory; see ../shared/MEASUREMENTS.md.
HASH_BLOCK = 8 << 20
# Below this many bytes, starting threads costs more than it saves.
THREADED_HASH_MIN = 1 << 20


def new_hasher(size: int | None = None) -> Any:
    """A BLAKE3 hasher; it uses every core unless size says the input is small."""
    import blake3

    if size is not None and size < THREADED_HASH_MIN:
        return blake3.blake3()
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The id of a blob with exactly these bytes (equal to `b3sum`)."""
    hasher = new_hasher(len(data))
    hasher.update(data)
    return str(hasher.hexdigest())


def hash_stream(stream: IO[bytes]) -> str:
    """The blob id of everything read from a binary stream, in bounded memory."""
    hasher = new_hasher()
    for block in blocks.read_blocks(stream):  # looked up here: tests replace it
        hasher.update(block)
    return str(hasher.hexdigest())


def digest(data: bytes | memoryview) -> bytes:
    """The raw 32-byte BLAKE3 digest of data (pack ids and index checksums), one thread."""
    import blake3

    return bytes(blake3.blake3(data).digest())
