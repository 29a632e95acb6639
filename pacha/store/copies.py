"""The stored copies of one object, and cheap checks that a copy is sound.

An object may be stored more than once: loose and in a pack (after
`unpack-objects`, or a pack written while a loose copy existed), or in several
packs. A copy can be damaged (a crash of another tool leaves an empty file, a
disk flips bits). Three rules keep a damaged copy from costing data:

- A write that finds its object already stored checks that copy cheaply
  (`problem`: the header parses, names the expected kind and size, and the
  stored length fits the encoding; for a pack entry, that it lies inside its
  pack). A damaged copy is not reused: the good bytes are written as a loose
  file, atomically replacing a damaged loose copy.
- Readers prefer the loose copy, and fall back to a packed one when the loose
  copy fails the same cheap check (ObjectStore.open_stored), so the good copy a
  write just made is the one read.
- `fsck` verifies every copy of an object stored more than once, names what
  restores a damaged object, and `fsck --repair` rewrites a damaged copy from a
  good one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, NamedTuple

from pacha import codec
from pacha.crypto import envelope, stage
from pacha.errors import CorruptObject, PachaError
from pacha.store.pack import CHECKSUM, PACK_HEADER

if TYPE_CHECKING:
    from pacha.store import ObjectStore
    from pacha.store.pack import Pack

HEAD = 64  # bytes read from the start of a copy: the header and the start of the body
WHOLE = 8 << 20  # a copy up to this size is read whole, so its zstd frames can be walked
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK_ENTRY = 40
_DELTA_BASE = 32

SOUND, MISSING, DAMAGED = "sound", "missing", "damaged"


_FCS_BYTES = (0, 2, 4, 8)
_DICT_BYTES = (0, 1, 2, 4)


def frames_problem(body: bytes | memoryview, size: int) -> str | None:
    """Why body is not a whole sequence of zstd frames whose declared content sizes (where
    given) add up to size; None if it is. Walks the frame and block headers only (RFC 8878,
    3.1): a truncated, extended or overwritten body is found without decompressing it."""
    pos, total, declared = 0, 0, True
    end = len(body)
    while pos < end:
        if pos + 8 > end:
            return f"zstd data is truncated at byte {pos}"
        magic = int.from_bytes(body[pos : pos + 4], "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:  # a skippable frame
            pos += 8 + int.from_bytes(body[pos + 4 : pos + 8], "little")
            continue
        if magic != 0xFD2FB528:
            return f"no zstd frame at byte {pos}"
        descriptor = body[pos + 4]
        single = (descriptor >> 5) & 1
        fcs_len = _FCS_BYTES[descriptor >> 6] or single  # flag 0: one byte if single-segment
        fcs_at = pos + 5 + (0 if single else 1) + _DICT_BYTES[descriptor & 3]
        if descriptor & 0x08 or fcs_at + fcs_len > end:
            return f"bad or truncated zstd frame header at byte {pos}"
        if fcs_len:
            frame_size = int.from_bytes(body[fcs_at : fcs_at + fcs_len], "little")
            total += frame_size + (256 if fcs_len == 2 else 0)
        else:
            declared = False
        pos = fcs_at + fcs_len
        while True:
            if pos + 3 > end:
                return f"zstd data is truncated at byte {pos}"
            block = int.from_bytes(body[pos : pos + 3], "little")
            kind = (block >> 1) & 3
            if kind == 3:
                return f"reserved zstd block type at byte {pos}"
            pos += 3 + (1 if kind == 1 else block >> 3)
            if block & 1:
                break
        pos += 4 if descriptor & 0x04 else 0  # content checksum
    if pos != end:
        return f"zstd data is truncated at byte {end} (the last frame needs {pos - end} more)"
    if declared and total != size:
        return f"zstd frames hold {total} bytes, header says {size}"
    return None


def read_for_check(fd: int, offset: int, length: int) -> bytes:
    """What the cheap check reads of a copy of length bytes at offset: its first HEAD bytes,
    or all of it when its encoding is walked (zstd frames, a delta, a chunk list) and it is
    at most WHOLE bytes; an identity body needs only its length. Raises OSError."""
    head = os.pread(fd, min(length, HEAD), offset)
    if HEAD < length <= WHOLE and len(head) > 5 and head[5] != codec.IDENTITY:
        head += os.pread(fd, length - len(head), offset + len(head))
    return head


def _frame_start_ok(start: bytes) -> bool:
    """A zstd body starts with a frame: a zstd frame or a skippable one (RFC 8878 3.1.2)."""
    if len(start) < 4:
        return False
    return start[:4] == _ZSTD_MAGIC or (start[0] & 0xF0 == 0x50 and start[1:4] == b"\x2a\x4d\x18")


BaseCheck = Callable[[str], bool]


def problem(
    object_id: str,
    head: bytes,
    stored_length: int,
    kind: str | None = None,
    size: int | None = None,
    base_ok: BaseCheck | None = None,
) -> str | None:
    """Why a copy is damaged, judged from its first bytes (head, at least HEAD of them when
    the copy is that long) and its stored length; None if it looks sound.

    kind and size, when known (the writer holds the bytes), must be what the header says.
    base_ok, if given, says whether a delta's base is sound (a delta against a damaged
    base cannot be read either). Cheap by design: the body is not decoded (fsck and
    readers verify the content).
    """
    header = _expected_header(head, kind, size)
    if header is None:
        try:
            header = codec.parse_header(head[: codec.MAX_HEADER_LEN], object_id)
        except CorruptObject as exc:
            return str(exc)
    body = stored_length - header.length
    return header_problem(object_id, header, body, head[header.length :], kind, size, base_ok)


_V1 = codec.MAGIC + bytes((codec.FORMAT_VERSION,))


def _expected_header(head: bytes, kind: str | None, size: int | None) -> codec.Header | None:
    """The header, if head starts with exactly the header of a kind object of size bytes
    (compared as bytes: the common case costs no parsing); else None."""
    if kind is None or size is None or head[:5] != _V1 or len(head) < 6 or head[5] not in codec.ENCODINGS:
        return None
    raw = kind.encode("ascii")
    end = 7 + len(raw)
    if head[6:end] != bytes((len(raw),)) + raw or head[end : end + 8] != size.to_bytes(8, "little"):
        return None
    return codec.Header(kind, size, head[5], end + 8)


def header_problem(
    object_id: str,
    header: codec.Header,
    body: int,
    start: bytes | None = None,
    kind: str | None = None,
    size: int | None = None,
    base_ok: BaseCheck | None = None,
) -> str | None:
    """problem() for a header already parsed: body is the stored body's length, start its
    first bytes if read (None: checks that need them are skipped)."""
    if kind is not None and header.kind != kind:
        return f"object {object_id} is corrupt: its header says a {header.kind}, not a {kind}"
    if size is not None and header.size != size:
        return f"object {object_id} is corrupt: its header says {header.size} bytes, not {size}"
    encoding = header.encoding
    why = None
    if body < 0:
        why = "truncated header"
    elif encoding == codec.IDENTITY and body != header.size:
        why = f"body has {body} bytes, header says {header.size}"
    elif encoding == codec.ZSTD and header.size and body < 4:
        why = f"zstd body of {body} bytes is truncated"
    elif encoding == codec.ZSTD and header.size and start is not None and not _frame_start_ok(start[:4]):
        why = "body is not zstd data"
    elif encoding == codec.DELTA and body < _DELTA_BASE + 4:
        why = f"delta body of {body} bytes is truncated"
    elif encoding == codec.DELTA and start is not None and len(start) >= _DELTA_BASE + 4:
        if not _frame_start_ok(start[_DELTA_BASE : _DELTA_BASE + 4]):
            why = "delta body is not zstd data"
        elif base_ok is not None and not base_ok(start[:_DELTA_BASE].hex()):
            base_id = start[:_DELTA_BASE].hex()
            return f"object {object_id} cannot be read: its delta base {base_id} is missing or damaged"
    elif encoding == codec.ENCRYPTED and body < envelope.PREFIX + envelope.SEGMENT_HEAD + 16:
        why = f"encrypted body of {body} bytes is truncated"
    elif encoding == codec.ENCRYPTED and start is not None and len(start) == body:
        why = _envelope_problem(header, start)
    elif encoding == codec.CHUNKS and (body % _CHUNK_ENTRY or (header.size and not body)):
        why = f"chunk list of {body} bytes is not a whole number of entries"
    elif start is not None and len(start) == body:  # the whole body is at hand
        why = _whole_body_problem(header, start)
    return None if why is None else f"object {object_id} is corrupt: {why}"


def _envelope_problem(header: codec.Header, body: bytes) -> str | None:
    """Structural checks of a whole envelope, without its key: its segments fill it exactly,
    and what they hold fits the inner encoding (identity: the size; a chunk list: whole entries)."""
    try:
        length, inner = envelope.length(body)
    except ValueError as exc:
        return str(exc)
    if length != len(body):
        return f"{len(body) - length} bytes follow the last encrypted segment"
    if body[1] == codec.IDENTITY and inner != header.size:
        return f"encrypted body holds {inner} bytes, header says {header.size}"
    if body[1] == codec.CHUNKS and inner % _CHUNK_ENTRY:
        return f"encrypted chunk list of {inner} bytes is not a whole number of entries"
    return None


def _whole_body_problem(header: codec.Header, body: bytes) -> str | None:
    """Structural checks that need the whole body (still no decoding)."""
    if header.encoding == codec.ZSTD and header.size:
        return frames_problem(body, header.size)
    if header.encoding == codec.DELTA:
        return frames_problem(memoryview(body)[_DELTA_BASE:], header.size)
    if header.encoding == codec.CHUNKS:
        sizes = sum(
            int.from_bytes(body[i + 32 : i + 40], "little") for i in range(0, len(body), _CHUNK_ENTRY)
        )
        if sizes != header.size:
            return f"its chunks add up to {sizes} bytes, header says {header.size}"
    return None


class Copy(NamedTuple):
    """One stored copy: loose (pack None) or the index-th entry of pack."""

    pack: Pack | None
    index: int = -1

    @property
    def label(self) -> str:
        """ "loose copy" or "copy in pack-…", for messages."""
        return "loose copy" if self.pack is None else f"copy in {self.pack.name}"


def loose_problem(
    store: ObjectStore, object_id: str, kind: str | None = None, size: int | None = None
) -> str | None:
    """problem() of the loose copy (raises FileNotFoundError if there is none)."""
    fd = os.open(store.loose._path_str(object_id), os.O_RDONLY)
    try:
        length = os.fstat(fd).st_size
        head = read_for_check(fd, 0, length)
    finally:
        os.close(fd)
    return problem(object_id, head, length, kind, size)


def packed_problem(
    pack: Pack,
    index: int,
    object_id: str,
    kind: str | None = None,
    size: int | None = None,
    base_ok: BaseCheck | None = None,
) -> str | None:
    """problem() of a pack entry, which must also lie inside its pack."""
    offset, length = pack.entry_at(index)
    try:
        why = bounds_problem(pack, offset, length, object_id)
        if why is not None:
            return why
        head = read_for_check(pack.fd, offset, length)
    except OSError as exc:
        return f"object {object_id} cannot be read from {pack.name} ({exc.strerror})"
    return problem(object_id, head, length, kind, size, base_ok)


def bounds_problem(pack: Pack, offset: int, length: int, object_id: str) -> str | None:
    """Why a pack entry cannot be whole: it does not lie between the pack's header and its
    trailer (raises OSError if the pack cannot be read)."""
    if offset < len(PACK_HEADER) or offset + length > pack_size(pack) - CHECKSUM:
        return f"object {object_id} is corrupt: its entry lies outside {pack.name}"
    return None


def pack_size(pack: Pack) -> int:
    """The pack file's size (packs never change once installed: asked once)."""
    size = getattr(pack, "_checked_size", None)
    if size is None:
        size = os.fstat(pack.fd).st_size
        pack._checked_size = size  # type: ignore[attr-defined]
    return size


