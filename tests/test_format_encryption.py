"""docs/format.md's "Encryption" section is enough to read an encrypted registry: this reader
uses only the document (and cryptography, blake3, zstandard), never pacha's code, to unwrap
the master key from the keyring and open every loose and packed object's envelope, then
checks each content against its id."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import blake3
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from tests.conftest import Cli

PASS = "format reader passphrase"


def check_signature(ring: dict, master: bytes) -> None:
    """The keyring's Ed25519 signature, as docs/format.md ("Keyring") describes it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    seed = blake3.blake3(master, derive_key_context="pacha 2026-12-01 keyring signing key").digest(32)
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    assert public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == ring["signer"]
    signed = {k: v for k, v in ring.items() if k != "signature"}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public.verify(bytes.fromhex(ring["signature"]), b"pacha-keyring-signature\x00v2\x00" + message)


def unwrap(root: Path, passphrase: bytes) -> dict[str, bytes]:
    ring = json.loads((root / "keyring").read_bytes())
    assert ring["format"] == "pacha-keyring" and ring["version"] == 2 and ring["generation"] >= 1
    for slot in ring["slots"]:
        kdf = slot["kdf"]
        kek = Argon2id(
            salt=bytes.fromhex(kdf["salt"]),
            length=32,
            iterations=kdf["iterations"],
            lanes=kdf["lanes"],
            memory_cost=kdf["memory_kib"],
        ).derive(passphrase)
        keys = {}
        for kid, wrapped in slot["keys"].items():
            ad = b"pacha-keyring\x00v1\x00" + slot["name"].encode() + b"\x00" + bytes.fromhex(kid)
            key = AESGCM(kek).decrypt(bytes.fromhex(wrapped["nonce"]), bytes.fromhex(wrapped["sealed"]), ad)
            assert (
                blake3.blake3(key, derive_key_context="pacha 2026-11-30 master key id").digest(8).hex() == kid
            )
            keys[kid] = key
        check_signature(ring, keys[ring["current"]])
        return keys
    raise AssertionError("no slot opened")


def parse(stored: bytes) -> tuple[str, int, int, bytes]:
    """(kind, size, encoding, body) of an object file."""
    assert stored[:5] == b"PCHO\x01"
    n = stored[6]
    kind = stored[7 : 7 + n].decode()
    (size,) = struct.unpack_from("<Q", stored, 7 + n)
    return kind, size, stored[5], stored[15 + n :]


def open_envelope(
    object_id: str, kind: str, size: int, body: bytes, keys: dict[str, bytes]
) -> tuple[int, bytes]:
    assert body[0] == 1
    inner, kid, stated = body[1], body[2:10], body[10:42]
    assert stated.hex() == object_id
    pos, index, plain = 42, 0, b""
    while True:
        (word,) = struct.unpack_from("<I", body, pos)
        n = word & 0x7FFFFFFF
        nonce = body[pos + 4 : pos + 16]
        sealed = body[pos + 16 : pos + 16 + n + 16]
        ad = (
            b"pacha-object\x00\x01"
            + bytes.fromhex(object_id)
            + bytes((len(kind),))
            + kind.encode()
            + struct.pack("<Q", size)
            + bytes((inner,))
            + kid
            + struct.pack("<Q", index)
            + struct.pack("<I", word)
        )
        plain += AESGCM(keys[kid.hex()]).decrypt(nonce, sealed, ad)
        pos += 16 + n + 16
        index += 1
        if word & 0x80000000:
            assert pos == len(body)
            return inner, plain


def content(object_id: str, stored: bytes, keys: dict[str, bytes], lookup) -> bytes:  # type: ignore[no-untyped-def]
    kind, size, encoding, body = parse(stored)
    assert encoding == 4, "an encrypted registry stores every body sealed"
    inner, plain = open_envelope(object_id, kind, size, body, keys)
    if inner == 0:
        return plain
    if inner == 1:
        return zstandard.ZstdDecompressor().stream_reader(plain, read_across_frames=True).read()
    if inner == 3:
        return b"".join(
            content(plain[i : i + 32].hex(), lookup(plain[i : i + 32].hex()), keys, lookup)
            for i in range(0, len(plain), 40)
        )
    base = content(plain[:32].hex(), lookup(plain[:32].hex()), keys, lookup)
    return zstandard.ZstdDecompressor(
        dict_data=zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    ).decompress(plain[32:], max_output_size=size)


def stored_objects(root: Path) -> dict[str, bytes]:
    out = {}
    for path in (root / "objects").glob("??/*"):
        out[path.parent.name + path.name] = path.read_bytes()
    for idx in (root / "objects" / "pack").glob("*.idx"):
        data, pack = idx.read_bytes(), idx.with_suffix(".pack").read_bytes()
        count = struct.unpack_from("<I", data, 8 + 255 * 4)[0]
        for i in range(count):
            object_id = data[1032 + 32 * i : 1064 + 32 * i].hex()
            (offset,) = struct.unpack_from("<Q", data, 1032 + 32 * count + 8 * i)
            (length,) = struct.unpack_from("<Q", data, 1032 + 40 * count + 8 * i)
            out.setdefault(object_id, pack[offset : offset + length])
    return out


def test_an_encrypted_registry_reads_from_the_document_alone(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "registry", tmp_path)
    cli.env["PACHA_PASSPHRASE"] = PASS
    cli("init", "--encrypt")
    big = tmp_path / "big.bin"
    rng = random.Random(4)
    words = [bytes(rng.choices(b"abcdefghij", k=6)) for _ in range(500)]
    big.write_bytes(b" ".join(rng.choices(words, k=(10 << 20) // 7)))  # chunked, zstd chunks
    cli("model", "register", "m", big, "-v", "1.0.0", "-d", "a described model")
    small = tmp_path / "small.txt"
    small.write_text("hello encrypted world\n" * 10)
    blob = cli("hash-object", "-w", small).text.strip()
    cli("write-ref", "keep/small", blob, "--create")
    keys = unwrap(cli.registry, PASS.encode())
    objects = stored_objects(cli.registry)
    assert len(objects) > 10
    for object_id, stored in objects.items():
        data = content(object_id, stored, keys, objects.__getitem__)
        assert blake3.blake3(data).hexdigest() == object_id
    assert content(blob, objects[blob], keys, objects.__getitem__) == small.read_bytes()
