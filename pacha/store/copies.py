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
from dataclasses import dataclass

from pacha import codec
from pacha.crypto import stage
from pacha.errors import CorruptObject, PachaError
from pacha.store.checks import DAMAGED, MISSING, SOUND, BaseCheck, problem, read_for_check
from pacha.store.encodings import body_source
from pacha.store.pack import Pack
from pacha.store.pack_format import CHECKSUM, PACK_HEADER
from pacha.store.protocols import Store
from pacha.store.reader import ObjectReader, Stream


@dataclass(frozen=True)
class Copy:
    """One stored copy: loose (pack None) or the index-th entry of pack."""

    pack: Pack | None
    index: int = -1

    @property
    def label(self) -> str:
        """ "loose copy" or "copy in pack-…", for messages."""
        return "loose copy" if self.pack is None else f"copy in {self.pack.name}"


def loose_problem(
    store: Store, object_id: str, kind: str | None = None, size: int | None = None
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
    if offset < len(PACK_HEADER) or offset + length > pack.file_size() - CHECKSUM:
        return f"object {object_id} is corrupt: its entry lies outside {pack.name}"
    return None


def state(store: Store, object_id: str, kind: str | None = None, size: int | None = None) -> str:
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


def copies(store: Store, object_id: str) -> list[Copy]:
    """Every stored copy of object_id: loose first, then each pack holding it."""
    out = [Copy(None)] if store.loose.has(object_id) else []
    raw = bytes.fromhex(object_id)
    for pack in store.packs.packs:
        i = pack.position(raw)
        if i >= 0:
            out.append(Copy(pack, i))
    return out


def open_copy(store: Store, object_id: str, copy: Copy) -> tuple[codec.Header, Stream]:
    """The header and body stream of one copy, if it passes the cheap check (else CorruptObject)."""
    why = (
        loose_problem(store, object_id)
        if copy.pack is None
        else packed_problem(copy.pack, copy.index, object_id)
    )
    if why is not None:
        raise CorruptObject(why)
    raw: Stream
    if copy.pack is None:
        header, raw = store.loose.open_raw(object_id)
    else:
        header, raw = copy.pack.open_entry(copy.index, object_id)
    return stage.open_stored(store.keys, object_id, header, raw)


def open_packed_copy(store: Store, object_id: str, first: CorruptObject) -> tuple[codec.Header, Stream]:
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


def verify_copy(store: Store, object_id: str, copy: Copy) -> str | None:
    """Read one copy whole and check it against its id; the problem, or None if it is good.

    Objects it names (a delta's base, chunks) are read the usual way.
    """
    try:
        header, raw = open_copy(store, object_id, copy)
        source = body_source(header, raw, store)
        with ObjectReader(object_id, header.kind, header.size, source, raw) as reader:
            reader.verify()
    except (PachaError, OSError, ValueError) as exc:
        return str(exc)
    return None


def stored_form(store: Store, object_id: str, copy: Copy) -> bytes:
    """The stored bytes (header and encoded body) of one copy, as found."""
    header, raw = open_copy(store, object_id, copy)
    with raw:
        body = raw.read()
    return codec.pack_header(header.kind, header.size, header.encoding) + body


def good_copy(store: Store, object_id: str) -> Copy | None:
    """The first copy that verifies whole, or None if none does."""
    for copy in copies(store, object_id):
        if verify_copy(store, object_id, copy) is None:
            return copy
    return None
