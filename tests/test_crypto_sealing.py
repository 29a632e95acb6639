"""The write side of the encryption stage: envelopes written by a Sealer into a caller's
buffer are exactly the documented format, and a chunked file sealed into reused slabs
reads back whole, whatever the group sizes and however often a slab is reused."""

from __future__ import annotations

import io
import os
import random
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import blake3
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

import pacha
from pacha import codec
from pacha.crypto import envelope, stage
from pacha.crypto.aead import Cipher
from pacha.crypto.keyring import key_id
from pacha.hashing import hash_bytes
from pacha.registry import Registry
from pacha.store import checks, chunk_writer, ingest, slabs
from pacha.store.slabs import Slab, SlabPool


def documented_segments(body: bytes, object_id: str, kind: str, size: int, key: bytes) -> bytes:
    """Decrypt an envelope by docs/format.md alone (not by pacha's reader): the prefix, then
    segments of word, nonce, ciphertext + tag, each under its documented associated data."""
    version, inner, kid, raw_id = body[0], body[1], body[2:10], body[10:42]
    assert (version, raw_id, kid.hex()) == (1, bytes.fromhex(object_id), key_id(key))
    aead, pos, index, out = AESGCM(key), 42, 0, b""
    while True:
        (word,) = struct.unpack_from("<I", body, pos)
        n, nonce = word & 0x7FFFFFFF, body[pos + 4 : pos + 16]
        ad = (
            b"pacha-object\x00" + bytes((1,)) + raw_id + bytes((len(kind),)) + kind.encode()
            + struct.pack("<Q", size) + bytes((inner,)) + kid + struct.pack("<QI", index, word)
        )  # fmt: skip
        out += aead.decrypt(nonce, body[pos + 16 : pos + 16 + n + 16], ad)
        pos += 16 + n + 16
        index += 1
        if word & 0x80000000:
            assert pos == len(body)
            return out


@settings(max_examples=40, deadline=None)
@given(
    st.binary(max_size=400),
    st.integers(1, 80),
    st.sampled_from(["blob", "record", "tree"]),
    st.integers(0, 3),
)
def test_a_sealer_writes_the_documented_envelope_into_the_buffer_given(
    data: bytes, segment: int, kind: str, inner: int
) -> None:
    old = envelope.SEGMENT
    envelope.SEGMENT = segment  # one segment, or many, from small data
    try:
        key = os.urandom(32)
        cipher, kid, object_id = Cipher(key), key_id(key), hash_bytes(data)
        room = bytearray(b"\xee" * (envelope.sealed_length(len(data)) + 10))
        sealer = envelope.Sealer(cipher, kid)
        sealer.seal_into(bytes.fromhex(object_id), kind, 1234, inner, data, memoryview(room)[3:-7])
        body = bytes(room[3:-7])
        assert room[:3] == b"\xee" * 3 and room[-7:] == b"\xee" * 7  # nothing written outside
        assert documented_segments(body, object_id, kind, 1234, key) == data
        assert body[1] == inner
        # and pacha's own reader, which checks the length words, agrees
        reader = envelope.EnvelopeReader(io.BytesIO(body), object_id, kind, 1234, lambda k: cipher)
        assert reader.read() == data
        assert envelope.length(body) == (len(body), len(data))
    finally:
        envelope.SEGMENT = old


def test_a_sealer_refuses_a_buffer_of_the_wrong_size_and_an_envelope_inside_an_envelope() -> None:
    key = os.urandom(32)
    sealer = envelope.Sealer(Cipher(key), key_id(key))
    raw_id = bytes(32)
    with pytest.raises(ValueError, match="needs"):
        sealer.seal_into(raw_id, "blob", 3, 0, b"abc", memoryview(bytearray(envelope.sealed_length(3) + 1)))
    with pytest.raises(ValueError, match="envelope cannot hold"):
        sealer.seal_into(raw_id, "blob", 3, envelope.ENCRYPTED, b"abc", memoryview(bytearray(100)))


def test_nonces_are_fresh_for_every_object_and_segment() -> None:
    key = os.urandom(32)
    sealer = envelope.Sealer(Cipher(key), key_id(key))
    nonces = set()
    for _ in range(50):
        body = bytearray(envelope.sealed_length(5))
        sealer.seal_into(bytes(32), "blob", 5, 0, b"same!", memoryview(body))  # same object every time
        nonces.add(bytes(body[46:58]))
    assert len(nonces) == 50


def test_seal_body_into_room_is_the_stored_form_seal_parts_writes() -> None:
    class Keys:
        encrypted = True

        def __init__(self) -> None:
            self.key = os.urandom(32)
            self._cipher = Cipher(self.key)

        def cipher(self, kid: str) -> Cipher:
            return self._cipher

        def sealing(self) -> tuple[str, Cipher]:
            return key_id(self.key), self._cipher

        def sealer(self) -> envelope.Sealer:
            return envelope.Sealer(self._cipher, key_id(self.key))

    keys, data = Keys(), b"weights " * 999
    object_id = hash_bytes(data)
    slab = Slab(1 << 16)
    header, sealed = stage.seal_body(
        keys.sealer(), object_id, "blob", len(data), codec.IDENTITY, data, slab.take
    )
    assert isinstance(sealed, memoryview) and sealed.obj is slab.buffer  # written in the slab, not copied
    via_parts = stage.seal_parts(
        keys, object_id, (codec.pack_header("blob", len(data), codec.IDENTITY), data)
    )
    assert header == via_parts[0] == codec.pack_header("blob", len(data), envelope.ENCRYPTED)
    for stored in (header + bytes(sealed), b"".join(via_parts)):
        inner, body = stage.open_bytes(keys, object_id, stored)
        assert (inner.kind, inner.size, inner.encoding, body) == ("blob", len(data), codec.IDENTITY, data)


