"""The compare-and-swap of a directory remote under concurrent processes: no update is ever
lost, even when a lock looks stale to a waiter (a slow writer, a clock far ahead), and a
writer killed while holding the lock does not block the next one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pacha.transport.backend import PreconditionFailed
from pacha.transport.file_backend import FileBackend

ROOT = Path(__file__).resolve().parent.parent
COUNTER = """
import sys, time
from pacha.transport import file_backend
from pacha.transport.backend import PreconditionFailed
file_backend.STALE_LOCK = float(sys.argv[3])  # 0: every lock a waiter sees looks stale to it
_etag = file_backend.etag_of
def slow_etag(data):  # a slow shared mount: the compare inside the lock takes a while
    time.sleep(0.002)
    return _etag(data)
file_backend.etag_of = slow_etag
backend = file_backend.FileBackend(__import__("pathlib").Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    while True:
        data, etag = backend.get("counter")
        try:
            backend.replace("counter", str(int(data) + 1).encode(), etag)
            break
        except PreconditionFailed:
            pass
"""


def run_counters(root: Path, processes: int, rounds: int, stale: float) -> int:
    procs = [
        subprocess.Popen([sys.executable, "-c", COUNTER, str(root), str(rounds), str(stale)], cwd=ROOT)
        for _ in range(processes)
    ]
    for proc in procs:
        assert proc.wait(timeout=600) == 0
    return int(FileBackend(root).get("counter")[0])


def test_no_update_is_lost_when_locks_look_stale_to_waiters(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "remote")
    backend.create("counter", b"0")
    assert run_counters(tmp_path / "remote", processes=4, rounds=100, stale=0.0) == 400


def test_no_update_is_lost_between_concurrent_processes(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "remote")
    backend.create("counter", b"0")
    assert run_counters(tmp_path / "remote", processes=3, rounds=30, stale=30.0) == 90


KILLED = """
import sys
from pathlib import Path
from pacha.transport.file_backend import FileBackend
backend = FileBackend(Path(sys.argv[1]))
data, etag = backend.get("counter")
backend.replace("counter", b"killed", etag)  # PACHA_CRASH_AT=remote-lock-held: killed inside
"""


def test_a_writer_killed_holding_the_lock_does_not_block_the_next(tmp_path: Path) -> None:
    root = tmp_path / "remote"
    backend = FileBackend(root)
    backend.create("counter", b"0")
    env = {**os.environ, "PACHA_CRASH_AT": "remote-lock-held"}
    proc = subprocess.run([sys.executable, "-c", KILLED, str(root)], env=env, cwd=ROOT, capture_output=True)
    assert proc.returncode == -9, proc.stderr
    assert backend.get("counter")[0] == b"0"  # killed before the rename: nothing changed
    start = time.monotonic()
    _, etag = backend.get("counter")
    backend.replace("counter", b"1", etag)
    assert time.monotonic() - start < 20  # not the 30 s of a stale lock (20: a loaded machine)
    assert backend.get("counter")[0] == b"1"
    try:
        backend.replace("counter", b"2", etag)  # the old ETag: refused, as ever
        raise AssertionError("a replace with an old ETag passed")
    except PreconditionFailed:
        pass


def test_no_update_is_lost_between_threads_of_one_process(tmp_path: Path, monkeypatch) -> None:
    import threading

    from pacha.transport import file_backend

    monkeypatch.setattr(file_backend, "STALE_LOCK", 0.0)
    real = file_backend.etag_of

    def slow(data: bytes) -> str:  # a slow mount: the compare inside the lock takes a while
        time.sleep(0.001)
        return real(data)

    monkeypatch.setattr(file_backend, "etag_of", slow)
    backend = FileBackend(tmp_path / "remote")
    backend.create("counter", b"0")

    def count() -> None:
        for _ in range(40):
            while True:
                data, etag = backend.get("counter")
                try:
                    backend.replace("counter", str(int(data) + 1).encode(), etag)
                    break
                except PreconditionFailed:
                    pass

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.get("counter")[0] == b"160"