def state(store: ObjectStore, object_id: str, kind: str | None = None, size: int | None = None) -> str:
    """SOUND, MISSING or DAMAGED: whether a write can reuse the copy readers will use.

    The loose copy is what readers take first; a damaged one is DAMAGED even if a pack
    holds a good copy (the write then replaces the loose file, atomically). Without a
    loose copy, the pack entry the lookup finds is judged.
    """
    try:
        why = loose_problem(store, object_id, kind, size)
    except FileNotFoundError:
        pass
    except OSError:
        return DAMAGED
    else:
        return SOUND if why is None else DAMAGED
    found = store.packs.find(object_id, relist=False)
    if found is None:
        return MISSING
    return SOUND if packed_problem(found[0], found[1], object_id, kind, size) is None else DAMAGED


def copies(store: ObjectStore, object_id: str) -> list[Copy]:
    """Every stored copy of object_id: loose first, then each pack holding it."""
    out = [Copy(None)] if store.loose.has(object_id) else []
    raw = bytes.fromhex(object_id)
    for pack in store.packs.packs:
        i = pack.position(raw)
        if i >= 0:
            out.append(Copy(pack, i))
    return out


def open_copy(store: ObjectStore, object_id: str, copy: Copy) -> tuple[codec.Header, IO[bytes]]:
    """The header and body stream of one copy, if it passes the cheap check (else CorruptObject)."""
    why = (
        loose_problem(store, object_id)
        if copy.pack is None
        else packed_problem(copy.pack, copy.index, object_id)
    )
    if why is not None:
        raise CorruptObject(why)
    if copy.pack is None:
        header, raw = store.loose.open_raw(object_id)
    else:
        header, raw = copy.pack.open_entry(copy.index, object_id)
    return stage.open_stored(store.keys, object_id, header, raw)


