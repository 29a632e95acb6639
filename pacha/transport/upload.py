"""Uploading packs: each built in memory part by part while the parts before it go up.

A pack's id, index and size are known before a byte of it is read (outgoing.plan_pack, from the
planned ids and lengths), so:
- a pack whose index the remote lists arrived whole in an earlier, interrupted push: skipped
  without reading anything;
- a pack the remote holds without its index (killed between the two), of the planned size:
  only the index is sent;
- otherwise the pack is read object by object (outgoing.sendable: each checked before it
  leaves), cut into parts of PART_SIZE and sent, several requests at once, as a multipart
  upload (a pack up to MULTIPART_THRESHOLD: one PUT). An unfinished upload of the same pack
  (an interrupted push's) is taken up again: a part it holds with the same bytes is not
  sent again. The index goes up after the pack (a reader sees a pack only through it).
Every pack completed (sent, or given its index) is in `completed`, for the check that
`remote prune` removed none of them (pacha.transport.confirm) before any ref names them.
Memory: at most MAX_PARTS parts built and not yet sent, whatever the pack or model size (no
temp file: nothing of a push is ever written to the registry's disk).

If an object's stored form is not the length planned (a repack changed it meanwhile, or an
encrypted registry seals a plain leftover on the way), the pack is planned again from the
lengths read (LengthChanged), under its new id.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pacha.crash import crash_point
from pacha.errors import CorruptObject
from pacha.store.pack_format import PACK_HEADER
from pacha.transport import backend as backend_module
from pacha.transport import outgoing
from pacha.transport.backend import Backend, Stat
from pacha.transport.hooks import reached
from pacha.transport.layout import PACK_DIR, index_key, pack_key
from pacha.transport.progress import Meter

if TYPE_CHECKING:
    from pacha.store import ObjectStore

PART_SIZE = backend_module.PART_SIZE  # bytes per part of a pack's multipart upload
MULTIPART_THRESHOLD = backend_module.MULTIPART_THRESHOLD  # larger packs go up in parts
MAX_PARTS = 8  # parts built and not yet sent, at most (memory: MAX_PARTS x PART_SIZE)


class LengthChanged(Exception):
    """An object's stored form is not the length its pack was planned with."""


@dataclass
class Sent:
    objects: int = 0
    bytes: int = 0
    packs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, objects: int, nbytes: int, packs: int) -> None:
        with self.lock:
            self.objects += objects
            self.bytes += nbytes
            self.packs += packs


