"""What the `pacha init --encrypt`, `encrypt` and `key` commands do to a registry.

Every change to the keyring holds `<registry>/keyring.lock` (flock) from reading it to
replacing it, and asks for a passphrase that opens it first (only someone who can
read the registry manages its keys). Converting bodies (encrypt, rotate --data) holds
gc.lock exclusively as gc does: no commit writes objects meanwhile.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pacha import perms
from pacha.crash import crash_point
from pacha.crypto import keyring_log
from pacha.crypto.convert import ConvertReport, Progress, convert
from pacha.crypto.errors import KeyringError, NotEncrypted
from pacha.crypto.keyring import FILE_NAME, Keyring, Slot, key_id, new_master_key, write_atomic
from pacha.crypto.passphrase import new_passphrase, passphrase
from pacha.crypto.unlock import Unlocked, unlock_keyring

if TYPE_CHECKING:
    from pacha.registry import Registry


@contextmanager
def keyring_lock(root: Path) -> Iterator[None]:
    """Exclusive while the keyring is read, changed and replaced."""
    fd = perms.create(root / "keyring.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def is_encrypted(root: Path) -> bool:
    return (root / FILE_NAME).exists()


def _load(root: Path) -> Keyring:
    if not is_encrypted(root):
        raise NotEncrypted(f"{root} is not encrypted: `pacha encrypt` encrypts it")
    return Keyring.load(root)


def create_keyring(root: Path, by: str = "") -> Unlocked:
    """A keyring for a registry that has none, under the passphrase from its usual sources."""
    secret = passphrase(f"the new encrypted registry {root}")
    ring, master = Keyring.create(secret, by=by)
    write_atomic(root / FILE_NAME, ring.to_bytes(), root / "tmp")
    _log(root, "init", by, ring, added=[ring.slots[0].name])
    return Unlocked(ring.current, {ring.current: master}, ring.slots[0])


def _log(root: Path, op: str, by: str, ring: Keyring, **names: list[str]) -> None:
    """A line of the keyring's audit trail for a change made here (pacha.crypto.keyring_log)."""
    keyring_log.append(
        root,
        {
            "op": op,
            "direction": "here",
            "where": "",
            "by": by,
            "author": by,
            "generation": ring.generation,
            **names,
        },
    )


def init_encrypted(reg: Registry) -> bool:
    """Make a registry without objects encrypted (`init --encrypt`); False if it already was."""
    with keyring_lock(reg.root):
        if is_encrypted(reg.root):
            return False
        if next(reg.objects.iter_ids(), None) is not None:
            raise KeyringError(f"{reg.root} already holds objects: `pacha encrypt` encrypts them in place")
        reg.objects.keys.use(create_keyring(reg.root, reg.identity()))
        reg.objects.keys.refresh()
        return True


def adopt_keyring(reg: Registry, data: bytes, where: str) -> None:
    """Make a registry without objects encrypted under another's keyring (a clone of an
    encrypted remote): the keyring is checked and opened with the passphrase from its usual
    sources before it is written (a wrong one raises WrongPassphrase, nothing written), then
    kept byte for byte, so the clone opens with the passphrases that open the original."""
    ring = Keyring.from_bytes(data, where)
    with keyring_lock(reg.root):
        if is_encrypted(reg.root):
            raise KeyringError(f"{reg.root} is encrypted already; it cannot take the keyring of {where}")
        if next(reg.objects.iter_ids(), None) is not None:
            raise KeyringError(f"{reg.root} already holds objects; it cannot take the keyring of {where}")
        slot, keys = ring.unlock(passphrase(f"the keyring of {where}"), f"the keyring of {where}")
        unlocked = Unlocked(ring.current, keys, slot)
        write_atomic(reg.root / FILE_NAME, data, reg.root / "tmp")
        reg.objects.keys.use(unlocked)
        reg.objects.keys.refresh()


def encrypt(reg: Registry, progress: Progress | None = None) -> tuple[bool, ConvertReport]:
    """Encrypt a registry in place (resumable): (whether the keyring was created now, report)."""
    with reg.collecting():
        with keyring_lock(reg.root):
            created = not is_encrypted(reg.root)
            if created:
                unlocked = create_keyring(reg.root, reg.identity())
                crash_point("encrypt-keyring-written")
            else:
                ring = Keyring.load(reg.root)
                unlocked = unlock_keyring(reg.root, ring)
        store = reg.objects
        store.keys.refresh()
        store.keys.use(unlocked)
        return created, convert(store, progress)


