"""The encryption building blocks alone (pacha/crypto): key derivation, keyring, the object
envelope and the sealed-file format, including every kind of tampering they must refuse."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacha.crypto import envelope, kdf, sealed_file
from pacha.crypto.aead import Cipher
from pacha.crypto.errors import AuthenticationFailed, KeyringError, WrongPassphrase
from pacha.crypto.kdf import Argon2Params
from pacha.crypto.keyring import Keyring, key_id
from pacha.errors import CorruptObject, InvalidInput
from pacha.hashing import hash_bytes

PASS = b"correct horse battery staple"


def test_argon2_parameters_below_the_floor_or_above_the_ceiling_are_refused() -> None:
    salt = os.urandom(16)
    Argon2Params(salt).check("here")
    for weak in (Argon2Params(salt, memory_kib=32 * 1024), Argon2Params(salt, iterations=2)):
        with pytest.raises(KeyringError, match="refused"):
            weak.check("here")
    with pytest.raises(KeyringError, match="memory"):
        Argon2Params(salt, memory_kib=1 << 30).check("here")
    doc = Argon2Params(salt).to_doc()
    assert doc["memory_kib"] >= 65536 and doc["iterations"] >= 3
    assert Argon2Params.from_doc(doc, "here") == Argon2Params(salt)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=40), st.binary(min_size=16, max_size=16), st.integers(8, 512), st.integers(1, 4))
def test_libsodium_and_openssl_derive_the_same_argon2id_key(
    passphrase: bytes, salt: bytes, memory_kib: int, passes: int
) -> None:
    # New slots are derived by libsodium (one lane): anyone reading docs/format.md derives
    # the same key with any Argon2id (here OpenSSL's, as for slots made with more lanes).
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    params = Argon2Params(salt, memory_kib, passes, 1)
    openssl = Argon2id(salt=salt, length=32, iterations=passes, lanes=1, memory_cost=memory_kib)
    assert kdf._derive_libsodium(passphrase, params) == openssl.derive(passphrase)
    assert kdf.derive(passphrase, params) == kdf._derive_libsodium(passphrase, params)


def test_slots_of_four_lanes_made_before_still_unlock_and_new_ones_take_one() -> None:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    assert Argon2Params.fresh().lanes == 1
    salt = os.urandom(16)
    four = Argon2Params(salt, lanes=4)  # what every slot and sealed file was made with before
    expected = Argon2id(salt=salt, length=32, iterations=3, lanes=4, memory_cost=64 * 1024).derive(PASS)
    assert kdf.derive(PASS, four) == expected != kdf.derive(PASS, Argon2Params(salt))


def test_keyring_unlocks_with_each_slot_and_refuses_a_wrong_passphrase(tmp_path) -> None:
    ring, master = Keyring.create(PASS)
    ring.add("laptop", b"another passphrase", {ring.current: master})
    ring.save(tmp_path, master, "test")
    loaded = Keyring.load(tmp_path)
    assert loaded.generation == 2 and loaded.signer is not None
    assert loaded.current == key_id(master)
    for secret, name in ((PASS, "default"), (b"another passphrase", "laptop")):
        slot, keys = loaded.unlock(secret, "test")
        assert slot.name == name and keys == {ring.current: master}
    with pytest.raises(WrongPassphrase, match="does not unlock"):
        loaded.unlock(b"wrong passphrase!", "test")


def test_keyring_slots_cannot_be_swapped_or_the_last_one_removed(tmp_path) -> None:
    ring, master = Keyring.create(PASS)
    ring.add("b", b"passphrase b", {ring.current: master})
    # a wrapped key moved to another slot's name fails: the name is associated data
    ring.slots[1].name = "a-renamed"
    with pytest.raises(WrongPassphrase):
        ring.unlock(b"passphrase b", "test")
    ring.slots[1].name = "b"
    ring.remove("default")
    with pytest.raises(KeyringError, match="only key slot"):
        ring.remove("b")
    with pytest.raises(KeyringError, match="exists already"):
        ring.add("b", b"third passphrase", {ring.current: master})
    with pytest.raises(KeyringError, match="at least 8"):
        ring.add("c", b"short", {ring.current: master})


def test_rewrap_changes_the_passphrase_but_not_the_master_key() -> None:
    ring, master = Keyring.create(PASS)
    ring.rewrap("default", b"the new passphrase", {ring.current: master})
    ring.sign(master, "test")
    with pytest.raises(WrongPassphrase):
        ring.unlock(PASS, "test")
    assert ring.unlock(b"the new passphrase", "test")[1] == {ring.current: master}


def test_a_keyring_changed_without_the_master_key_no_longer_unlocks(tmp_path) -> None:
    """Version 2 is signed with a key derived from the master key: a slot list edited by
    anyone else (here: a slot dropped, then one renamed) is refused even by a right passphrase."""
    ring, master = Keyring.create(PASS)
    ring.add("laptop", b"another passphrase", {ring.current: master})
    ring.sign(master, "test")
    data = ring.to_bytes()
    for edit in (lambda r: r.slots.pop(), lambda r: setattr(r.slots[1], "by", "mallory")):
        edited = Keyring.from_bytes(data, "test")
        edit(edited)
        with pytest.raises(KeyringError, match="not signed by this registry's master key"):
            edited.unlock(PASS, "test")
    other, other_master = Keyring.create(b"someone else's passphrase")
    forged = Keyring.from_bytes(data, "test")
    with pytest.raises(KeyringError, match="not its current key"):
        forged.sign(other_master, "mallory")
    forged.signer, forged.signature = other.signer, other.signature
    with pytest.raises(KeyringError, match="not signed by this registry's master key"):
        forged.unlock(PASS, "test")


def test_a_damaged_keyring_file_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(KeyringError, match="not an encrypted registry"):
        Keyring.load(tmp_path)
    (tmp_path / "keyring").write_bytes(b"{not json")
    with pytest.raises(KeyringError, match="damaged"):
        Keyring.load(tmp_path)


def _envelope(data: bytes, kind: str = "blob", inner: int = 0) -> tuple[Cipher, str, str, bytes]:
    key = os.urandom(32)
    kid = key_id(key)
    cipher = Cipher(key)
    object_id = hash_bytes(data)
    return cipher, kid, object_id, envelope.seal(cipher, kid, object_id, kind, len(data), inner, [data])


def _open(body: bytes, object_id: str, kind: str, size: int, cipher: Cipher) -> bytes:
    reader = envelope.EnvelopeReader(io.BytesIO(body), object_id, kind, size, lambda kid: cipher)
    return reader.read()


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_envelope_round_trips_and_its_length_walks_without_the_key(data: bytes, segment: int) -> None:
    old = envelope.SEGMENT
    envelope.SEGMENT = segment  # many segments from small data
    try:
        cipher, _kid, object_id, body = _envelope(data)
        assert envelope.length(body + b"trailing") == (len(body), len(data))
        assert _open(body, object_id, "blob", len(data), cipher) == data
        # readinto in odd pieces gives the same bytes
        reader = envelope.EnvelopeReader(io.BytesIO(body), object_id, "blob", len(data), lambda k: cipher)
        out, buf = bytearray(), bytearray(7)
        while n := reader.readinto(buf):
            out += buf[:n]
        assert bytes(out) == data
    finally:
        envelope.SEGMENT = old


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_bit_of_an_envelope_is_refused(data: st.DataObject) -> None:
    content = data.draw(st.binary(min_size=0, max_size=200))
    old = envelope.SEGMENT
    envelope.SEGMENT = 64
    try:
        cipher, _kid, object_id, body = _envelope(content)
        position = data.draw(st.integers(0, len(body) - 1))
        bit = data.draw(st.integers(0, 7))
        damaged = bytearray(body)
        damaged[position] ^= 1 << bit
        with pytest.raises(CorruptObject, match=object_id):
            _open(bytes(damaged), object_id, "blob", len(content), cipher)
    finally:
        envelope.SEGMENT = old


def test_an_envelope_is_bound_to_its_object_id_kind_and_size() -> None:
    cipher, _kid, object_id, body = _envelope(b"weights" * 100)
    other = hash_bytes(b"something else")
    for oid, kind, size in ((other, "blob", 700), (object_id, "record", 700), (object_id, "blob", 701)):
        with pytest.raises(AuthenticationFailed, match="failed authentication"):
            _open(body, oid, kind, size, cipher)
    # truncating to a whole segment boundary is still refused (the last flag is authenticated)
    old = envelope.SEGMENT
    envelope.SEGMENT = 100
    try:
        cipher, _kid, object_id, body = _envelope(b"x" * 350)
        one_segment = envelope.PREFIX + envelope.SEGMENT_HEAD + 100 + 16
        with pytest.raises(CorruptObject):
            _open(body[:one_segment], object_id, "blob", 350, cipher)
        with pytest.raises(ValueError, match="truncated"):
            envelope.length(body[:one_segment])
    finally:
        envelope.SEGMENT = old


def _seal_file(content: bytes, secret: bytes = PASS) -> bytes:
    out = io.BytesIO()
    meta = {
        "filename": "m.bin",
        "id": hash_bytes(content),
        "kind": "blob",
        "size": len(content),
        "source": "t",
    }
    writer = sealed_file.SealedWriter.for_passphrase(out, secret, meta)
    for i in range(0, len(content), 1000):
        writer.write(content[i : i + 1000])
    writer.finish()
    return out.getvalue()


@pytest.mark.parametrize(
    "size", [0, 1, sealed_file.SEGMENT, sealed_file.SEGMENT + 5, 3 * sealed_file.SEGMENT]
)
def test_sealed_file_round_trip(size: int) -> None:
    content = os.urandom(size)
    blob = _seal_file(content)
    assert blob.startswith(b"PACHAENC\x01\x01")
    reader = sealed_file.SealedReader(io.BytesIO(blob), "f", lambda: PASS)
    assert reader.metadata["filename"] == "m.bin" and reader.size == size
    assert b"".join(reader.blocks()) == content


def test_sealed_file_wrong_passphrase_tampering_and_truncation() -> None:
    content = os.urandom(sealed_file.SEGMENT + 100)
    blob = _seal_file(content)
    with pytest.raises(WrongPassphrase):
        sealed_file.SealedReader(io.BytesIO(blob), "f", lambda: b"not the passphrase")
    flipped = bytearray(blob)
    flipped[-30] ^= 1
    reader = sealed_file.SealedReader(io.BytesIO(bytes(flipped)), "f", lambda: PASS)
    with pytest.raises(AuthenticationFailed):
        b"".join(reader.blocks())
    # dropping the last segment: the one before it is not marked last, so the file is short
    last = 4 + 12 + 100 + 16
    reader = sealed_file.SealedReader(io.BytesIO(blob[:-last]), "f", lambda: PASS)
    with pytest.raises(InvalidInput, match="truncated"):
        b"".join(reader.blocks())
    # a weakened header (fewer passes) changes the key and the associated data: refused
    weakened = bytearray(blob)
    weakened[9 + 1 + 4] = 2
    with pytest.raises(KeyringError, match="refused"):
        sealed_file.SealedReader(io.BytesIO(bytes(weakened)), "f", lambda: PASS)
    with pytest.raises(InvalidInput, match="not a pacha sealed file"):
        sealed_file.SealedReader(io.BytesIO(b"PK\x03\x04" + bytes(60)), "f", lambda: PASS)


@settings(max_examples=60, deadline=None)
@given(
    content=st.binary(min_size=0, max_size=700),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=20),
    use_read=st.lists(st.booleans(), min_size=1, max_size=20),
)
def test_envelope_reads_of_any_sizes_mixing_read_and_readinto_give_the_content(
    content: bytes, sizes: list[int], use_read: list[bool]
) -> None:
    """readinto decrypts a whole segment straight into a buffer big enough for it and
    buffers it otherwise; read(n) always buffers: any mix gives the content, in order."""
    old = envelope.SEGMENT
    envelope.SEGMENT = 64
    try:
        cipher, _kid, object_id, body = _envelope(content)
        reader = envelope.EnvelopeReader(io.BytesIO(body), object_id, "blob", len(content), lambda k: cipher)
        out = bytearray()
        for i in range(10_000):
            size, by_read = sizes[i % len(sizes)], use_read[i % len(use_read)]
            if by_read:
                piece = reader.read(size)
            else:
                buf = bytearray(size)
                piece = bytes(buf[: reader.readinto(buf)])
            if not piece:
                break
            out += piece
        assert bytes(out) == content
        # a flipped bit in the ciphertext is refused on the direct path too
        if content:
            damaged = bytearray(body)
            damaged[envelope.PREFIX + envelope.SEGMENT_HEAD] ^= 1
            reader = envelope.EnvelopeReader(
                io.BytesIO(bytes(damaged)), object_id, "blob", len(content), lambda k: cipher
            )
            with pytest.raises(AuthenticationFailed):
                reader.readinto(bytearray(1000))
    finally:
        envelope.SEGMENT = old
