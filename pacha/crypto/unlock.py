"""A registry's master keys, unwrapped once per process, when first needed.

The store holds a RegistryKeys: whether the registry is encrypted is one stat of
`<registry>/keyring`; the passphrase is asked for (pacha.crypto.passphrase) only
when an object body is sealed or opened, so looking at headers (`cat-object -t`,
`count-objects`) needs none. Unwrapped keys are cached per process by registry and
keyring contents (a changed keyring is read again).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pacha.crypto import early
from pacha.crypto.aead import Cipher
from pacha.crypto.envelope import Sealer
from pacha.crypto.errors import KeyringError
from pacha.crypto.keyring import FILE_NAME, Keyring, Slot
from pacha.crypto.passphrase import passphrase

_cache: dict[tuple[Path, bytes], tuple[str, dict[str, bytes]]] = {}
_lock = threading.Lock()


class Unlocked:
    """Master keys at hand: the current one seals, any of them opens."""

    def __init__(self, current: str, keys: dict[str, bytes], slot: Slot | None = None) -> None:
        self.current = current
        self.keys = keys
        self.slot = slot  # the slot the passphrase opened (None when taken from the cache)
        self._ciphers = {kid: Cipher(key) for kid, key in keys.items()}
        self._sealer: Sealer | None = None

    def cipher(self, kid: str) -> Cipher:
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise KeyringError(
                f"data is sealed with master key {kid}, which the keyring no longer holds "
                "(restore the keyring from a backup)"
            )
        return cipher

    @property
    def sealing(self) -> tuple[str, Cipher]:
        return self.current, self._ciphers[self.current]

    @property
    def sealer(self) -> Sealer:
        """What seals with the current key (made once: every object sealed asks for it)."""
        if self._sealer is None:
            self._sealer = Sealer(self._ciphers[self.current], self.current)
        return self._sealer


def unlock_keyring(root: Path, ring: Keyring, secret: bytes | None = None) -> Unlocked:
    """Unwrap ring's keys with secret (default: the passphrase from its usual sources)."""
    if secret is None:
        secret = passphrase(f"registry {root}")
    slot, keys = ring.unlock(secret, f"the keyring of {root}")
    return Unlocked(ring.current, keys, slot)


class RegistryKeys:
    """The keys of the registry at root, if it is encrypted (see module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._unlocked: Unlocked | None = None
        self._lock = threading.Lock()
        self.encrypted = False
        self.refresh()

    def refresh(self) -> None:
        """Look again whether the registry is encrypted (the keyring file exists): once when
        opened, since every write holds gc.lock shared while `pacha encrypt` holds it
        exclusively, and again by `pacha encrypt` itself once it created the keyring."""
        self.encrypted = os.path.exists(self.root / FILE_NAME)

    def unlocked(self) -> Unlocked:
        """The keys, unwrapped (asking for the passphrase the first time in this process)."""
        if self._unlocked is None:
            with self._lock:
                if self._unlocked is None:
                    self._unlocked = _unlock_cached(self.root)
        return self._unlocked

    def cipher(self, kid: str) -> Cipher:
        return self.unlocked().cipher(kid)

    def sealing(self) -> tuple[str, Cipher]:
        """The current master key's id and cipher: what new bodies are sealed with."""
        return self.unlocked().sealing

    def sealer(self) -> Sealer:
        """What seals new bodies with the current master key (pacha.crypto.envelope)."""
        return self.unlocked().sealer

    def use(self, unlocked: Unlocked) -> None:
        """Keys already unwrapped by the caller (init --encrypt, key commands)."""
        self._unlocked = unlocked

    def forget(self) -> None:
        """Read the keyring again at next use (after `key rotate --data` changed it)."""
        self._unlocked = None


def _unlock_cached(root: Path) -> Unlocked:
    try:
        data = (root / FILE_NAME).read_bytes()
    except OSError as exc:
        raise KeyringError(f"cannot read the keyring of {root}: {exc.strerror}") from None
    with _lock:
        hit = _cache.get((root, data))
    if hit is not None:
        return Unlocked(*hit)
    ring = Keyring.from_bytes(data, str(root / FILE_NAME))  # the bytes the cache and early.take know
    secret = passphrase(f"registry {root}")
    unwrapped = early.take(root, data, secret)  # started by the dispatcher (pacha.crypto.early)
    if unwrapped is None:
        unwrapped = ring.unlock(secret, f"the keyring of {root}")
    unlocked = Unlocked(ring.current, unwrapped[1], unwrapped[0])
    with _lock:
        _cache[(root, data)] = (unlocked.current, unlocked.keys)
    return unlocked