@dataclass
class SlotInfo:
    name: str
    created_ns: int
    kdf: dict[str, object]
    keys: list[str] = field(default_factory=list)


def list_slots(root: Path) -> tuple[str, list[str], list[SlotInfo]]:
    """(current key id, retiring key ids, slots): no passphrase needed, nothing secret shown."""
    ring = _load(root)
    slots = [
        SlotInfo(
            s.name, s.created_ns, {k: v for k, v in s.kdf.to_doc().items() if k != "salt"}, sorted(s.keys)
        )
        for s in ring.slots
    ]
    return ring.current, ring.retiring, slots


def add_slot(root: Path, name: str, new_key_file: Path | None = None, by: str = "") -> None:
    """Add a passphrase (key slot) wrapping the same master key(s)."""
    with keyring_lock(root):
        ring = _load(root)
        unlocked = unlock_keyring(root, ring)
        ring.add(name, new_passphrase(f"key slot {name!r} of {root}", new_key_file), unlocked.keys, by)
        ring.save(root, unlocked.keys[ring.current], by)
        _log(root, "add", by, ring, added=[name])


def remove_slot(root: Path, name: str, by: str = "") -> None:
    """Remove a passphrase (never the last one)."""
    with keyring_lock(root):
        ring = _load(root)
        unlocked = unlock_keyring(root, ring)
        old = list(ring.slots)
        ring.remove(name)
        keyring_log.bury(root, old, ring.slots)  # never merged back in from an old copy
        ring.save(root, unlocked.keys[ring.current], by)
        _log(root, "remove", by, ring, removed=[name])


def rotate(root: Path, new_key_file: Path | None = None, by: str = "") -> str:
    """Re-wrap: the slot the passphrase opens gets a new passphrase (fresh salt, fresh nonces);
    the master key and the data stay. Returns the slot's name."""
    with keyring_lock(root):
        ring = _load(root)
        unlocked = unlock_keyring(root, ring)
        assert unlocked.slot is not None
        name = unlocked.slot.name
        old = list(ring.slots)
        ring.rewrap(name, new_passphrase(f"key slot {name!r} of {root}", new_key_file), unlocked.keys, by)
        keyring_log.bury(root, old, ring.slots)  # the old wrapping never merged back in
        ring.save(root, unlocked.keys[ring.current], by)
        _log(root, "rotate", by, ring, rewrapped=[name])
        return name


def rotate_data(reg: Registry, progress: Progress | None = None) -> tuple[list[str], ConvertReport]:
    """Re-encrypt every body under a new master key (resumable: a rerun finishes).

    Only the slot whose passphrase is given survives (the others cannot wrap the new key
    without their passphrases: add them again with `pacha key add`). Returns the slots
    dropped and the conversion report."""
    root = reg.root
    with reg.collecting():
        with keyring_lock(root):
            ring = _load(root)
            secret = passphrase(f"registry {root}")
            unlocked = unlock_keyring(root, ring, secret)
            assert unlocked.slot is not None
            dropped = [s.name for s in ring.slots if s.name != unlocked.slot.name]
            keys = dict(unlocked.keys)
            if not ring.retiring:  # a new rotation (else: resume the one under way)
                master = new_master_key()
                keys[key_id(master)] = master
                ring.retiring = [ring.current]
                ring.current = key_id(master)
                before = list(ring.slots)
                ring.slots = [Slot.make(unlocked.slot.name, secret, keys, reg.identity())]
                keyring_log.bury(root, before, ring.slots)
                ring.save(root, master, reg.identity())
                _log(root, "rotate-data", reg.identity(), ring, removed=dropped)
                crash_point("rotate-keyring-written")
        store = reg.objects
        store.keys.use(Unlocked(ring.current, keys))
        report = convert(store, progress)
        with keyring_lock(root):
            ring = Keyring.load(root)
            for old in ring.retiring:
                for slot in ring.slots:
                    slot.keys.pop(old, None)
            ring.retiring = []
            ring.save(root, keys[ring.current], reg.identity())
    return dropped, report
