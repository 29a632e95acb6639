"""The object store: one interface over every place objects live.

Today objects are loose files; packs (and remotes) will plug in as further
sources behind the same has/stat/open/iter_ids calls, so nothing above cares
where an object is kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pacha.errors import AmbiguousId, InvalidInput, ObjectNotFound
from pacha.ids import MIN_PREFIX_LEN, check_id, is_hex
from pacha.store.loose import LooseStore
from pacha.store.reader import ObjectInfo, ObjectReader

if TYPE_CHECKING:
    from pacha.store.ingest import ObjectWriter

__all__ = ["ObjectInfo", "ObjectReader", "ObjectStore"]


class ObjectStore:
    """Put, find and read objects by id."""

    def __init__(self, objects_dir: Path, tmp_dir: Path, level: Callable[[], int] | int = 3) -> None:
        self.loose = LooseStore(objects_dir, tmp_dir, level)

    # --- reading -----------------------------------------------------------------
    def has(self, object_id: str) -> bool:
        return self.loose.has(object_id)

    def stat(self, object_id: str) -> ObjectInfo:
        """Kind and size from the header alone (no decompression)."""
        return self.loose.stat(object_id)

    def open(self, object_id: str) -> ObjectReader:
        """A verifying stream over the object's bytes."""
        return self.loose.open(check_id(object_id))

    def read(self, object_id: str) -> bytes:
        """The whole object, verified; for small objects."""
        with self.open(object_id) as reader:
            return reader.read()

    def iter_ids(self) -> Iterator[str]:
        return self.loose.iter_ids()

    def find_prefix(self, prefix: str) -> str:
        """The one id starting with prefix (at least 4 hex characters)."""
        if len(prefix) < MIN_PREFIX_LEN or not is_hex(prefix):
            raise InvalidInput(
                f"{prefix!r} is not an id prefix: give at least {MIN_PREFIX_LEN} hex characters"
            )
        prefix = prefix.lower()
        matches = self.loose.ids_with_prefix(prefix)
        if not matches:
            raise ObjectNotFound(f"no object id starts with {prefix}")
        if len(matches) > 1:
            shown = ", ".join(m[:16] for m in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise AmbiguousId(f"id prefix {prefix} is ambiguous: matches {shown}{more}; give more characters")
        return matches[0]

    # --- writing -----------------------------------------------------------------
    def writer(self, kind: str = "blob") -> ObjectWriter:
        """A streaming writer; call write() repeatedly, then commit() for the id."""
        return self.loose.writer(kind)

    def put_bytes(self, data: bytes, kind: str = "blob") -> str:
        """Store a small object held in memory; trees and records must be well formed."""
        if kind != "blob":
            from pacha.objects import validate

            validate(kind, data)
        return self.loose.put_bytes(kind, data)

    def put_stream(self, stream: IO[bytes], kind: str = "blob") -> str:
        """Store everything read from stream, in bounded memory."""
        return self.loose.put_stream(kind, stream)

    def put_file(self, path: str | os.PathLike[str], kind: str = "blob") -> str:
        """Store a file's bytes, streaming; memory stays bounded whatever its size."""
        import stat

        from pacha.store.ingest import ingest_file

        with open(path, "rb") as f:
            if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return ingest_file(self.loose, f, kind)
            return self.put_stream(f, kind)
