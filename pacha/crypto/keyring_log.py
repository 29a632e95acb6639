"""What a registry remembers about keyrings: the audit trail of its changes, and for each
encrypted remote the keyring it last saw there (the base of three-way merges).

- `<registry>/keyring.log`: one canonical JSON line per change of this registry's keyring or
  of a remote's (docs/format.md, "Keyring audit trail"), appended with O_APPEND and fsynced;
  `pacha key log` prints it. A line: {"when_ns", "op" (init, add, remove, rotate,
  rotate-data, adopt, fetch, push), "where" ("" here, else the remote's URL), "by" (who ran
  it here), "author" (who made the incoming change, from the keyring), "generation",
  "added", "removed", "rewrapped" (slot names)}.
- `<registry>/keyring-remotes/<16 hex>`: the bytes of the keyring last seen on (or written
  to) the remote whose URL hashes to that name (BLAKE3, 8 bytes), replaced atomically.
- `<registry>/keyring-remotes/removed`: one line per key slot this registry's keyring held and
  dropped (`key remove`, the old wrapping of a `key rotate`, a removal merged in): the hex BLAKE3
  of the slot's canonical JSON. A slot is never made again with the same bytes (a fresh salt
  and nonces each time), so one found on a remote is an old copy: the merge treats it as
  removed here, even from a remote this registry never synced with (no base).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pacha import perms
from pacha.crypto.errors import KeyringError
from pacha.crypto.keyring import Slot, write_atomic

LOG_NAME = "keyring.log"
BASES_DIR = "keyring-remotes"
REMOVED_NAME = "removed"  # in BASES_DIR (a base's name is 16 hex digits)


def _base_path(root: Path, url: str) -> Path:
    import blake3

    return root / BASES_DIR / blake3.blake3(url.encode("utf-8")).digest(8).hex()


def read_base(root: Path, url: str) -> bytes | None:
    """The keyring this registry last saw on the remote at url (None: never, or not recorded)."""
    try:
        return _base_path(root, url).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyringError(f"cannot read {_base_path(root, url)}: {exc.strerror}") from None


def write_base(root: Path, url: str, data: bytes) -> None:
    """Remember data as the keyring the remote at url holds now (atomically)."""
    path = _base_path(root, url)
    if read_base(root, url) == data:
        return
    perms.mkdirs(path.parent)
    write_atomic(path, data, root / "tmp")


def append(root: Path, entry: dict[str, Any]) -> None:
    """Add one line to the audit trail (a single O_APPEND write, fsynced)."""
    import time

    import msgspec

    line = msgspec.json.encode({"when_ns": time.time_ns(), **entry}, order="sorted") + b"\n"
    try:
        fd = perms.create(root / LOG_NAME, os.O_WRONLY | os.O_APPEND)  # the registry's mode
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise KeyringError(f"cannot write {root / LOG_NAME}: {exc.strerror}") from None


def read(root: Path) -> list[dict[str, Any]]:
    """Every line of the audit trail, oldest first (a torn last line, from a crash, is skipped)."""
    import msgspec

    try:
        data = (root / LOG_NAME).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise KeyringError(f"cannot read {root / LOG_NAME}: {exc.strerror}") from None
    out = []
    for line in data.splitlines():
        try:
            doc = msgspec.json.decode(line)
        except msgspec.DecodeError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def slot_digest(slot: Slot) -> str:
    """The hex BLAKE3 of a slot's canonical JSON (every field: salt, wrapped keys, who, when)."""
    import blake3
    import msgspec

    return blake3.blake3(msgspec.json.encode(slot.to_doc(), order="sorted")).hexdigest()


def bury(root: Path, old: Sequence[Slot], new: Sequence[Slot]) -> None:
    """Remember every slot of old that new does not hold byte for byte (removed or re-wrapped):
    one line per slot appended to keyring-remotes/removed (O_APPEND, fsynced). Call it before the
    keyring file is replaced: a crash in between leaves a slot remembered that is still held,
    which only matters if the same bytes came back, and they never do unless it was dropped."""
    kept = {slot_digest(s) for s in new}
    gone = [d for d in (slot_digest(s) for s in old) if d not in kept]
    if not gone:
        return
    path = root / BASES_DIR / REMOVED_NAME
    try:
        perms.mkdirs(path.parent)
        fd = perms.create(path, os.O_WRONLY | os.O_APPEND)  # the registry's mode
        try:
            os.write(fd, "".join(f"{d}\n" for d in gone).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise KeyringError(f"cannot write {path}: {exc.strerror}") from None


def buried(root: Path) -> set[str]:
    """The digests of every slot this registry's keyring dropped (see bury)."""
    path = root / BASES_DIR / REMOVED_NAME
    try:
        return set(path.read_text().split())
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise KeyringError(f"cannot read {path}: {exc.strerror}") from None
