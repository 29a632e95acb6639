"""The ref database's data file, read before LMDB maps it (see docs/format.md, "Refs").

A truncated data file would read as empty, or kill the process with SIGBUS when a
page past its end is touched; so before the file is mapped, its length is checked
against the last page its newest meta page names.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from pacha.errors import RefDatabaseError

DATA_FILE = "data.mdb"
LOCK_FILE = "lock.mdb"
META_MAGIC = 0xBEEFC0DE
META_VERSION = 1
RECOVER_HINT = "restore refs/ from a backup, or rebuild it with `pacha fsck --recover-refs`"


def meta_page(page: bytes) -> tuple[int, int, int] | None:
    """(page size, last page number, txn id) from one LMDB meta page, or None if it is not one.

    Layout of LMDB 0.9 on a 64-bit host (mdb.c, MDB_page + MDB_meta): a 16-byte page
    header, then magic u32, version u32, address u64, map size u64, two MDB_db records of
    48 bytes (the free DB's md_pad holds the page size), last page u64, txn id u64.
    """
    if len(page) < 152:
        return None
    magic, version = struct.unpack_from("<II", page, 16)
    if magic != META_MAGIC or version != META_VERSION:
        return None
    (psize,) = struct.unpack_from("<I", page, 40)
    last_pgno, txnid = struct.unpack_from("<QQ", page, 136)
    if psize < 512 or psize & (psize - 1):
        return None
    return psize, last_pgno, txnid


def data_in_use(data: Path) -> int:
    """Bytes the newest committed state of an LMDB data file needs; raises RefDatabaseError
    when the file is shorter than that (truncated) or is not an LMDB file at all.

    FileNotFoundError passes through (no database yet).
    """
    with open(data, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        first = f.read(4096)
        meta0 = meta_page(first)
        psize = meta0[0] if meta0 else 4096
        f.seek(psize)
        meta1 = meta_page(f.read(psize))
    metas = [m for m in (meta0, meta1) if m is not None]
    if not metas:
        if first[16:20] == struct.pack("<I", META_MAGIC):
            (version,) = struct.unpack_from("<I", first, 20)
            if version != META_VERSION:
                raise RefDatabaseError(
                    f"the ref database {data} has LMDB format {version}, this Pacha reads format "
                    f"{META_VERSION}: use the Pacha (LMDB) that wrote it"
                )
            raise RefDatabaseError(f"the ref database {data} is truncated: {size} bytes; {RECOVER_HINT}")
        if size == 0:
            raise RefDatabaseError(
                f"the ref database {data} is empty (0 bytes) although it should hold the registry's refs; "
                f"{RECOVER_HINT}"
            )
        raise RefDatabaseError(f"{data} is not an LMDB database (no valid meta page); {RECOVER_HINT}")
    psize, last_pgno, _ = max(metas, key=lambda m: m[2])  # LMDB uses the meta with the larger txn id
    needed = (last_pgno + 1) * psize
    if size < needed:
        raise RefDatabaseError(
            f"the ref database {data} is truncated: {size} bytes, its last committed page needs {needed}; "
            f"{RECOVER_HINT}"
        )
    return needed
