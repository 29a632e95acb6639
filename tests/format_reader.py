"""An independent reader of a registry's objects, written from docs/format.md alone.

It imports nothing of pacha (only struct, json, blake3, zstandard and pyzstd), so that
the document, not the code, is what it follows: where the two disagree, tests/test_format.py
fails. It reads loose objects, packs and their indexes, the multi-pack index, and the
body encodings (identity, zstd, zstd delta, chunk list), and checks every id. Section names
in the comments are those of docs/format.md.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pyzstd
import zstandard
from blake3 import blake3

# "Object files"
OBJECT_MAGIC = b"PCHO"
OBJECT_VERSION = 1
ENCODING_NAMES = {0: "identity", 1: "zstd", 2: "zstd-delta", 3: "chunks"}
IDENTITY, ZSTD, DELTA, CHUNKS = 0, 1, 2, 3
KIND = re.compile(rb"[a-z0-9-]{1,16}")
CHUNK_ENTRY = struct.Struct("<32sQ")  # chunk id (raw), chunk size (u64)
DELTA_READ_LIMIT = 64  # readers refuse chains deeper than this
# "Packs", "Multi-pack index"
PACK_MAGIC, INDEX_MAGIC, MIDX_MAGIC = b"PCHP", b"PCHI", b"PCHM"
PACK_VERSION = INDEX_VERSION = MIDX_VERSION = 1
FANOUT = struct.Struct("<256I")
ID = 32  # raw id and checksum length
HEX_ID = re.compile(r"[0-9a-f]{64}")


class FormatError(Exception):
    """The bytes on disk break docs/format.md."""


def check_prologue(data: bytes, magic: bytes, version: int, what: str) -> None:
    """Bytes 0-7 of a pack, index or multi-pack index: magic, version, three reserved bytes.

    "Reserved bytes": writers put zero; a reader refuses a file whose reserved bytes are not zero.
    """
    if len(data) < 8 or data[:4] != magic:
        raise FormatError(f"{what}: bad magic {data[:4]!r}")
    if data[4] != version:
        raise FormatError(f"{what}: version {data[4]}, this reader knows {version}")
    if data[5:8] != bytes(3):
        raise FormatError(f"{what}: reserved bytes {data[5:8].hex()} are not zero")


@dataclass(frozen=True)
class Header:
    kind: str
    size: int  # content size in bytes
    encoding: int
    length: int  # bytes the header occupies; the body follows


def parse_header(stored: bytes, what: str) -> Header:
    """The header of an object file (or pack entry): magic, version, encoding, kind, size."""
    if len(stored) < 7 or stored[:4] != OBJECT_MAGIC:
        raise FormatError(f"{what}: bad object magic")
    if stored[4] != OBJECT_VERSION:
        raise FormatError(f"{what}: object format version {stored[4]}")
    encoding, n = stored[5], stored[6]
    if encoding not in ENCODING_NAMES:
        raise FormatError(f"{what}: unknown body encoding {encoding}")
    kind = stored[7 : 7 + n]
    if not 1 <= n <= 16 or KIND.fullmatch(kind) is None or len(stored) < 15 + n:
        raise FormatError(f"{what}: bad kind or truncated header")
    (size,) = struct.unpack_from("<Q", stored, 7 + n)
    return Header(kind.decode("ascii"), size, encoding, 15 + n)


@dataclass
class PackIndex:
    """pack-<P>.idx: fan-out, sorted ids, offsets and lengths of the entries in pack-<P>.pack."""

    path: Path
    pack_id: bytes
    ids: list[bytes]
    offsets: tuple[int, ...]
    lengths: tuple[int, ...]
    position: dict[bytes, int] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> PackIndex:
        data = path.read_bytes()
        check_prologue(data, INDEX_MAGIC, INDEX_VERSION, str(path))
        fanout = FANOUT.unpack_from(data, 8)
        n = fanout[255]
        start = 8 + FANOUT.size  # 1032
        if len(data) != start + 48 * n + 2 * ID:
            raise FormatError(f"{path}: {len(data)} bytes for {n} ids")
        ids = [data[start + ID * k : start + ID * (k + 1)] for k in range(n)]
        offsets = struct.unpack_from(f"<{n}Q", data, start + 32 * n)
        lengths = struct.unpack_from(f"<{n}Q", data, start + 40 * n)
        pack_id = data[start + 48 * n : start + 48 * n + ID]
        if blake3(data[:-ID]).digest() != data[-ID:]:
            raise FormatError(f"{path}: checksum does not match")
        if blake3(data[start : start + 48 * n]).digest() != pack_id:
            raise FormatError(f"{path}: the pack id is not the BLAKE3 of the three columns")
        if path.name != f"pack-{pack_id.hex()}.idx":
            raise FormatError(f"{path}: named for another pack id than {pack_id.hex()}")
        check_sorted_with_fanout(ids, fanout, str(path))
        index = cls(path, pack_id, ids, offsets, lengths)
        index.position = {raw: k for k, raw in enumerate(ids)}
        return index

    def entry(self, raw_id: bytes) -> tuple[int, int] | None:
        """(offset, length) of raw_id's entry, by fan-out and binary search."""
        k = self.position.get(raw_id)
        return None if k is None else (self.offsets[k], self.lengths[k])


