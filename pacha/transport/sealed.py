"""Encrypted registries and their remotes (issue 15): what may travel where (h-seal's hook).

An encrypted registry pushes its bodies exactly as stored, sealed (body encoding 4; a
push never opens them: pacha.transport.local.stored_bytes), and the remote holds its
keyring under the key `keyring`, byte for byte: master keys wrapped under passphrases,
useless without one. A remote holding `keyring` is an *encrypted remote*. The rules,
each checked before anything is sent or written (docs/remotes.md, "Encrypted remotes"):

- encrypted registry -> empty remote: the keyring is created there first (If-None-Match:
  *), then objects. -> encrypted remote: only if the remote's keyring holds every master
  key the registry seals with. -> plain remote (one holding objects or refs, no keyring):
  refused (its readers could not open the bodies; it would mix the two).
- plain registry -> encrypted remote: refused (plaintext would reach a remote whose
  owners chose ciphertext only).
- encrypted remote -> encrypted registry: only if the registry holds every master key of
  the remote's keyring; each body is authenticated, decrypted and hashed against its id
  before its pack is installed (pacha.transport.receive), and stays sealed on disk.
  -> registry holding no objects (a clone, or a new `pacha init`): it takes the remote's
  keyring once the passphrase opens it (a wrong one: nothing written), and is encrypted
  from then on. -> plain registry holding objects: refused (it has no keys; decrypting
  would write plaintext): `pacha clone` makes an encrypted registry of the remote.
- plain remote -> encrypted registry: accepted; the store seals every body as it is
  installed, so nothing plaintext is written.

Registries whose master keys differ (one side ran `pacha key rotate --data`) cannot share
bodies: refused both ways, naming the key ids.

The remote's keyring follows `pacha key add|remove|rotate` (pacha.transport.keyring_sync):
push moves it by compare-and-swap after merging its slots three-way with this registry's,
against the keyring last seen there; fetch, pull and clone merge its changes in the same
way, list them and record them in `keyring.log`. A keyring that is not signed by the master
key (pacha.crypto.keyring_sign), or older than the one last seen there, is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pacha.crypto import keyring_log
from pacha.crypto.admin import adopt_keyring
from pacha.crypto.keyring import FILE_NAME, Keyring
from pacha.transport import cas, keyring_sync
from pacha.transport.backend import KeyMissing, PreconditionFailed
from pacha.transport.errors import RemoteNotFound
from pacha.transport.keyring_sync import RemoteEncryptionMismatch
from pacha.transport.layout import PACK_DIR

if TYPE_CHECKING:
    from pacha.registry import Registry
    from pacha.transport.remote import Remote

KEYRING_KEY = "keyring"  # an encrypted remote's keyring, as the registry's `keyring` file


def remote_keyring(remote: Remote) -> bytes | None:
    """The remote's keyring file, None if it has none (a plain or an empty remote)."""
    try:
        data, _etag = remote.backend.get(KEYRING_KEY)
    except (KeyMissing, RemoteNotFound):
        return None
    return data


def _ids(ring: Keyring) -> str:
    return ", ".join(sorted(ring.key_ids()))


def before_push(registry: Registry, remote: Remote) -> None:
    """Refuse a push that would mix plain and sealed bodies, or keys (see module doc); give an
    empty remote the registry's keyring before any object. Raises RemoteEncryptionMismatch."""
    data = remote_keyring(remote)
    if not registry.objects.keys.encrypted:
        if data is not None:
            raise RemoteEncryptionMismatch(
                f"remote {remote.url} is encrypted and {registry.root} is not: pushing would put plaintext "
                f"on it; nothing was sent (`pacha clone {remote.url}` gives an encrypted registry to work in)"
            )
        return
    mine = Keyring.load(registry.root)
    if data is None and keyring_sync.same_remote(registry, remote):
        keyring_sync.sync(registry, remote, push=True)  # it lost its keyring: put back, or merged
        return
    if data is None:
        if not _empty(remote) and keyring_log.read_base(registry.root, remote.url) is not None:
            raise RemoteEncryptionMismatch(
                f"remote {remote.url} holds data but no keyring, though this registry saw one there (it "
                "was deleted, or the place now holds a plain registry): nothing was sent; `pacha fetch`, "
                "then push again to put this registry's keyring back if it is still the same remote"
            )
        if not _empty(remote):
            raise RemoteEncryptionMismatch(
                f"remote {remote.url} is not encrypted (it holds a plain registry's data) and "
                f"{registry.root} is: an encrypted registry pushes only to an encrypted or an empty "
                "remote; nothing was sent"
            )
        mine_bytes = (registry.root / FILE_NAME).read_bytes()
        try:
            cas.create(remote.backend, KEYRING_KEY, mine_bytes)
            keyring_log.write_base(registry.root, remote.url, mine_bytes)
            keyring_sync.record(registry, remote, "push", "out", mine, [], mine.slots, tell=False)
            return
        except PreconditionFailed:  # another pusher gave it one meanwhile: compare with it
            data, _etag = remote.backend.get(KEYRING_KEY)
    theirs = Keyring.from_bytes(data, f"remote {remote.url}, key {KEYRING_KEY}")
    if not mine.key_ids() <= theirs.key_ids():
        raise RemoteEncryptionMismatch(
            f"remote {remote.url} is sealed under master key(s) {_ids(theirs)} and {registry.root} under "
            f"{_ids(mine)} (one side ran `pacha key rotate --data`): its readers could not open what would "
            "be sent; nothing was sent (push to a new remote, or clone this one again)"
        )
    keyring_sync.sync(registry, remote, push=True)


def before_fetch(registry: Registry, remote: Remote) -> None:
    """Refuse a fetch whose bodies this registry could not keep sealed or open (see module doc);
    a registry without objects takes an encrypted remote's keyring (asking its passphrase)."""
    data = remote_keyring(remote)
    if data is None:
        keyring_sync.lost(registry, remote)
        return  # a plain remote: an encrypted registry seals what it installs
    where = f"remote {remote.url}"
    if not registry.objects.keys.encrypted:
        if next(registry.objects.iter_ids(), None) is None:
            adopt_keyring(registry, data, where)
            keyring_log.write_base(registry.root, remote.url, data)
            ring = Keyring.from_bytes(data, where)
            keyring_sync.record(registry, remote, "adopt", "in", ring, [], ring.slots, tell=False)
            return
        raise RemoteEncryptionMismatch(
            f"{where} is encrypted and {registry.root} is not (it holds objects, and has no keys to keep "
            f"sealed bodies); nothing was changed: `pacha clone {remote.url}` makes an encrypted registry "
            "of it"
        )
    mine = Keyring.load(registry.root)
    theirs = Keyring.from_bytes(data, f"{where}, key {KEYRING_KEY}")
    if not theirs.key_ids() <= mine.key_ids():
        raise RemoteEncryptionMismatch(
            f"{where} is sealed under master key(s) {_ids(theirs)} and {registry.root} under {_ids(mine)} "
            "(one side ran `pacha key rotate --data`): this registry cannot open its bodies; nothing was "
            "changed (clone the remote again, or push from here to a new remote)"
        )
    keyring_sync.sync(registry, remote, push=False)


def _empty(remote: Remote) -> bool:
    """No ref table and no pack: nothing was ever pushed (a fresh bucket prefix or directory)."""
    if remote.read_refs().etag is not None:
        return False
    try:
        return not remote.backend.list(PACK_DIR)
    except RemoteNotFound:
        return True
