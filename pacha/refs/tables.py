"""The named tables (LMDB databases) of the ref database, and the one way they are scanned.

Tables (docs/format.md, "Refs"):
- ``refs``: ref name (UTF-8) -> 32-byte raw object id;
- ``reflog``: ref name + 0x00 + u64 BE sequence -> canonical JSON entry (pacha.refs.reflog);
- ``map:<name>``: one value per key (the reflog's clock, its expiry, the ref table's digest,
  and the derived maps of pacha.refs.indexes);
- ``index:<name>``: a key -> a sorted set of values (LMDB dupsort; pacha.refs.indexes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

import lmdb

Txn: TypeAlias = "lmdb.Transaction[bytes]"
Db: TypeAlias = "lmdb._Database"

REFS = b"refs"
REFLOG = b"reflog"


def map_table(name: str) -> bytes:
    """The table name of the map called name."""
    return ("map:" + name).encode()


def index_table(name: str) -> bytes:
    """The table name of the derived index called name."""
    return f"index:{name}".encode()


def prefix_items(txn: Txn, db: Db | None, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of every entry whose key starts with prefix, in key order (each value of a
    dupsort table in turn, in value order); nothing for a table that does not exist (None).

    Valid while txn is open: callers collect what they need before it ends."""
    if db is None:
        return
    cursor = txn.cursor(db=db)
    if not cursor.set_range(prefix):
        return
    for key, value in cursor:
        if not key.startswith(prefix):
            break
        yield key, value
