"""The ref table's digest: how `pacha fsck` and `pacha gc` notice refs changed outside Pacha.

Every write transaction keeps, in ``map:integrity`` under key ``refs``, the number of refs
(u64 BE) and the sum modulo 2**256 (32 bytes BE) of BLAKE3("pacha-ref\\0" + name + "\\0" +
id) over every ref: an order-independent multiset hash, updated from the changes alone. A
ref changed, added or removed by anything but Pacha (a one-bit flip on disk, a tool writing
LMDB directly) no longer matches it.
"""

from __future__ import annotations

from collections.abc import Iterable

from blake3 import blake3

from pacha.ids import ZERO_ID
from pacha.refs.env import RefEnv
from pacha.refs.lmdb_file import RECOVER_HINT
from pacha.refs.names import ref_name_problem
from pacha.refs.reflog import ReflogEntry
from pacha.refs.tables import REFS, Db, Txn, map_table, prefix_items

DIGEST_MAP = "integrity"
DIGEST_KEY = b"refs"
_MOD = 1 << 256


def entry_hash(name: bytes, raw_id: bytes) -> int:
    """One ref's term of the sum: BLAKE3 of name and raw id, as a 256-bit integer."""
    return int.from_bytes(blake3(b"pacha-ref\0" + name + b"\0" + raw_id).digest(), "big")


def _encode(count: int, total: int) -> bytes:
    return count.to_bytes(8, "big") + (total % _MOD).to_bytes(32, "big")


def _decode(raw: bytes) -> tuple[int, int]:
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:40], "big")


def table_digest(txn: Txn, refs_db: Db | None) -> tuple[int, int, list[str]]:
    """(count, sum, problems) over every entry of the ref table, read in txn."""
    count = total = 0
    problems: list[str] = []
    for key, value in prefix_items(txn, refs_db):
        count += 1
        total += entry_hash(key, value)
        try:
            name = key.decode("utf-8")
            why = ref_name_problem(name)
        except UnicodeDecodeError:
            name, why = repr(key), "not UTF-8"
        if why:
            problems.append(f"malformed ref name {name}: {why}")
        if len(value) != 32:
            problems.append(f"ref {name} holds {len(value)} bytes, not a 32-byte id")
    return count, total % _MOD, problems


def update_digest(txn: Txn, digest_db: Db, refs_db: Db, entries: Iterable[ReflogEntry]) -> None:
    """Bring the digest up to date with entries, inside the write transaction that made them."""
    raw = txn.get(DIGEST_KEY, db=digest_db)
    if raw is None:  # the first write since the digest exists: the table as it is now
        count, total, _ = table_digest(txn, refs_db)
    else:
        count, total = _decode(raw)
        for entry in entries:
            key = entry.name.encode("utf-8")
            if entry.old != ZERO_ID:
                count -= 1
                total -= entry_hash(key, bytes.fromhex(entry.old))
            if entry.new != ZERO_ID:
                count += 1
                total += entry_hash(key, bytes.fromhex(entry.new))
    txn.put(DIGEST_KEY, _encode(count, total), db=digest_db)


def digest_problems(env: RefEnv) -> list[str]:
    """Problems of the ref table: entries that are not refs, and a digest that does not match
    (refs changed outside Pacha). Read in one snapshot; empty when all is well."""
    with env.read_tables((REFS, map_table(DIGEST_MAP))) as (txn, (refs_db, digest_db)):
        recorded = txn.get(DIGEST_KEY, db=digest_db) if digest_db is not None else None
        count, total, problems = table_digest(txn, refs_db)
    if recorded is not None and _decode(recorded) != (count, total):
        was, _ = _decode(recorded)
        problems.append(
            f"the ref table does not match its digest ({count} refs, {was} when Pacha last wrote it): "
            f"refs were changed outside Pacha or damaged; {RECOVER_HINT}"
        )
    return problems
