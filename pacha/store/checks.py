"""Cheap checks that a stored copy of an object is sound, from its first bytes.

A write that finds its object stored already, and a reader choosing among copies,
judge a copy without decoding it: the header parses and names the expected kind
and size, the stored length fits the encoding, zstd frame headers add up
(RFC 8878), a delta's base is there. Used by loose files, pack entries and
pacha.store.copies (which copies exist, and what to do with a damaged one).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pacha import codec
from pacha.crypto import envelope
from pacha.crypto.aead import TAG_LEN
from pacha.errors import CorruptObject
from pacha.store.chunked import CHUNK_ENTRY as _CHUNK_ENTRY

HEAD = 64  # bytes read from the start of a copy: the header and the start of the body
WHOLE_CHECK = 8 << 20  # a copy up to this size is read whole, so its zstd frames can be walked
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
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
    at most WHOLE_CHECK bytes; an identity body needs only its length, and an envelope of
    one segment (every sealed chunk) its first segment's word. Raises OSError."""
    head = os.pread(fd, min(length, HEAD), offset)
    if HEAD < length <= WHOLE_CHECK and len(head) > 5 and head[5] != codec.IDENTITY:
        if head[5] == codec.ENCRYPTED:  # first through the first segment's word
            head += os.pread(fd, min(length, _ENVELOPE_HEAD) - len(head), offset + len(head))
            if _one_segment(head):
                return head
        head += os.pread(fd, length - len(head), offset + len(head))
    return head


# an envelope's header, prefix and first segment word: all a one-segment envelope's check needs
_ENVELOPE_HEAD = codec.MAX_HEADER_LEN + envelope.PREFIX + 4


def _one_segment(head: bytes) -> bool:
    """Whether the envelope of a copy starting with head has one segment (its first segment's
    word is at hand and says it is the last); False when that cannot be told from head."""
    try:
        header = codec.parse_header(head[: codec.MAX_HEADER_LEN], "")
    except CorruptObject:
        return False  # the whole copy is read, and its check names the damage
    at = header.length + envelope.PREFIX
    return len(head) >= at + 4 and bool(int.from_bytes(head[at : at + 4], "little") & envelope.LAST)


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
    if kind is None or size is None or head[:5] != _V1 or len(head) < 6:
        return None
    if head[5] not in codec.ENCODING_NAMES:
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
    elif encoding == codec.ENCRYPTED and body < envelope.PREFIX + envelope.SEGMENT_HEAD + TAG_LEN:
        why = f"encrypted body of {body} bytes is truncated"
    elif encoding == codec.ENCRYPTED and start is not None and len(start) == body:
        why = _envelope_problem(header, start)
    elif encoding == codec.ENCRYPTED and start is not None and _first_word(start) & envelope.LAST:
        why = _envelope_problem(header, start, body)
    elif encoding == codec.CHUNKS and (body % _CHUNK_ENTRY or (header.size and not body)):
        why = f"chunk list of {body} bytes is not a whole number of entries"
    elif start is not None and len(start) == body:  # the whole body is at hand
        why = _whole_body_problem(header, start)
    return None if why is None else f"object {object_id} is corrupt: {why}"


def _first_word(start: bytes) -> int:
    """The first segment's word of an envelope starting with start (0 if start is too short)."""
    at = envelope.PREFIX
    return int.from_bytes(start[at : at + 4], "little") if len(start) >= at + 4 else 0


def _envelope_problem(header: codec.Header, body: bytes, stored: int | None = None) -> str | None:
    """Structural checks of an envelope, without its key: its segments fill it exactly, and
    what they hold fits the inner encoding (identity: the size; a chunk list: whole entries).
    body: the whole envelope, or (stored: its length) its start through a first segment
    that is also its last, which says all there is to check."""
    whole = len(body) if stored is None else stored
    try:
        length, inner = envelope.length(body, 0, whole)
    except ValueError as exc:
        return str(exc)
    if length != whole:
        return f"{whole - length} bytes follow the last encrypted segment"
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
