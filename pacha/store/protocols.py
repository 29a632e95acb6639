"""What the write path needs of the object store, so its modules need not import it.

pacha.store.objectstore.ObjectStore provides Store; ingest, chunk writing and the
checks of stored copies are typed against it, which keeps the store's modules free
of import cycles (the store imports them, never the other way round).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol

from pacha.crypto.unlock import RegistryKeys
from pacha.store.chunked import ChunkRef
from pacha.store.loose import LooseStore
from pacha.store.pack_writer import PackWriter
from pacha.store.packset import PackSet
from pacha.store.reader import ObjectInfo, ObjectSource


class PreparedObject(NamedTuple):
    """A small object hashed and encoded, ready to store (ObjectStore.prepare)."""

    id: str
    kind: str
    data: bytes
    header: bytes | None  # None: not encoded, since the object looked stored already
    body: bytes | None


class Store(ObjectSource, Protocol):
    """The object store as the write path and the copy checks see it."""

    loose: LooseStore
    packs: PackSet
    keys: RegistryKeys  # an encrypted registry's keys (pacha.crypto.unlock)

    def seal_parts(
        self, object_id: str, parts: tuple[bytes | bytearray | memoryview, ...]
    ) -> tuple[bytes | bytearray | memoryview, ...]: ...

    def stat(self, object_id: str) -> ObjectInfo: ...

    def present(self, object_id: str, kind: str | None = None, size: int | None = None) -> str: ...

    def repair(self, object_id: str, header: bytes, body: bytes, batch: PackWriter | None = None) -> None: ...

    def chunk_list(self, object_id: str) -> list[ChunkRef] | None: ...

    def delta_depth(self, object_id: str) -> int: ...

    def batch(self) -> AbstractContextManager[PackWriter]: ...

    def prepare(self, data: bytes, kind: str = "blob", compress: bool = True) -> PreparedObject: ...

    def put_prepared(self, prepared: PreparedObject, base: str | None = None) -> str: ...

    def put_bytes(self, data: bytes, kind: str = "blob") -> str: ...
