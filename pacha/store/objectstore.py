"""The object store: one interface over every place objects live.

Objects are loose files (objects/ab/cdef…) or entries of packs (objects/pack/);
has/stat/open/iter_ids read both the same way, so nothing above cares where an
object is kept. Writes made inside `batch()` go into one new pack (one fsync
for thousands of small files); large blobs are always chunked into a pack.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pacha import codec
from pacha.crypto import stage
from pacha.crypto.unlock import RegistryKeys
from pacha.errors import AmbiguousId, CorruptObject, InvalidInput, ObjectNotFound
from pacha.hashing import hash_bytes
from pacha.ids import MIN_PREFIX_LEN, check_id, is_hex
from pacha.store.checks import DAMAGED, MISSING, SOUND, header_problem
from pacha.store.chunked import ChunkRef, decode_chunk_list
from pacha.store.copies import bounds_problem, open_packed_copy, packed_problem
from pacha.store.delta import READ_LIMIT, base_of
from pacha.store.encodings import body_source, decode_whole
from pacha.store.ingest import ObjectWriter, Progress, ingest_file, ingest_stream, put_small_delta
from pacha.store.loose import ListedShards, LooseStore
from pacha.store.pack import Pack
from pacha.store.pack_writer import PackWriter
from pacha.store.packset import PackSet
from pacha.store.protocols import PreparedObject
from pacha.store.reader import ObjectInfo, ObjectReader, Stream, ViewReader, verified

Buffer = bytes | bytearray | memoryview
WHOLE_OBJECT_READ = 8 << 20  # objects up to this size are read in one piece (chunks, files of a folder)


class ObjectStore:
    """Put, find and read objects by id."""

    def __init__(self, objects_dir: Path, tmp_dir: Path, level: Callable[[], int] | int = 1) -> None:
        # an encrypted registry (a keyring beside objects/) seals every body written
        self.keys = RegistryKeys(objects_dir.parent)
        self.loose = LooseStore(objects_dir, tmp_dir, level)
        self.loose.seal = self.seal_parts
        self.packs = PackSet(objects_dir / "pack")
        self.tmp_dir = tmp_dir
        self._local = threading.local()
        self._listed: ListedShards | None = None  # during a batch
        # per batch: good copies of objects found damaged, written once its pack is installed
        self._repairs: dict[PackWriter, list[tuple[str, bytes, bytes]]] = {}

    # --- where an object lives -----------------------------------------------------
    @property
    def _batch(self) -> PackWriter | None:
        return getattr(self._local, "batch", None)

    def seal_parts(self, object_id: str, parts: tuple[Buffer, ...]) -> tuple[Buffer, ...]:
        """A stored form as it goes to disk: sealed when the registry is encrypted."""
        return stage.seal_parts(self.keys, object_id, parts)

    def open_stored(self, object_id: str) -> tuple[codec.Header, Stream]:
        """The header and a stream positioned at the body, wherever the object is; an
        encrypted body comes out opened (its inner header, a decrypting stream)."""
        header, raw = self.open_raw_stored(object_id)
        return stage.open_stored(self.keys, object_id, header, raw)

    def open_raw_stored(self, object_id: str) -> tuple[codec.Header, Stream]:
        """The header and body stream as stored: an envelope stays sealed (what a push sends)."""
        batch = self._batch
        if batch is not None and object_id in batch:
            stored = batch.read_entry(object_id)
            header = codec.parse_header(stored[: codec.MAX_HEADER_LEN], object_id)
            return header, ViewReader(memoryview(stored)[header.length :])
        # The loose copy first: a write that found a stored copy damaged puts the good
        # bytes there (pacha.store.copies). One that fails the cheap check of a copy is
        # passed over for a packed copy that passes it.
        try:
            return self.loose.open_checked(object_id)
        except ObjectNotFound:
            pass
        except CorruptObject as exc:
            return open_packed_copy(self, object_id, exc)
        found = self.packs.find(object_id)
        if found is None:
            raise ObjectNotFound(f"object {object_id} not found")
        pack, i = found
        try:
            offset, length = pack.entry_at(i)
            why = bounds_problem(pack, offset, length, object_id)
            if why is not None:
                raise CorruptObject(why)
            header, raw = pack.open_entry(i, object_id)
            why = header_problem(object_id, header, length - header.length)
            if why is not None:
                raw.close()
                raise CorruptObject(why)
            return header, raw
        except CorruptObject as exc:
            return open_packed_copy(self, object_id, exc)
        except FileNotFoundError:
            # a repack replaced that pack since it was listed: its objects are elsewhere now
            self.packs.refresh(force=True)
            found = self.packs.find(object_id)
            if found is None:
                raise ObjectNotFound(f"object {object_id} not found") from None
            return found[0].open_entry(found[1], object_id)

    def packed_entry(self, object_id: str) -> tuple[int, int, int] | None:
        """(pack file descriptor, offset, length) of an object in an installed pack, else
        None (loose, only in the current batch, or missing): lets a reader of many
        entries that lie back to back read them in one system call."""
        found = self.packs.find(object_id, relist=False)
        if found is None or self.loose.has(object_id):  # a loose copy is the one readers use
            return None
        pack, i = found
        offset, length = pack.entry_at(i)
        try:
            return pack.fd, offset, length
        except FileNotFoundError:  # replaced by a repack: the regular path finds it
            return None

    # --- reading -----------------------------------------------------------------
    def has(self, object_id: str) -> bool:
        if self.loose.has(object_id):
            return True
        batch = self._batch
        if batch is not None and object_id in batch:
            return True
        return self.packs.find(object_id) is not None

    def stat(self, object_id: str) -> ObjectInfo:
        """Kind and size from the header alone (no decompression, no key); the encoding is the
        inner one of an encrypted body (read from its envelope's prefix)."""
        try:
            info = self.loose.stat(object_id)
            if info.encoding != codec.ENCRYPTED:
                return info
        except (ObjectNotFound, CorruptObject):  # not loose, or damaged there: what readers use
            pass
        header, raw = self.open_stored(object_id)
        raw.close()
        return ObjectInfo(object_id, header.kind, header.size, header.encoding)

    def open(self, object_id: str) -> ObjectReader:
        """A verifying stream over the object's bytes."""
        object_id = check_id(object_id)
        return self._reader(object_id, *self.open_stored(object_id))

    def _reader(self, object_id: str, header: codec.Header, raw: Stream) -> ObjectReader:
        try:
            source = body_source(header, raw, self)
        except BaseException:
            raw.close()
            raise
        return ObjectReader(object_id, header.kind, header.size, source, raw)

    def read(self, object_id: str) -> bytes:
        """The whole object, verified; for small objects."""
        object_id = check_id(object_id)
        header, raw = self.open_stored(object_id)
        if header.encoding in (codec.IDENTITY, codec.ZSTD) and header.size <= WHOLE_OBJECT_READ:
            with raw:
                body = raw.read()
            data = decode_whole(header, body)
            if data is not None:
                return verified(object_id, header.size, data)
            raw = ViewReader(memoryview(body))  # a form this shortcut does not know: stream it
        with self._reader(object_id, header, raw) as reader:
            return reader.read()

    def iter_ids(self) -> Iterator[str]:
        """Every stored id once (loose first, then packed)."""
        seen = set()
        for object_id in self.loose.iter_ids():
            seen.add(object_id)
            yield object_id
        for object_id in self.packs.iter_ids():
            if object_id not in seen:
                yield object_id

    def find_prefix(self, prefix: str) -> str:
        """The one id starting with prefix (at least 4 hex characters)."""
        if len(prefix) < MIN_PREFIX_LEN or not is_hex(prefix):
            raise InvalidInput(
                f"{prefix!r} is not an id prefix: give at least {MIN_PREFIX_LEN} hex characters"
            )
        prefix = prefix.lower()
        matches = sorted(set(self.loose.ids_with_prefix(prefix)) | set(self.packs.ids_with_prefix(prefix)))
        if not matches:
            raise ObjectNotFound(f"no object id starts with {prefix}")
        if len(matches) > 1:
            shown = ", ".join(m[:16] for m in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise AmbiguousId(f"id prefix {prefix} is ambiguous: matches {shown}{more}; give more characters")
        return matches[0]

    def storage_links(self, object_id: str) -> list[str]:
        """Objects this one's stored form needs: its chunks, or its delta base."""
        header, raw = self.open_stored(object_id)
        with raw:
            if header.encoding == codec.CHUNKS:
                return [c.id for c in decode_chunk_list(raw.read())]
            if header.encoding == codec.DELTA:
                return [base_of(raw.read(32))]
        return []

    def chunk_list(self, object_id: str) -> list[ChunkRef] | None:
        """The chunks of a chunked blob (None if it is stored whole or is missing)."""
        try:
            header, raw = self.open_stored(object_id)
        except ObjectNotFound:
            return None
        with raw:
            if header.encoding != codec.CHUNKS:
                return None
            return decode_chunk_list(raw.read())

    def delta_depth(self, object_id: str) -> int:
        """How many deltas must be applied to read object_id (0 if stored whole)."""
        depth = 0
        while depth <= READ_LIMIT:
            header, raw = self.open_stored(object_id)
            with raw:
                if header.encoding != codec.DELTA:
                    return depth
                object_id = base_of(raw.read(32))
            depth += 1
        raise CorruptObject(f"delta chain through {object_id} is longer than {READ_LIMIT} (a cycle?)")

    def stored_size(self, object_id: str) -> int:
        """Bytes the object takes on disk: its loose file, or its entry in a pack."""
        _where, pack = self.locate(object_id)
        if pack is None:
            return self.loose.disk_size(object_id)
        return pack.entry_at(pack.position(bytes.fromhex(object_id))).length

    def locate(self, object_id: str) -> tuple[str, Pack | None]:
        """'loose', 'packed' (with its pack) or raises ObjectNotFound; for count-objects and gc."""
        if self.loose.has(object_id):
            return "loose", None
        found = self.packs.find(object_id)
        if found is None:
            raise ObjectNotFound(f"object {object_id} not found")
        return "packed", found[0]

    # --- writing -----------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[PackWriter]:
        """Objects written inside go into one new pack, installed (fsynced) at the end.

        Nested batches share the outer one. On an exception nothing is installed.
        """
        outer = self._batch
        if outer is not None:
            yield outer
            return
        writer = PackWriter(self.packs.dir, self.tmp_dir, self.seal_parts)
        self.packs.refresh()  # what is already stored need not be written again
        self._local.batch = writer
        self._listed = ListedShards(self.loose)
        try:
            yield writer
            self._local.batch = None
            if writer.finish() is not None:
                self.packs.refresh(force=True)
            # Good copies of objects found damaged: loose files, which readers prefer; only
            # now, as they may name objects of the pack just installed.
            for object_id, header, body in self._repairs.pop(writer, []):
                self.loose.write_stored(object_id, header, body)
        finally:
            self._repairs.pop(writer, None)
            self._local.batch = None
            self._listed = None
            writer.abort()

    def repair(self, object_id: str, header: bytes, body: bytes, batch: PackWriter | None = None) -> None:
        """Store the good stored form of an object whose stored copy is damaged, as a loose
        file (replacing a damaged loose file atomically; readers prefer loose copies).
        Inside a batch it is written once the batch's pack is installed. Raises OSError."""
        if batch is None:
            self.loose.write_stored(object_id, header, body)
        else:
            self._repairs.setdefault(batch, []).append((object_id, header, body))

    def freshen(self, object_id: str, kind: str | None = None, size: int | None = None) -> bool:
        """True if the object is stored soundly; marks it as just written so gc's grace period
        covers it. False if it is missing or the copy found is damaged (see present()).

        A write that reuses an object instead of storing it again must refresh
        its time: a concurrent gc could otherwise delete it before the ref that
        will name it moves. A packed object is refreshed by touching its pack.
        """
        return self.present(object_id, kind, size) == SOUND

    def present(
        self, object_id: str, kind: str | None = None, size: int | None = None, _depth: int = 0
    ) -> str:
        """SOUND (stored, and freshened as freshen() does), MISSING, or DAMAGED: the copy
        readers would use fails a cheap check (header, kind and size if given, stored
        length, pack entry bounds, a delta's base present and sound; pacha.store.copies),
        so the write must store the good bytes again (ObjectStore.repair), not reuse it."""
        batch = self._batch
        if batch is not None and object_id in batch:
            return SOUND

        def base_ok(base_id: str) -> bool:  # only called for a delta
            return _depth < READ_LIMIT and self.present(base_id, kind, None, _depth + 1) == SOUND

        loose = (self._listed or self.loose).state(object_id, kind, size, base_ok)
        if loose != MISSING:
            return loose
        found = self.packs.find(object_id, relist=False)
        if found is None:
            return MISSING
        if packed_problem(found[0], found[1], object_id, kind, size, base_ok) is not None:
            return DAMAGED
        self.packs.freshen(found[0])
        return SOUND

    def writer(self, kind: str = "blob") -> ObjectWriter:
        """A streaming writer; call write() repeatedly, then commit() for the id."""
        return ObjectWriter(self, kind)

    def put_bytes(self, data: bytes, kind: str = "blob") -> str:
        """Store a small object held in memory; trees and records must be well formed."""
        if kind != "blob":
            # The one import kept local (issue 13 asks for them at the top): pacha.objects
            # loads msgspec, ~30 ms of CPU that every plumbing command would pay at start-up
            # (cat-object -t, --batch-check); only writing a tree or record needs it.
            from pacha.objects import validate

            validate(kind, data)
        return self.put_prepared(self.prepare(data, kind))

    def prepare(self, data: bytes, kind: str = "blob", compress: bool = True) -> PreparedObject:
        """Hash and encode a small object without storing it (thread-safe: for worker threads).

        An object that looks stored already is not compressed (put_prepared encodes it
        after all if it turns out to be missing). compress=False stores it as it is.
        """
        object_id = hash_bytes(data)
        if self.packs.find(object_id, relist=False) is not None:
            return PreparedObject(object_id, kind, data, None, None)
        header, body = self.loose.encode(kind, data, compress)
        return PreparedObject(object_id, kind, data, header, body)

    def put_prepared(self, prepared: PreparedObject, base: str | None = None) -> str:
        """Store a prepared object (unless it is stored already), into the current batch if any.

        base: an earlier version it may be stored as a delta against (into a pack).
        """
        found = self.present(prepared.id, prepared.kind, len(prepared.data))
        if found == SOUND:
            return prepared.id
        header, body = prepared.header, prepared.body
        if header is None or body is None:
            header, body = self.loose.encode(prepared.kind, prepared.data)
        if found == DAMAGED:
            self.repair(prepared.id, header, body, self._batch)
            return prepared.id
        if base is not None:
            return put_small_delta(self, prepared, (header, body), base)
        batch = self._batch
        if batch is None:
            self.loose.write_stored(prepared.id, header, body)
        else:
            batch.add(prepared.id, header, body)
        return prepared.id

    def put_stream(self, stream: IO[bytes], kind: str = "blob", progress: Progress | None = None) -> str:
        """Store everything read from stream, in bounded memory."""
        return ingest_stream(self, stream, kind, progress)

    def put_file(
        self,
        path: str | os.PathLike[str],
        kind: str = "blob",
        base: str | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Store a file's bytes, streaming; memory stays bounded whatever its size.

        base names an earlier version of the same file: changed parts may then
        be stored as deltas against it.
        """
        with open(path, "rb") as f:
            if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return ingest_file(self, f, kind, base, progress)
            return self.put_stream(f, kind, progress)

    def forget_packs(self) -> None:
        """Drop mapped packs (after repack or gc replaced them)."""
        self.packs.forget()