def test_slabs_are_reused_last_in_first_out_and_bounded() -> None:
    pool = SlabPool(keep=2)
    a, b, c = pool.get(10), pool.get(10), pool.get(3 << 20)
    assert len(a.buffer) == slabs.ROUND and len(c.buffer) == 3 << 20  # whole MiB: the next group fits
    view = a.take(6)
    view[:] = b"abcdef"
    assert a.used == 6 and bytes(a.take(4)) == bytes(4)
    assert len(a.take(slabs.ROUND)) == slabs.ROUND and a.used == 10  # past the end: a new buffer
    for slab in (a, b, c):
        pool.put(slab)  # keeps the first two
    again = pool.get(100)
    assert again is b and again.used == 0  # the last one given back: its memory is the warmest
    assert pool.get(100) is a
    assert pool.get(100) not in (a, b, c)  # c was beyond what the pool keeps
    pool.put(c)
    pool.put(a)
    assert pool.get(2 << 20) is c  # a is too small for that: passed over, and kept
    assert pool.get(1) is a


@pytest.mark.parametrize("reading", ["mapped", "streamed"])
def test_a_chunked_file_sealed_into_reused_slabs_reads_back_whole(
    encrypted: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str
) -> None:
    # Small groups (each under the pack writer's 1 MiB write batch) and many of them: a slab
    # is given back and sealed into again while earlier groups' bytes may still be buffered.
    monkeypatch.setattr(chunk_writer, "BLOCK", 200_000)
    monkeypatch.setattr(ingest, "_settled", lambda info: reading == "mapped")
    made = []
    monkeypatch.setattr(Slab, "__init__", _counting(Slab.__init__, made))
    rng = random.Random(5)
    v1 = bytearray(rng.randbytes(9 << 20))  # over CHUNK_THRESHOLD: chunked
    v1[1 << 20 : 2 << 20] = v1[3 << 20 : 4 << 20]  # a repeated MiB: chunks met twice in one file
    (tmp_path / "v1").write_bytes(v1)
    v2 = bytearray(v1)  # same size: cut as v1 and stored as deltas against its chunks
    for at in range(0, len(v2), 700_000):
        v2[at : at + 50] = rng.randbytes(50)
    (tmp_path / "v2").write_bytes(v2)
    store = encrypted.objects
    ids: list[str] = []
    for name in ("v1", "v2"):
        with open(tmp_path / name, "rb") as f:
            ids.append(ingest.ingest_file_sized(store, f, base=ids[0] if ids else None)[0])
    groups = (9 << 20) // 200_000
    assert 0 < len(made) < groups / 2  # slabs were reused: far fewer made than groups sealed
    assert any(store.stat(c.id).encoding == codec.DELTA for c in store.chunk_list(ids[1]) or [])
    for object_id, data in zip(ids, (v1, v2), strict=True):
        assert object_id == blake3.blake3(data).hexdigest()
        assert store.read(object_id) == data
        for chunk in store.chunk_list(object_id) or []:  # every chunk sealed on disk
            assert store.open_raw_stored(chunk.id)[0].encoding == envelope.ENCRYPTED
    assert pacha.open_registry(encrypted.root).objects.read(ids[1]) == v2  # a fresh process's view


def _counting(init: Callable[[Slab, int], None], made: list[int]) -> Callable[[Slab, int], None]:
    def counted(self: Slab, capacity: int) -> None:
        made.append(capacity)
        init(self, capacity)

    return counted


@settings(max_examples=150, deadline=None)
@given(
    st.binary(min_size=0, max_size=300),
    st.integers(1, 400),
    st.sampled_from(["sound", "cut", "extend", "flip head", "flip body"]),
    st.data(),
)
def test_the_cheap_check_of_a_sealed_copy_reads_its_first_word_and_judges_as_reading_it_whole(
    data: bytes, segment: int, damage: str, draw: st.DataObject
) -> None:
    old = envelope.SEGMENT
    envelope.SEGMENT = segment  # one segment (segment >= len(data)) or many
    try:
        key = os.urandom(32)
        sealer = envelope.Sealer(Cipher(key), key_id(key))
        object_id = hash_bytes(data)
        header, sealed = stage.seal_body(sealer, object_id, "blob", len(data), codec.IDENTITY, data)
        stored = bytearray(header + bytes(sealed))
        if damage == "cut":
            del stored[-draw.draw(st.integers(1, len(stored) - 1)) :]
        elif damage == "extend":
            stored += os.urandom(draw.draw(st.integers(1, 40)))
        elif damage.startswith("flip"):
            start, end = (0, len(header) + 46) if damage == "flip head" else (len(header) + 46, len(stored))
            if start < end:
                at = draw.draw(st.integers(start, end - 1))
                stored[at] ^= 1 << draw.draw(st.integers(0, 7))
        with tempfile.TemporaryFile() as f:
            f.write(stored)
            f.flush()
            head = checks.read_for_check(f.fileno(), 0, len(stored))
        assert bytes(stored).startswith(head)
        cheap = checks.problem(object_id, head, len(stored), "blob", len(data))
        whole = checks.problem(object_id, bytes(stored), len(stored), "blob", len(data))
        assert (cheap is None) == (whole is None), (cheap, whole)
        if damage == "sound":
            assert cheap is None
            if len(data) <= segment:  # one segment: the first word says it all
                assert len(head) == min(len(stored), max(checks.HEAD, codec.MAX_HEADER_LEN + 46))
        elif damage in ("cut", "extend"):
            assert cheap is not None  # the stored length no longer fits the segment words
    finally:
        envelope.SEGMENT = old