def check_sorted_with_fanout(ids: list[bytes], fanout: tuple[int, ...], what: str) -> None:
    """Ids sorted ascending and unique; fan-out entry b = number of ids whose first byte <= b."""
    if any(a >= b for a, b in itertools.pairwise(ids)):
        raise FormatError(f"{what}: ids are not sorted and unique")
    counts = [0] * 256
    for raw in ids:
        counts[raw[0]] += 1
    running = 0
    for b in range(256):
        running += counts[b]
        if fanout[b] != running:
            raise FormatError(f"{what}: fan-out entry {b} is {fanout[b]}, {running} ids start at or below it")


@dataclass
class Pack:
    """pack-<P>.pack with its index: header, entries back to back, the pack id as trailer."""

    index: PackIndex
    data: bytes

    @classmethod
    def read(cls, index: PackIndex) -> Pack:
        path = index.path.with_suffix(".pack")
        data = path.read_bytes()
        check_prologue(data, PACK_MAGIC, PACK_VERSION, str(path))
        if data[-ID:] != index.pack_id:
            raise FormatError(f"{path}: trailer is not the pack id its index names")
        # Entries lie back to back between the 8-byte header and the trailer.
        spans = sorted(zip(index.offsets, index.lengths, strict=True))
        end = 8
        for offset, length in spans:
            if offset != end:
                raise FormatError(f"{path}: entry at {offset}, the previous one ended at {end}")
            end = offset + length
        if end != len(data) - ID:
            raise FormatError(f"{path}: entries end at {end}, the trailer starts at {len(data) - ID}")
        return cls(index, data)

    def stored(self, raw_id: bytes) -> bytes | None:
        found = self.index.entry(raw_id)
        return None if found is None else self.data[found[0] : found[0] + found[1]]


@dataclass
class MultiPackIndex:
    """objects/pack/multi-pack-index: one sorted table of ids, each with the number of a pack."""

    pack_names: list[str]
    holder: dict[bytes, int]  # raw id -> pack number

    @classmethod
    def read(cls, path: Path) -> MultiPackIndex:
        data = path.read_bytes()
        check_prologue(data, MIDX_MAGIC, MIDX_VERSION, str(path))
        (p,) = struct.unpack_from("<I", data, 8)
        names = [f"pack-{data[12 + ID * k : 12 + ID * (k + 1)].hex()}" for k in range(p)]
        fanout = FANOUT.unpack_from(data, 12 + ID * p)
        n = fanout[255]
        start = 12 + ID * p + FANOUT.size  # 1036 + 32·P
        if len(data) != start + 36 * n + ID:
            raise FormatError(f"{path}: {len(data)} bytes for {p} packs and {n} ids")
        if blake3(data[:-ID]).digest() != data[-ID:]:
            raise FormatError(f"{path}: checksum does not match")
        ids = [data[start + ID * k : start + ID * (k + 1)] for k in range(n)]
        check_sorted_with_fanout(ids, fanout, str(path))
        numbers = struct.unpack_from(f"<{n}I", data, start + ID * n)
        if any(k >= p for k in numbers):
            raise FormatError(f"{path}: a pack number is not below {p}")
        return cls(names, dict(zip(ids, numbers, strict=True)))


