"""A store whose readers fetch what is stored nowhere: the objects a lazy registry was promised.

open() and read() of an id that is neither loose nor packed call fetch_missing(id) once (a
lazy registry's default remote: pacha.transport.promisor) and read again if it says the
object arrived. stat(), has() and the write path never fetch: gc, fsck and closure walks ask
whether an object is here, and must not download the registry to find out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pacha.errors import ObjectNotFound
from pacha.store.objectstore import ObjectStore
from pacha.store.reader import ObjectReader


class PromisedStore(ObjectStore):
    """An ObjectStore with fetch_missing(id) -> bool (True: it is here now) for its readers."""

    def __init__(
        self, objects_dir: Path, tmp_dir: Path, level: Callable[[], int] | int, fetch: Callable[[str], bool]
    ) -> None:
        super().__init__(objects_dir, tmp_dir, level)
        self.fetch_missing = fetch

    def open(self, object_id: str) -> ObjectReader:
        try:
            return super().open(object_id)
        except ObjectNotFound:
            if self.has(object_id) or not self.fetch_missing(object_id):
                raise  # here (what is missing is something it needs), or nothing to fetch from
        return super().open(object_id)

    def read(self, object_id: str) -> bytes:
        try:
            return super().read(object_id)
        except ObjectNotFound:
            if self.has(object_id) or not self.fetch_missing(object_id):
                raise
        return super().read(object_id)
