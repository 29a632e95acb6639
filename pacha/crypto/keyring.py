"""The keyring: a registry's master keys, each wrapped under every passphrase slot.

File `<registry>/keyring`, canonical JSON (docs/format.md, "Encryption"):

    {"by": "ada <ada@x>", "current": "<key id>", "format": "pacha-keyring", "generation": 3,
     "retiring": ["<key id>", ...], "signature": "<128 hex>", "signer": "<64 hex>",
     "slots": [{"by": "...", "created_ns": 1795..., "kdf": {"name": "argon2id", "memory_kib": 65536,
                "iterations": 3, "lanes": 4, "salt": "<hex>"},
                "keys": {"<key id>": {"nonce": "<hex>", "sealed": "<hex>"}}, "name": "default"}],
     "version": 2, "when_ns": 1796...}

A master key is 32 random bytes; its id is the first 8 bytes of BLAKE3 in
derive-key mode (context KEY_ID_CONTEXT) over it, in hex: it names the key in
object envelopes without revealing it. A slot holds each key in use sealed with
AES-256-GCM under the slot's Argon2id key, the associated data binding slot name
and key id, so a wrapped key cannot be moved to another slot or relabelled.
`current` seals new objects; `retiring` keys are still needed to read objects not
yet re-encrypted by `pacha key rotate --data` (empty otherwise).

Version 2 signs the whole keyring (Ed25519, RFC 8032) with a key derived from the current
master key (pacha.crypto.keyring_sign): only a holder of the master key can write a keyring
that verifies, so a slot planted or removed in a copy (a remote's bucket) by anyone else is
refused. `generation` grows with every change (a replayed older copy is told apart) and
`by` / `when_ns` say who made the last one. Version 1 (unsigned) is still read.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacha.crypto.aead import Cipher, TagMismatch
from pacha.crypto.errors import KeyringError, WrongPassphrase
from pacha.crypto.kdf import Argon2Params, derive
from pacha.crypto.keyring_sign import public_key, sign, verify

FILE_NAME = "keyring"
FORMAT = "pacha-keyring"
VERSION = 2  # written; 1 (unsigned, no generation) is read too
READS = (1, 2)
KEY_ID_CONTEXT = "pacha 2026-11-30 master key id"
MASTER_KEY_LEN = 32


def key_id(master_key: bytes) -> str:
    """The public 16-hex-digit name of a master key (BLAKE3 derive-key mode, 8 bytes)."""
    import blake3

    return blake3.blake3(master_key, derive_key_context=KEY_ID_CONTEXT).digest(8).hex()


def new_master_key() -> bytes:
    return os.urandom(MASTER_KEY_LEN)


def _wrap_ad(slot: str, kid: str) -> bytes:
    return b"pacha-keyring\x00v1\x00" + slot.encode("utf-8") + b"\x00" + bytes.fromhex(kid)


@dataclass
class Slot:
    """One passphrase: its Argon2id parameters and every master key in use, sealed under it."""

    name: str
    kdf: Argon2Params
    keys: dict[str, tuple[bytes, bytes]]  # key id -> (nonce, sealed key)
    created_ns: int
    by: str = ""  # who made it (the identity of the registry it was made in; "" before version 2)

    @classmethod
    def make(cls, name: str, passphrase: bytes, masters: dict[str, bytes], by: str = "") -> Slot:
        """A new slot (fresh salt) wrapping every key of masters (key id -> key)."""
        params = Argon2Params.fresh()
        wrapping = Cipher(derive(passphrase, params))
        keys = {kid: wrapping.seal(key, _wrap_ad(name, kid)) for kid, key in masters.items()}
        return cls(name, params, keys, time.time_ns(), by)

    def unwrap(self, passphrase: bytes) -> dict[str, bytes] | None:
        """Every key of this slot, if passphrase is its passphrase; else None."""
        wrapping = Cipher(derive(passphrase, self.kdf))
        out = {}
        for kid, (nonce, sealed) in self.keys.items():
            try:
                key = wrapping.open(nonce, sealed, _wrap_ad(self.name, kid))
            except TagMismatch:
                return None
            if key_id(key) != kid:
                raise KeyringError(f"keyring slot {self.name!r} holds a key that is not key {kid}")
            out[kid] = key
        return out

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "by": self.by,
            "created_ns": self.created_ns,
            "kdf": self.kdf.to_doc(),
            "keys": {kid: {"nonce": n.hex(), "sealed": s.hex()} for kid, (n, s) in self.keys.items()},
        }

    @classmethod
    def from_doc(cls, doc: Any, where: str) -> Slot:
        try:
            name = str(doc["name"])
            keys = {
                str(kid): (bytes.fromhex(v["nonce"]), bytes.fromhex(v["sealed"]))
                for kid, v in doc["keys"].items()
            }
            created = int(doc.get("created_ns", 0))
            by = str(doc.get("by", ""))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise KeyringError(f"{where}: a malformed key slot") from None
        return cls(name, Argon2Params.from_doc(doc.get("kdf"), f"{where}, slot {name!r}"), keys, created, by)


@dataclass
class Keyring:
    """What the keyring file holds; load(), save(), and the operations `pacha key` offers."""

    current: str
    slots: list[Slot]
    retiring: list[str] = field(default_factory=list)
    generation: int = 0  # +1 at every change (0: a version-1 keyring)
    by: str = ""  # who made the last change, and when (ns since the epoch)
    when_ns: int = 0
    signer: str | None = None  # Ed25519 public key (hex) derived from the current master key
    signature: str | None = None  # over signed_bytes(); None: a version-1 keyring (unsigned)

    # --- the file -----------------------------------------------------------------
    @classmethod
    def load(cls, root: Path) -> Keyring:
        """The keyring of the registry at root (KeyringError if missing or damaged)."""
        path = root / FILE_NAME
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyringError(f"{root} is not an encrypted registry (no {FILE_NAME} file)") from None
        except OSError as exc:
            raise KeyringError(f"cannot read {path}: {exc.strerror}") from None
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Keyring:
        """A keyring from its file's bytes (where: the file or remote key, for messages)."""
        import msgspec

        try:
            doc = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise KeyringError(f"{where} is damaged (not JSON): restore it from a backup") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyringError(f"{where} is not a pacha keyring")
        if doc.get("version") not in READS:
            raise KeyringError(
                f"{where} has keyring version {doc.get('version')}; this pacha reads "
                f"{' and '.join(map(str, READS))} (upgrade pacha)"
            )
        try:
            slots = [Slot.from_doc(s, where) for s in doc["slots"]]
            ring = cls(str(doc["current"]), slots, [str(k) for k in doc.get("retiring", [])])
            if doc["version"] >= 2:
                ring.generation, ring.by, ring.when_ns = (
                    int(doc["generation"]),
                    str(doc["by"]),
                    int(doc["when_ns"]),
                )
                ring.signer, ring.signature = str(doc["signer"]), str(doc["signature"])
        except (KeyError, TypeError, ValueError):
            raise KeyringError(f"{where} is damaged (fields missing): restore it from a backup") from None
        if not slots:
            raise KeyringError(f"{where} has no key slots: nothing can unlock this registry")
        if len({s.name for s in slots}) != len(slots):
            raise KeyringError(f"{where} is damaged (two key slots have one name): restore it from a backup")
        return ring

    def key_ids(self) -> set[str]:
        """The ids of every master key in use: the current one and those retiring."""
        return {self.current, *self.retiring}

    def _doc(self) -> dict[str, Any]:
        """Everything but the signature (what it signs)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "current": self.current,
            "retiring": self.retiring,
            "slots": [s.to_doc() for s in self.slots],
            "generation": self.generation,
            "by": self.by,
            "when_ns": self.when_ns,
            "signer": self.signer,
        }

    def signed_bytes(self) -> bytes:
        """The canonical JSON of every field but `signature`: what the signature covers."""
        import msgspec

        return msgspec.json.encode(self._doc(), order="sorted")

    def sign(self, master: bytes, by: str) -> None:
        """Record a change (generation + 1, who, now) and sign the keyring with master, the
        current master key (version 2 from now on)."""
        if key_id(master) != self.current:
            raise KeyringError(
                f"cannot sign the keyring: the key given is not its current key {self.current}"
            )
        self.generation += 1
        self.by, self.when_ns = by, time.time_ns()
        self.signer = public_key(master)
        self.signature = sign(master, self.signed_bytes())

    def check_signature(self, signer: str, where: str) -> None:
        """Refuse (KeyringError) a keyring not signed by signer (hex Ed25519 public key)."""
        if self.signature is None or self.signer is None:
            raise KeyringError(f"{where} is not signed (written by an older pacha, or edited)")
        if self.signer != signer or not verify(signer, self.signed_bytes(), self.signature):
            raise KeyringError(
                f"{where} is not signed by this registry's master key: it was edited or replaced by "
                "someone without it; nothing was changed"
            )

    def to_bytes(self) -> bytes:
        """The file's bytes (a signed keyring only: sign() first)."""
        import msgspec

        if self.signature is None:
            raise KeyringError("internal: an unsigned keyring is never written")
        return msgspec.json.encode({**self._doc(), "signature": self.signature}, order="sorted") + b"\n"

    def save(self, root: Path, master: bytes, by: str) -> None:
        """Sign the change (see sign) and replace the keyring file atomically (temp file in
        tmp/, fsync, rename, fsync dir)."""
        self.sign(master, by)
        write_atomic(root / FILE_NAME, self.to_bytes(), root / "tmp")

    # --- operations ---------------------------------------------------------------
    @classmethod
    def create(cls, passphrase: bytes, slot: str = "default", by: str = "") -> tuple[Keyring, bytes]:
        """A new keyring with one fresh master key wrapped under passphrase, signed; and that key."""
        check_new_passphrase(passphrase)
        master = new_master_key()
        kid = key_id(master)
        ring = cls(kid, [Slot.make(check_slot_name(slot), passphrase, {kid: master}, by)])
        ring.sign(master, by)
        return ring, master

    def unlock(self, passphrase: bytes, where: str) -> tuple[Slot, dict[str, bytes]]:
        """The slot passphrase opens and every key in use (WrongPassphrase if none opens)."""
        for slot in self.slots:
            keys = slot.unwrap(passphrase)
            if keys is not None:
                missing = {self.current, *self.retiring} - keys.keys()
                if missing:
                    raise KeyringError(
                        f"{where}: slot {slot.name!r} lacks key(s) {', '.join(sorted(missing))}"
                    )
                if self.signature is not None:  # version 2: signed by the key it holds
                    self.check_signature(public_key(keys[self.current]), where)
                return slot, keys
        raise WrongPassphrase(
            f"the passphrase does not unlock {where} ({len(self.slots)} key slot(s) tried); "
            "check PACHA_PASSPHRASE, PACHA_KEY_FILE or --key-file; nothing was changed"
        )

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.slots if s.name == name), None)

    def add(self, name: str, passphrase: bytes, masters: dict[str, bytes], by: str = "") -> None:
        """Add a slot for passphrase wrapping every key in use (KeyringError if the name is taken)."""
        check_new_passphrase(passphrase)
        if self.slot(check_slot_name(name)) is not None:
            raise KeyringError(f"a key slot named {name!r} exists already: pick another --name")
        self.slots.append(Slot.make(name, passphrase, masters, by))

    def remove(self, name: str) -> None:
        """Remove a slot (never the last one: the registry would be lost)."""
        slot = self.slot(name)
        if slot is None:
            raise KeyringError(f"no key slot named {name!r} (pacha key list shows them)")
        if len(self.slots) == 1:
            raise KeyringError(f"{name!r} is the only key slot: add another before removing it")
        self.slots.remove(slot)

    def rewrap(self, name: str, passphrase: bytes, masters: dict[str, bytes], by: str = "") -> None:
        """Replace slot name by one under passphrase (fresh salt and nonces, current costs)."""
        check_new_passphrase(passphrase)
        i = self.slots.index(self.slot(name))  # type: ignore[arg-type]
        self.slots[i] = Slot.make(name, passphrase, masters, by)


def check_slot_name(name: str) -> str:
    if not name or len(name) > 64 or not name.isprintable():
        raise KeyringError(f"key slot name {name!r} is invalid: use 1-64 printable characters")
    return name


def check_new_passphrase(passphrase: bytes) -> None:
    if len(passphrase) < 8:
        raise KeyringError("a new passphrase must have at least 8 characters")


def write_atomic(path: Path, data: bytes, tmp_dir: Path) -> None:
    """Write data to path atomically: a temp file in tmp_dir, fsynced, renamed over path,
    the directory fsynced. Mode 0666 less the registry's mask, as every registry file (pacha.perms)."""
    import tempfile

    from pacha.perms import file_mode, mkdirs

    mode = file_mode(path)
    mkdirs(tmp_dir)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=f"{path.name}-")
    try:
        os.fchmod(fd, mode)
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