class Registry:
    """Every stored copy of every object of one registry, read as docs/format.md says."""

    def __init__(self, root: Path) -> None:
        self.root = root
        objects = root / "objects"
        self.loose: dict[str, Path] = {}
        for shard in sorted(objects.iterdir()):
            if len(shard.name) == 2 and shard.is_dir():
                for path in sorted(shard.iterdir()):
                    object_id = shard.name + path.name
                    if HEX_ID.fullmatch(object_id) is None:
                        raise FormatError(f"{path}: not an object file name")
                    self.loose[object_id] = path
        pack_dir = objects / "pack"
        indexes = sorted(pack_dir.glob("pack-*.idx")) if pack_dir.is_dir() else []
        self.packs = {p.index.path.stem: p for p in (Pack.read(PackIndex.read(i)) for i in indexes)}
        midx = pack_dir / "multi-pack-index"
        self.midx = MultiPackIndex.read(midx) if midx.exists() else None

    def packed(self) -> dict[str, list[tuple[Pack, str]]]:
        """Pack name -> (pack, hex id) of every entry."""
        return {name: [(pack, raw.hex()) for raw in pack.index.ids] for name, pack in self.packs.items()}

    def stored(self, object_id: str) -> bytes:
        """The stored bytes readers use ("Copies, damage and reader precedence"): the loose copy
        first; then the pack the multi-pack index names; then the packs it does not name."""
        if object_id in self.loose:
            return self.loose[object_id].read_bytes()
        raw = bytes.fromhex(object_id)
        named: set[str] = set()
        if self.midx is not None and all(n in self.packs for n in self.midx.pack_names):
            named = set(self.midx.pack_names)
            number = self.midx.holder.get(raw)
            if number is not None:
                found = self.packs[self.midx.pack_names[number]].stored(raw)
                if found is None:
                    raise FormatError(f"{object_id}: the multi-pack index names a pack without it")
                return found
        for name, pack in self.packs.items():
            if name not in named and (found := pack.stored(raw)) is not None:
                return found
        raise FormatError(f"{object_id}: not stored")

    def read(self, object_id: str, stored: bytes | None = None, depth: int = 0) -> tuple[Header, bytes]:
        """Decode one object (from the given stored bytes, or the copy readers use) and check
        its length and id ("Verification")."""
        stored = self.stored(object_id) if stored is None else stored
        header = parse_header(stored, object_id)
        body = stored[header.length :]
        content = self.decode(header, body, object_id, depth)
        if len(content) != header.size:
            raise FormatError(f"{object_id}: {len(content)} bytes, the header says {header.size}")
        if blake3(content).hexdigest() != object_id:
            raise FormatError(f"{object_id}: content hashes to {blake3(content).hexdigest()}")
        return header, content

    def decode(self, header: Header, body: bytes, object_id: str, depth: int) -> bytes:
        if header.encoding == IDENTITY:
            return body
        if header.encoding == ZSTD:  # one or more frames, read across frames
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body), read_across_frames=True)
            return reader.read()
        if header.encoding == DELTA:
            if depth >= DELTA_READ_LIMIT:
                raise FormatError(f"{object_id}: delta chain deeper than {DELTA_READ_LIMIT}")
            base_id = body[:ID].hex()
            _, base = self.read(base_id, depth=depth + 1)
            prefix = pyzstd.ZstdDict(base, is_raw=True).as_prefix
            return pyzstd.decompress(body[ID:], zstd_dict=prefix, option={pyzstd.DParameter.windowLogMax: 31})
        return b"".join(self.chunk(c, size, object_id) for c, size in chunk_list(body, object_id))

    def chunk(self, chunk_id: str, size: int, whole: str) -> bytes:
        header, content = self.read(chunk_id)
        if header.kind != "blob" or header.size != size:
            found = f"a {header.kind} of {header.size} bytes"
            raise FormatError(f"{whole}: chunk {chunk_id} is {found}, the chunk list says {size} bytes")
        return content

    def links(self, object_id: str) -> set[str]:
        """What one object keeps alive ("Garbage collection"): tree entries, record links,
        the chunks of a chunk list, the base of a delta (of the copy readers use)."""
        stored = self.stored(object_id)
        header = parse_header(stored, object_id)
        body = stored[header.length :]
        out: set[str] = set()
        if header.encoding == DELTA:
            out.add(body[:ID].hex())
        if header.encoding == CHUNKS:
            out.update(c for c, _ in chunk_list(body, object_id))
        if header.kind == "tree":
            out.update(entry["id"] for entry in json.loads(self.read(object_id)[1])["entries"])
        elif header.kind == "record":
            out.update(json.loads(self.read(object_id)[1]).get("links", []))
        return out

    def closure(self, roots: set[str]) -> set[str]:
        """Every object reachable from roots."""
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            object_id = todo.pop()
            if object_id not in seen:
                seen.add(object_id)
                todo.extend(self.links(object_id) - seen)
        return seen


def chunk_list(body: bytes, object_id: str) -> list[tuple[str, int]]:
    if len(body) % CHUNK_ENTRY.size:
        raise FormatError(f"{object_id}: a chunk list of {len(body)} bytes")
    return [(raw.hex(), size) for raw, size in CHUNK_ENTRY.iter_unpack(body)]
