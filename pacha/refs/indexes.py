"""Derived indices and maps kept beside the refs (reverse lineage, run summaries, metrics).

- An index, table ``index:<name>``, maps a key to a sorted set of values (LMDB dupsort).
- A map, table ``map:<name>``, holds one value per key, of any size.

Higher layers change them inside ref transactions (RefTransaction.index_add / index_remove /
map_set), so they move with the refs they describe; they hold nothing that cannot be rebuilt
from objects and refs (`pacha reindex`). Reads run in one read transaction each and return
their results whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby, takewhile
from typing import Literal

from pacha.refs.env import RefEnv
from pacha.refs.tables import Db, Txn, index_table, map_table, prefix_items


@dataclass(frozen=True, slots=True)
class IndexOp:
    """One change of a derived index or map, applied with the ref changes of a transaction."""

    kind: Literal["add", "remove", "set"]  # add/remove a value of an index key; set a map key
    name: str  # the index's or the map's name
    key: bytes
    value: bytes


def map_db(env: RefEnv, txn: Txn, name: str) -> Db:
    """A map's database in a write transaction (created if missing)."""
    return env.table(map_table(name), txn)


def index_db(env: RefEnv, txn: Txn, name: str) -> Db:
    """An index's database in a write transaction (created if missing)."""
    return env.table(index_table(name), txn, dupsort=True)


def apply_ops(env: RefEnv, txn: Txn, ops: Iterable[IndexOp]) -> None:
    """Apply ops, in order, in the write transaction txn."""
    for op in ops:
        if op.kind == "set":
            txn.put(op.key, op.value, db=map_db(env, txn, op.name))
        elif op.kind == "add":
            txn.put(op.key, op.value, db=index_db(env, txn, op.name), dupdata=True)
        else:
            txn.delete(op.key, op.value, db=index_db(env, txn, op.name))


def index_values(env: RefEnv, index: str, key: bytes) -> list[bytes]:
    """The values of key in an index, in value order (empty if it has none)."""
    with env.read(index_table(index), dupsort=True) as (txn, db):
        return [value for _, value in takewhile(lambda kv: kv[0] == key, prefix_items(txn, db, key))]


def index_scan(env: RefEnv, index: str, prefix: bytes) -> list[tuple[bytes, list[bytes]]]:
    """(key, values) for every key of an index starting with prefix, in key order."""
    with env.read(index_table(index), dupsort=True) as (txn, db):
        return [
            (key, [value for _, value in group])
            for key, group in groupby(prefix_items(txn, db, prefix), key=lambda kv: kv[0])
        ]


def index_rebuild(env: RefEnv, index: str, pairs: Iterable[tuple[bytes, bytes]]) -> int:
    """Replace an index's whole content in one transaction; returns the entry count."""
    todo = list(pairs)  # the transaction may run again if the map has to grow

    def rebuild(txn: Txn) -> int:
        db = index_db(env, txn, index)
        txn.drop(db, delete=False)
        for key, value in todo:
            txn.put(key, value, db=db, dupdata=True)
        return len(todo)

    return env.write(rebuild, "rebuilding an index")


def map_get(env: RefEnv, name: str, key: bytes) -> bytes | None:
    """The value of key in a map, or None."""
    with env.read(map_table(name)) as (txn, db):
        return txn.get(key, db=db) if db is not None else None


def map_scan(env: RefEnv, name: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
    """(key, value) for every key of a map starting with prefix, in key order."""
    with env.read(map_table(name)) as (txn, db):
        return list(prefix_items(txn, db, prefix))
