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
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pacha import perms
from pacha.crypto.errors import KeyringError
from pacha.crypto.keyring import write_atomic

LOG_NAME = "keyring.log"
BASES_DIR = "keyring-remotes"


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
