"""Worker processes that store small files into packs of their own.

Storing a folder of many small files is mostly per-file Python work (open,
read, hash, compress, bookkeeping) that threads serialise on the GIL; worker
processes run it on every core. The caller hands each worker groups of files
in turn and reads back, per file, the blob id (or the error that stopped it).

Each worker appends what it stores to a pack of its own, invisible to others
until commit(): each worker then installs its pack, before the caller installs
the pack of trees that names those blobs, so no reader ever finds a tree whose
files are missing. abort() (or any failure, or a crash) drops the workers'
packs; what a crash leaves is temp files that gc clears.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pacha.errors import InvalidInput, PachaError
from pacha.hashing import hash_bytes
from pacha.store.ingest import CompressionProbe, prepare_probed
from pacha.store.objectstore import ObjectStore
from pacha.store.snapshot import FileChanged, Identity, read_small

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

WORKERS = 2


class SmallFile(NamedTuple):
    """A file for a worker: where it is, its identity when listed (pacha.store.snapshot),
    and the blob of that name in the base tree."""

    path: str
    listed: Identity
    old_id: str | None
    old_size: int


# a file's blob id, or why it could not be read (FileChanged: it changed since it was listed)
Result = str | OSError | FileChanged


def store_small(store: ObjectStore, item: SmallFile, probe: CompressionProbe) -> Result:
    """Store one small file into the store's current batch: reused as is if unchanged since
    the base, else compressed (if that pays), or a delta against the base's file when that
    is smaller."""
    try:
        data = read_small(item.path, item.listed)
    except (OSError, FileChanged) as exc:
        return exc
    old_id = item.old_id
    unchanged = old_id is not None and item.old_size == len(data) and hash_bytes(data) == old_id
    if old_id is not None and unchanged and store.freshen(old_id, "blob", len(data)):
        return old_id
    return store.put_prepared(prepare_probed(store, data, probe), item.old_id)


class Workers:
    """WORKERS processes storing groups of small files; submit() gives a ticket for result().

    Each is a fresh interpreter (`python -m pacha.store.workers`), not a fork: safe
    whatever threads the caller runs, and whatever its main module does on import.
    """

    def __init__(self, store: ObjectStore, count: int = WORKERS) -> None:
        self._store = store
        self._groups: dict[int, list[SmallFile]] = {}  # what each ticket holds, until read
        self._stored: list[tuple[SmallFile, Result]] = []  # what workers answered so far
        self._fallen_back = False  # the workers failed: this process stores every file
        self._procs: list[subprocess.Popen[bytes]] = []
        self._sends: list[Connection] = []
        self._recvs: list[Connection] = []
        self._outstanding: list[deque[int]] = []  # per worker, its tickets in the order sent
        self._arrived: dict[int, list[Result]] = {}  # results read while waiting for another
        self._next = 0
        self._tickets = 0
        self._done = False
        if store.keys.encrypted:
            # Worker processes would need the master key: an encrypted registry stores here
            # (a passphrase typed at a prompt cannot reach them without a copy of the key).
            self._fallen_back = True
            return
        args = [str(store.loose.root), str(store.tmp_dir), str(store.loose.level)]
        try:
            for _ in range(count):
                self._start(args)
            for worker in range(count):
                self._receive(worker)  # "ready": it started and opened the store
        except BaseException:
            self.abort()
            raise

    def _start(self, args: list[str]) -> None:
        from multiprocessing.connection import Connection

        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        env = dict(os.environ)  # the child imports pacha from where this process did
        here = str(Path(__file__).resolve().parents[2])  # the directory holding pacha/
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pacha.store.workers", str(to_child), str(from_child), *args],
                pass_fds=(to_child, from_child),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # Ctrl-C reaches the caller alone, which stops the workers
            )
        except BaseException:
            os.close(from_parent)
            os.close(to_parent)
            raise
        finally:
            os.close(to_child)
            os.close(from_child)
        self._procs.append(proc)
        self._outstanding.append(deque())
        self._sends.append(Connection(from_parent, readable=False))
        self._recvs.append(Connection(to_parent, writable=False))

    def submit(self, items: list[SmallFile]) -> int:
        """Hand a group to the next worker (round robin); returns the ticket for result()."""
        ticket = self._tickets = self._tickets + 1
        self._groups[ticket] = items
        if self._fallen_back:
            return ticket
        worker = self._next
        self._next = (worker + 1) % len(self._sends)
        try:
            self._sends[worker].send(("group", items))
        except OSError:
            self._fall_back("a worker process storing files stopped unexpectedly")
            return ticket
        self._outstanding[worker].append(ticket)
        return ticket

    def result(self, ticket: int) -> list[Result]:
        """The results of a group, one per file (a worker answers its groups in order).

        Worker processes are an optimisation: if one fails, every file is stored by
        this process instead (into the caller's batch), so a real failure, such as a
        full disk, is raised here as the error it is, and anything else costs time only.
        """
        items = self._groups.pop(ticket)
        if not self._fallen_back:
            try:
                while ticket not in self._arrived:
                    worker = next(w for w, queue in enumerate(self._outstanding) if ticket in queue)
                    self._arrived[self._outstanding[worker].popleft()] = self._receive(worker)
                results = self._arrived.pop(ticket)
                self._stored.extend(zip(items, results, strict=True))
                return results
            except PachaError as exc:
                self._fall_back(str(exc))
        return self._store_here(items)

    def _store_here(self, items: list[SmallFile]) -> list[Result]:
        probe = CompressionProbe()
        return [store_small(self._store, item, probe) for item in items]

    def _fall_back(self, why: str) -> None:
        """Stop the workers (dropping their packs) and store here what they had stored."""
        if os.environ.get("PACHA_DEBUG"):
            sys.stderr.write(f"pacha: worker processes stopped ({why}); storing files in this process\n")
        self._fallen_back = True
        self.abort()
        done, self._stored = self._stored, []
        stored = self._store_here([item for item, _result in done])
        for (item, before), now in zip(done, stored, strict=True):
            if isinstance(before, str) and before != now:
                if isinstance(now, OSError):
                    raise InvalidInput(f"cannot read or store {item.path}: {now.strerror}")
                if isinstance(now, PachaError):  # FileChanged
                    raise now
                raise InvalidInput(
                    f"{item.path} changed while it was being stored; store it again when it is complete"
                )

    def _receive(self, worker: int) -> Any:
        try:
            kind, payload = self._recvs[worker].recv()
        except (EOFError, OSError):
            raise PachaError("a worker process storing files stopped unexpectedly") from None
        if kind == "error":
            raise PachaError(f"a worker process failed: {payload}")
        return payload

    def commit(self) -> None:
        """Have every worker install its pack (after all results were read); if that fails,
        what they stored is stored by this process instead (see result())."""
        for ticket in list(self._groups):  # groups never asked for (the caller failed)
            self.result(ticket)
        if self._fallen_back:
            return
        try:
            for conn in self._sends:
                conn.send(("commit", None))
            for worker in range(len(self._sends)):
                self._receive(worker)
        except (PachaError, OSError) as exc:
            # A worker that installed its pack already did no harm: its objects are stored.
            self._fall_back(str(exc))
            return
        self._done = True
        self._stop()

    def abort(self) -> None:
        """Drop whatever the workers stored (no-op after commit)."""
        if not self._done:
            for conn in self._sends:
                with contextlib.suppress(OSError):  # already gone
                    conn.send(("abort", None))
            self._done = True
        self._stop()

    def _stop(self) -> None:
        for conn in self._sends + self._recvs:
            conn.close()
        for proc in self._procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs, self._sends, self._recvs = [], [], []


class _Abort(Exception):
    """Raised inside a worker to leave its batch without installing it."""


def _serve(receive: Connection, send: Connection, store: ObjectStore) -> None:
    """A worker: store each group it is sent into its own batch; install it on commit."""
    probe = CompressionProbe()
    try:
        with store.batch():
            send.send(("ok", "ready"))
            while True:
                try:
                    kind, items = receive.recv()
                except EOFError:  # the caller is gone
                    raise _Abort from None
                if kind == "commit":
                    break
                if kind == "abort":
                    raise _Abort
                send.send(("ok", [store_small(store, item, probe) for item in items]))
        send.send(("ok", None))
    except (_Abort, KeyboardInterrupt):
        pass  # the caller was interrupted too, and cleans up
    except BaseException as exc:
        with contextlib.suppress(OSError):
            send.send(("error", f"{type(exc).__name__}: {exc}"))


def main(argv: list[str]) -> None:
    from multiprocessing.connection import Connection

    receive_fd, send_fd, objects_dir, tmp_dir, level = argv
    receive = Connection(int(receive_fd), writable=False)
    send = Connection(int(send_fd), readable=False)
    _serve(receive, send, ObjectStore(Path(objects_dir), Path(tmp_dir), int(level)))


if __name__ == "__main__":
    main(sys.argv[1:])
