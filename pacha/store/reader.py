"""Reading objects back: every byte handed out is hashed, and the id checked at the end.

Also the shapes readers share: a stored body is read through a Stream (a file, a
pack range, bytes in memory), decoded by a BodySource, and a body that names other
objects (a delta's base, a chunk list's chunks) reads them from an ObjectSource.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import IO, TYPE_CHECKING, NamedTuple, Protocol, Self

from pacha.codec import Header
from pacha.crypto.errors import KeyringError, Locked
from pacha.errors import CorruptObject
from pacha.hashing import HASH_BLOCK, new_hasher

if TYPE_CHECKING:
    from concurrent.futures import Future


class Stream(Protocol):
    """The stored body of one object, read from where it lies (file, pack range, memory)."""

    def read(self, n: int = -1, /) -> bytes: ...

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class BodySource(Protocol):
    """A body being decoded: fills buffers with the object's bytes, 0 at the end."""

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...


class ObjectSource(Protocol):
    """What a body that names other objects reads them from (the ObjectStore, or the
    pack being indexed)."""

    def read(self, object_id: str) -> bytes: ...

    def open(self, object_id: str) -> ObjectReader: ...

    def open_stored(self, object_id: str) -> tuple[Header, Stream]: ...


def verified(object_id: str, size: int, data: bytes) -> bytes:
    """data, if it is what the object's header and id say (else CorruptObject)."""
    if len(data) != size:
        raise CorruptObject(f"object {object_id} is corrupt: body has {len(data)} bytes, header says {size}")
    actual = new_hasher(size).update(data).hexdigest()
    if actual != object_id:
        raise CorruptObject(f"object {object_id} is corrupt: content hashes to {actual}")
    return data


class ObjectInfo(NamedTuple):
    """What is known about a stored object without decoding its body."""

    id: str
    kind: str
    size: int
    encoding: int


class ViewReader:
    """A read-only file-like object over bytes already in memory (a pack's mmap, an entry)."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n is None or n < 0 else min(len(self._view), self._pos + n)
        data = self._view[self._pos : end].tobytes()
        self._pos = end
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        memoryview(buffer)[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._view = memoryview(b"")

    def __enter__(self) -> ViewReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_all(out: IO[bytes], data: bytes | bytearray | memoryview) -> None:
    """Write every byte of data: an unbuffered file may take fewer at a time."""
    view = memoryview(data)
    while view:
        written = out.write(view)
        view = view[len(view) if written is None else written :]


class ObjectReader:
    """A verified stream over one object's bytes.

    Reading to the end checks the size and the BLAKE3 id; a mismatch raises
    CorruptObject naming the object, so damaged bytes are never passed off as good.
    """

    def __init__(self, object_id: str, kind: str, size: int, source: BodySource, raw: Stream) -> None:
        self.id = object_id
        self.kind = kind
        self.size = size
        self._source = source
        self._raw = raw
        self._hasher = new_hasher(size)
        self._seen = 0
        self._done = False

    def _corrupt(self, why: str) -> CorruptObject:
        return CorruptObject(f"object {self.id} is corrupt: {why}")

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill buffer with the next bytes; 0 at the (verified) end."""
        if self._done:
            return 0
        view = memoryview(buffer)
        n = self._fill(view)
        if n:
            self._hasher.update(view[:n])
            return n
        self._finish()
        return 0

    def _fill(self, view: memoryview) -> int:
        """The next bytes from the body, counted but not hashed yet; 0 at its end."""
        try:
            n: int = self._source.readinto(view)
        except (CorruptObject, Locked, KeyringError):  # damage, or keys not at hand: as they are
            raise
        except Exception as exc:  # zstd errors, I/O errors on a damaged file
            raise self._corrupt(f"cannot decode body ({exc})") from None
        self._seen += n
        if self._seen > self.size:
            raise self._corrupt(f"body longer than the {self.size} bytes in its header")
        return n

    def _finish(self) -> None:
        self._done = True
        if self._seen != self.size:
            raise self._corrupt(f"body has {self._seen} bytes, header says {self.size}")
        actual = self._hasher.hexdigest()
        if actual != self.id:
            diagnose = getattr(self._source, "diagnose", None)
            if diagnose is not None:  # a chunked blob: name the damaged chunk
                try:
                    diagnose()
                except CorruptObject as exc:
                    raise self._corrupt(f"content hashes to {actual}; {exc}") from None
            raise self._corrupt(f"content hashes to {actual}")

    def chunks(self, block: int = HASH_BLOCK) -> Iterator[memoryview]:
        """Yield the body in blocks; the view is reused, copy it to keep it."""
        buf = bytearray(max(1, min(block, self.size + 1)))  # +1: the read that finds the end
        view = memoryview(buf)
        while n := self.readinto(view):
            yield view[:n]

    def read(self) -> bytes:
        """The whole body (verified); meant for small objects."""
        out = bytearray()
        for block in self.chunks(min(max(self.size, 1), HASH_BLOCK)):
            out += block
        return bytes(out)

    def _blocks_hashed_behind(self) -> Iterator[memoryview]:
        """As chunks(), for a whole pass over a large object: the hash runs on a helper
        thread one block behind (two buffers), so that reading, decoding and writing a
        block overlap with hashing the one before."""
        if self.size <= HASH_BLOCK or self._done:
            yield from self.chunks()
            return
        from concurrent.futures import ThreadPoolExecutor  # (stdlib) not at start-up: few reads get here

        buffers = [memoryview(bytearray(HASH_BLOCK)) for _ in range(2)]
        hashing: list[Future[object] | None] = [None, None]
        with ThreadPoolExecutor(1, thread_name_prefix="pacha-verify") as pool:
            i = 0
            while True:
                pending = hashing[i]
                if pending is not None:
                    pending.result()  # that buffer is free again
                n = self._fill(buffers[i])
                if not n:
                    break
                block = buffers[i][:n]
                hashing[i] = pool.submit(self._hasher.update, block)
                yield block
                i ^= 1
            for future in hashing:
                if future is not None:
                    future.result()
        self._finish()

    def copy_to(self, out: IO[bytes]) -> int:
        """Write the whole body to out; raises CorruptObject after the last block if bad."""
        total = 0
        for block in self._blocks_hashed_behind():
            write_all(out, block)
            total += len(block)
        return total

    def verify(self) -> None:
        """Read the whole body, checking size and id."""
        for _ in self._blocks_hashed_behind():
            pass

    def close(self) -> None:
        close = getattr(self._source, "close", None)  # a decoder may hold buffers or files
        if self._source is not self._raw and close is not None:
            close()
        self._raw.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