class PackSender:
    """Sends packs one after another, each part by part, requests on `jobs` threads."""

    def __init__(
        self, store: ObjectStore, backend: Backend, jobs: int, meter: Meter, listing: dict[str, Stat]
    ) -> None:
        self.store = store
        self.backend = backend
        self.meter = meter
        self.listing = listing  # the remote's objects/pack/ keys when the push began
        self.sent = Sent()
        self._requests = ThreadPoolExecutor(max(1, jobs))
        self._finishers = ThreadPoolExecutor(2)  # wait for a pack's parts, then complete it
        self._room = threading.Semaphore(MAX_PARTS)
        self._pending: list[Future[None]] = []
        self._errors: list[BaseException] = []
        self._unfinished: set[str] | None = None  # keys with an unfinished upload (listed once)
        self.completed: list[outgoing.PackPlan] = []  # packs whose index this push wrote

    # --- the whole ---------------------------------------------------------------------
    def send_all(self, plans: list[outgoing.PackPlan]) -> Sent:
        try:
            for plan in plans:
                self._raise_failure()
                self.send(plan)
            for future in self._pending:
                future.result()
        finally:
            self._requests.shutdown(wait=True, cancel_futures=True)
            self._finishers.shutdown(wait=True, cancel_futures=True)
        return self.sent

    def _raise_failure(self) -> None:
        if self._errors:
            raise self._errors[0]

    def _submit(self, pool: ThreadPoolExecutor, fn: Callable[[], None]) -> None:
        future = pool.submit(fn)
        future.add_done_callback(self._note_failure)
        self._pending.append(future)

    def _note_failure(self, future: Future[Any]) -> None:
        """A request failed: the producer stops at its next step (and raises the first error)."""
        error = None if future.cancelled() else future.exception()
        if error is not None:
            self._errors.append(error)

    # --- one pack ----------------------------------------------------------------------
    def send(self, plan: outgoing.PackPlan) -> None:
        """Send one pack (or what of it the remote lacks); returns once its last part is queued."""
        count = len(plan.entries)
        if index_key(plan.pack_id) in self.listing:
            self.meter.add(plan.objects_size, count)  # arrived in an interrupted push
            return
        there = self.listing.get(pack_key(plan.pack_id))
        if there is not None and there.size == plan.size:
            # arrived whole before its index (an interrupted push): send the index; whether a
            # prune removed the pack meanwhile is checked after all indexes (confirm)
            self.meter.add(there.size)
            self.backend.put(index_key(plan.pack_id), plan.index_data)
            self.meter.add(0, count)
            self.sent.count(count, len(plan.index_data), 1)
            self.completed.append(plan)
            return
        try:
            self._upload(plan)
        except LengthChanged:
            self._upload(outgoing.plan_pack(_measured(self.store, plan)))

    def _upload(self, plan: outgoing.PackPlan) -> None:
        if plan.size <= MULTIPART_THRESHOLD:
            self._whole(plan)
        else:
            self._in_parts(plan)

    def _whole(self, plan: outgoing.PackPlan) -> None:
        """A small pack: built whole (up to MULTIPART_THRESHOLD bytes), sent in one PUT."""
        tokens = min(MAX_PARTS, -(-plan.size // PART_SIZE))  # its room, counted in parts
        for _ in range(tokens):
            self._room.acquire()
        try:
            data = b"".join(_parts(self.store, plan, plan.size))
        except BaseException:
            for _ in range(tokens):
                self._room.release()
            raise

        def put() -> None:
            try:
                self.backend.put(pack_key(plan.pack_id), data)
                self.meter.add(len(data))
            finally:
                for _ in range(tokens):
                    self._room.release()
            self._index(plan, len(data))

        self._submit(self._requests, put)

    def _in_parts(self, plan: outgoing.PackPlan) -> None:
        """A large pack: a multipart upload fed part by part as the parts are built."""
        key = pack_key(plan.pack_id)
        upload = self.backend.start_upload(key, PART_SIZE, resume=key in self._unfinished_keys())
        etags: list[Future[str] | str] = []
        uploaded = 0
        try:
            for number, part in enumerate(_parts(self.store, plan, PART_SIZE), start=1):
                self._raise_failure()
                held = upload.held(number, part)
                if held is not None:  # an interrupted push sent this part already
                    etags.append(held)
                    self.meter.add(len(part))
                    continue
                self._room.acquire()
                future = self._requests.submit(self._put_part, upload, number, part)
                future.add_done_callback(self._note_failure)
                etags.append(future)
                uploaded += len(part)
        except LengthChanged:
            for etag in etags:
                if isinstance(etag, Future):
                    etag.exception()  # wait: the upload is dropped after its last part
            upload.abort()
            raise

        def finish() -> None:
            upload.complete([e if isinstance(e, str) else e.result() for e in etags])
            self._index(plan, uploaded)

        self._submit(self._finishers, finish)

    def _put_part(self, upload: backend_module.MultipartUpload, number: int, part: bytearray) -> str:
        try:
            etag = upload.put_part(number, part)
        finally:
            self._room.release()
        self.meter.add(len(part))
        return etag

    def _index(self, plan: outgoing.PackPlan, uploaded: int) -> None:
        """The pack is there: its index makes it visible (always after the pack)."""
        crash_point("push-pack-before-index")
        reached("push-pack-before-index")
        self.backend.put(index_key(plan.pack_id), plan.index_data)
        self.completed.append(plan)
        self.meter.add(0, len(plan.entries))
        self.sent.count(len(plan.entries), uploaded + len(plan.index_data), 1)
        crash_point("push-after-pack")

    def _unfinished_keys(self) -> set[str]:
        """Keys with an unfinished multipart upload (one listing per push, when first needed)."""
        if self._unfinished is None:
            self._unfinished = {u.key for u in self.backend.list_uploads(PACK_DIR)}
        return self._unfinished


def _parts(store: ObjectStore, plan: outgoing.PackPlan, size: int) -> Iterator[bytearray]:
    """The pack's bytes in parts of `size` (the last shorter), each object checked as it is read.

    Raises LengthChanged if an object's stored form is not the planned length, CorruptObject
    (naming `pacha fsck --repair`) if a local copy is damaged."""
    part = _Part(size)
    yield from part.write(PACK_HEADER)
    for (object_id, data), (_, length) in zip(_checked(store, plan.entries), plan.entries, strict=True):
        if len(data) != length:
            raise LengthChanged(object_id)
        yield from part.write(data)
    yield from part.write(bytes.fromhex(plan.pack_id))
    if part.filled:
        yield part.last()


class _Part:
    """A part being filled: allocated once at its full size (growing a bytearray by appends
    would copy it again and again), handed out when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer = bytearray()
        self.filled = 0

    def write(self, data: bytes | memoryview) -> Iterator[bytearray]:
        view = memoryview(data)
        while view:
            if not self.buffer:
                self.buffer = bytearray(self.size)
            take = min(len(view), self.size - self.filled)
            self.buffer[self.filled : self.filled + take] = view[:take]
            self.filled += take
            view = view[take:]
            if self.filled == self.size:
                full, self.buffer, self.filled = self.buffer, bytearray(), 0
                yield full

    def last(self) -> bytearray:
        """What is left: the last part, shorter than the others (not empty)."""
        del self.buffer[self.filled :]
        return self.buffer


def _checked(store: ObjectStore, entries: list[tuple[str, int]]) -> Iterator[tuple[str, bytes | memoryview]]:
    """outgoing.sendable_many, a damaged object named with what repairs it."""
    try:
        yield from outgoing.sendable_many(store, entries)
    except CorruptObject as exc:
        raise CorruptObject(f"cannot push: {exc} (run `pacha fsck --repair`)") from None


def _measured(store: ObjectStore, plan: outgoing.PackPlan) -> list[tuple[str, int]]:
    """The plan's entries with the lengths their stored forms have now."""
    return [(object_id, len(data)) for object_id, data in _checked(store, plan.entries)]