def open_packed_copy(
    store: ObjectStore, object_id: str, first: CorruptObject
) -> tuple[codec.Header, IO[bytes]]:
    """A packed copy that passes the cheap check, for a reader whose preferred copy failed it
    with `first` (raised again if no pack holds a sound copy)."""
    store.packs.refresh()
    for copy in copies(store, object_id):
        if copy.pack is None:
            continue
        try:
            return open_copy(store, object_id, copy)
        except (CorruptObject, OSError):
            continue
    raise first


def verify_copy(store: ObjectStore, object_id: str, copy: Copy) -> str | None:
    """Read one copy whole and check it against its id; the problem, or None if it is good.

    Objects it names (a delta's base, chunks) are read the usual way.
    """
    from pacha.store.reader import ObjectReader

    try:
        header, raw = open_copy(store, object_id, copy)
        source = codec.ENCODINGS[header.encoding].source(raw, store)
        with ObjectReader(object_id, header.kind, header.size, source, raw) as reader:
            reader.verify()
    except (PachaError, OSError, ValueError) as exc:
        return str(exc)
    return None


def stored_form(store: ObjectStore, object_id: str, copy: Copy) -> bytes:
    """The stored bytes (header and encoded body) of one copy, as found."""
    header, raw = open_copy(store, object_id, copy)
    with raw:
        body = raw.read()
    return codec.pack_header(header.kind, header.size, header.encoding) + body


def good_copy(store: ObjectStore, object_id: str) -> Copy | None:
    """The first copy that verifies whole, or None if none does."""
    for copy in copies(store, object_id):
        if verify_copy(store, object_id, copy) is None:
            return copy
    return None
