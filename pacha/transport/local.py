"""The adapter between remotes and the local registry: with its sending half
(pacha.transport.outgoing), the only modules that touch store internals.

Everything transport needs from pacha.store, pacha.objects and pacha.refs goes through here
(the stored bytes of an object, what it links to, verifying, installing received objects as a
pack, the pack and index formats, tracking refs and the mirrored remote log), so that a
reorganisation of the store costs these two files.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple, cast

from pacha import codec
from pacha import objects as kinds
from pacha.crypto import stage
from pacha.errors import CorruptObject, ObjectNotFound
from pacha.hashing import digest as blake3_digest
from pacha.ids import ZERO_ID
from pacha.refs.transaction import Recorded
from pacha.store.encodings import decode_whole
from pacha.store.pack_format import INDEX_HEADER
from pacha.store.reader import verified
from pacha.transport.layout import Change

if TYPE_CHECKING:
    from pacha.crypto.unlock import RegistryKeys
    from pacha.registry import Registry
    from pacha.store import ObjectStore
    from pacha.store.pack_writer import PackWriter

STORAGE_LINKING = frozenset({codec.CHUNKS, codec.DELTA})
_FANOUT = struct.Struct("<256I")
_U64 = struct.Struct("<Q")
_INDEX_FIXED = 8 + 1024  # header + fan-out
_TRAILER = 64  # pack id + checksum
CHUNK_ENTRY = 40  # a chunk list entry: chunk id (32) + size (u64)


# --- reading local objects ---------------------------------------------------------
def has(store: ObjectStore, object_id: str) -> bool:
    return store.has(object_id)


def present(store: ObjectStore, ids: Iterable[str]) -> set[str]:
    """Which of ids this store holds, looked up together: the pack indexes first, the pack
    directory re-listed once for the misses (has() re-lists it on every miss, the whole cost
    of a pull's lookups of 13,000 missing chunks), then loose files and the thread's batch."""
    ids = list(ids)
    found = {i for i in ids if store.packs.find(i, relist=False) is not None}
    rest = [i for i in ids if i not in found]
    if rest and store.packs.refresh():  # another process may have added a pack
        found.update(i for i in rest if store.packs.find(i, relist=False) is not None)
        rest = [i for i in rest if i not in found]
    batch = store._batch
    found.update(i for i in rest if store.loose.has(i) or (batch is not None and i in batch))
    return found


def stored_bytes(store: ObjectStore, object_id: str) -> bytes:
    """The object's stored form (header + encoded body), as a loose file or pack entry holds it:
    an encrypted registry's envelope stays sealed (a plain body left by an unfinished `pacha
    encrypt` is sealed on the way), so a remote receives ciphertext only (h-seal's hook)."""
    header, raw = store.open_raw_stored(object_id)
    with raw:
        body = raw.read()
    parts = stage.seal_parts(
        store.keys, object_id, (codec.pack_header(header.kind, header.size, header.encoding), body)
    )
    return b"".join(parts)


def stored_size(store: ObjectStore, object_id: str) -> int:
    """Bytes of the object's stored form (what it adds to a pack)."""
    return store.stored_size(object_id)


class Described(NamedTuple):
    """What a push's walk needs of a local object, from its header alone."""

    length: int  # bytes of its stored form
    kind: str
    encoding: int  # the inner one of a sealed body


def describe(store: ObjectStore, object_id: str) -> Described | None:
    """Length, kind and encoding of a local object (None: not here). A packed copy's header is
    read in one pread (~5 us, against ~35 us for the store's general stat, which a push's walk
    of a 1 GiB file pays 13,000 times); a loose, sealed or damaged one goes the store's way."""
    where = store.packed_entry(object_id)
    if where is not None:
        fd, offset, length = where
        try:
            head = os.pread(fd, min(codec.MAX_HEADER_LEN, length), offset)
            header = codec.parse_header(head, object_id)
        except (OSError, CorruptObject):
            header = None  # the store's way tells a damaged copy from a replaced pack
        if header is not None and header.encoding != codec.ENCRYPTED:
            return Described(length, header.kind, header.encoding)
    try:
        info = store.stat(object_id)
        return Described(store.stored_size(object_id), info.kind, info.encoding)
    except ObjectNotFound:
        return None


def links(store: ObjectStore, object_id: str) -> list[str]:
    """What object_id needs: the ids a tree or record names, its chunks, its delta base."""
    info = store.stat(object_id)
    out: list[str] = []
    if info.kind in kinds.STRUCTURED_KINDS:
        out.extend(kinds.links(info.kind, store.read(object_id)))
    if info.encoding in STORAGE_LINKING:
        out.extend(store.storage_links(object_id))
    return out


def chunk_bytes(store: ObjectStore, object_id: str) -> bytes:
    """A chunk's bytes as stored here (already verified when it was stored or received), for
    hashing the file it belongs to: decoded without hashing the chunk again (as the store's
    chunked reader does); a form this shortcut does not know is read the verifying way."""
    header, raw = store.open_stored(object_id)
    with raw:
        body = raw.read()
    data = decode_whole(header, body) if header.encoding in (codec.IDENTITY, codec.ZSTD) else None
    return data if data is not None else store.read(object_id)


def verify(store: ObjectStore, object_id: str) -> None:
    """Raise CorruptObject unless the object decodes to bytes that hash to its id.

    A chunk list is checked by reading the whole file it lists (which also proves every
    chunk); callers verify the chunks themselves first, to name a damaged one."""
    with store.open(object_id) as reader:
        reader.verify()


def is_chunk_list(store: ObjectStore, object_id: str) -> bool:
    return store.stat(object_id).encoding == codec.CHUNKS


class Arrived(NamedTuple):
    """A received stored form, checked in the thread that downloaded it."""

    object_id: str
    data: bytes | memoryview  # the stored form (a view into the buffer it arrived in)
    verified: bool  # decoded and hashed to its id already (identity or one zstd frame)
    structured: bool  # a tree or record (names other objects), read once installed
    needs: list[str]  # what it needs to be read: a chunk list's chunks, a delta's base
    content: bytes | memoryview | None  # a verified blob's bytes (for a chunked file's hash)
    listed: tuple[int, list[tuple[str, int]]] | None  # a chunk list: file size, (chunk, size)s


def check_arrived(object_id: str, data: bytes | memoryview, keys: RegistryKeys) -> Arrived:
    """Check a received stored form where it arrived: a sound header, and for an identity or
    single-frame zstd body (every chunk and small file) the decoded bytes hashing to the id, so
    that nothing is read back from disk to be verified; raises CorruptObject. Chunk lists,
    deltas and sealed bodies need other objects (or keys) and are verified from the store.
    data may be a view into the buffer of a ranged GET (not copied)."""
    header = codec.parse_header(bytes(data[: codec.MAX_HEADER_LEN]), object_id)
    if header.encoding == codec.IDENTITY and len(data) - header.length != header.size:
        raise CorruptObject(f"object {object_id} is corrupt: body length differs from its header")
    content: bytes | memoryview | None = None
    if header.encoding in (codec.IDENTITY, codec.ZSTD):
        body = memoryview(data)[header.length :]
        content = decode_whole(header, cast(bytes, body))  # identity: a view, no copy
        if content is not None:
            verified(object_id, header.size, content)
    structured = header.kind in kinds.STRUCTURED_KINDS
    needs = storage_links_of(object_id, data, keys)  # a sealed list or delta: opened with keys
    listed = None
    if header.encoding == codec.CHUNKS:
        body = memoryview(data)[header.length :]
        sizes = [_U64.unpack_from(body, i + 32)[0] for i in range(0, len(body), CHUNK_ENTRY)]
        listed = (header.size, list(zip(needs, sizes, strict=True)))
    kept = content if header.kind == kinds.BLOB else None
    return Arrived(object_id, data, content is not None, structured, needs, kept, listed)


# --- installing received objects ---------------------------------------------------
@contextlib.contextmanager
def receiving(store: ObjectStore, writes: ThreadPoolExecutor | None = None) -> Iterator[PackWriter]:
    """A batch: objects added go into one new local pack, installed only if the block ends
    without an exception (readers of this thread see them meanwhile). writes: a thread that
    writes the pack meanwhile (PackWriter.background), so this one goes on taking objects."""
    with store.batch() as writer:
        saved, writer.background = writer.background, writes or writer.background
        try:
            yield writer
            writer.settle()  # before an outer batch (if any) writes on without that thread
        finally:
            writer.background = saved


# --- packs for upload --------------------------------------------------------------
class IndexEntries(NamedTuple):
    pack_id: str
    ids: list[str]
    offsets: list[int]
    lengths: list[int]


def parse_index(data: bytes, pack_id: str) -> IndexEntries:
    """Read a pack index (docs/format.md, Packs) and check it: raises CorruptObject."""
    where = f"pack index {pack_id}"
    if len(data) < _INDEX_FIXED + _TRAILER or data[:8] != INDEX_HEADER:
        raise CorruptObject(f"{where} is damaged: bad header or too short")
    count = _FANOUT.unpack_from(data, 8)[255]
    if len(data) != _INDEX_FIXED + 48 * count + _TRAILER:
        raise CorruptObject(f"{where} is damaged: its size does not match its {count} entries")
    if blake3_digest(memoryview(data)[:-32]) != data[-32:]:
        raise CorruptObject(f"{where} is damaged: checksum mismatch")
    columns = memoryview(data)[_INDEX_FIXED : _INDEX_FIXED + 48 * count]
    if blake3_digest(columns).hex() != pack_id or data[-64:-32].hex() != pack_id:
        raise CorruptObject(f"{where} is damaged: it names another pack")
    ids_raw = columns[: 32 * count].tobytes()
    ids = [ids_raw[i : i + 32].hex() for i in range(0, len(ids_raw), 32)]
    offsets = list(struct.unpack_from(f"<{count}Q", columns, 32 * count))
    lengths = list(struct.unpack_from(f"<{count}Q", columns, 40 * count))
    return IndexEntries(pack_id, ids, offsets, lengths)


# --- local refs: remote-tracking refs and the mirrored remote log ------------------
TRACKING_PREFIX = "remotes/"
_OWN_GROUP = 1 << 62  # group of a push's own changes (after every carried transaction)
_REMOTE_LOG_MAP = "remote-log:"  # map name per remote: key = segment seq (u64 BE), value = segment


def tracking_refs(registry: Registry, remote_name: str) -> dict[str, str]:
    """The remote-tracking refs of remote_name, by remote ref name."""
    prefix = f"{TRACKING_PREFIX}{remote_name}/"
    return {name[len(prefix) :]: value for name, value in registry.refs.iter(prefix)}


def mirror_segment(
    registry: Registry,
    remote_name: str,
    changes: Sequence[Change],
    who: str,
    message: str,
    when_ns: int,
    segment: tuple[int, bytes] | None,
) -> None:
    """In one local transaction: apply a push's changes of remote refs to
    remotes/<remote_name>/<name> (ZERO_ID: absent) and keep the remote's segment (seq, bytes)
    verbatim, its remote times included. Each change is replayed into the reflog with the who,
    message and time of the machine that made it (a change the push did not carry: the pusher's
    who and message); changes one transaction made there stay one transaction here. Objects
    need not be here (a lazy registry fetches them on demand)."""
    tx = registry.refs.transaction(message, who)
    have = tracking_refs(registry, remote_name)
    groups: dict[int, int] = {}  # the pusher's transaction number -> its group here, in order
    history: dict[str, list[Recorded]] = {}
    for c in changes:
        if c.who is None:  # not carried: the push's own change, after the carried ones
            record = Recorded(c.old, c.new, who, when_ns, message, _OWN_GROUP)
        else:
            group = groups.setdefault(c.txn, len(groups))
            record = Recorded(c.old, c.new, c.who, c.when_ns or 0, c.message or "", group)
        history.setdefault(c.name, []).append(record)
    for name, changes_of in history.items():
        new = changes_of[-1].new
        tx.replay(
            f"{TRACKING_PREFIX}{remote_name}/{name}",
            None if new == ZERO_ID else new,
            have.get(name),
            changes_of,
        )
    if segment is not None:
        tx.map_set(_REMOTE_LOG_MAP + remote_name, segment[0].to_bytes(8, "big"), segment[1])
    tx.commit()


def remembered_segments(registry: Registry, remote_name: str) -> list[tuple[int, bytes]]:
    """The kept segments of remote_name, oldest first."""
    return [(int.from_bytes(k, "big"), v) for k, v in registry.refs.map_scan(_REMOTE_LOG_MAP + remote_name)]


def object_missing(exc: Exception) -> bool:
    return isinstance(exc, ObjectNotFound)


def structured_links(store: ObjectStore, object_id: str) -> list[str]:
    """The ids a tree or record names (not its chunks or delta base); [] for a blob (known from
    its header alone: describe)."""
    about = describe(store, object_id)
    if about is None:
        raise ObjectNotFound(f"object {object_id} not found")
    if about.kind in kinds.STRUCTURED_KINDS:
        return kinds.links(about.kind, store.read(object_id))
    return []


def storage_links_of(object_id: str, data: bytes | memoryview, keys: RegistryKeys) -> list[str]:
    """What a stored form (header + body, as received) needs to be read: the chunks of a chunk
    list (40-byte entries: id, u64 size) or the base of a delta (its first 32 body bytes);
    docs/format.md, Object files. A sealed chunk list or delta is opened with keys (h-seal's
    hook). Raises CorruptObject for a malformed one (AuthenticationFailed: altered)."""
    header = codec.parse_header(bytes(data[: codec.MAX_HEADER_LEN]), object_id)
    body = memoryview(data)[header.length :]
    if header.encoding == codec.ENCRYPTED:
        if len(body) < 2 or body[1] not in STORAGE_LINKING:
            return []  # no links (a malformed envelope is refused when it is verified)
        header, opened = stage.open_bytes(keys, object_id, data)
        body = memoryview(opened)
    if header.encoding == codec.CHUNKS:
        if len(body) % CHUNK_ENTRY:
            raise CorruptObject(f"object {object_id} is corrupt: its chunk list is not whole entries")
        return [body[i : i + 32].hex() for i in range(0, len(body), CHUNK_ENTRY)]
    if header.encoding == codec.DELTA:
        if len(body) < 32:
            raise CorruptObject(f"object {object_id} is corrupt: its delta names no base")
        return [body[:32].hex()]
    return []
