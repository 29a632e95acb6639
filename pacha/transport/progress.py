"""Progress of a transfer, for a bar with bytes and rate (porcelain draws it with rich)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TransferProgress:
    """Where a transfer stands. rate: bytes per second since it started."""

    phase: str  # "send" or "receive"
    done_bytes: int
    total_bytes: int  # 0 while unknown (a fetch learns its closure as it goes)
    done_objects: int
    total_objects: int
    rate: float


ProgressCallback = Callable[[TransferProgress], None]


class Meter:
    """Counts bytes and objects from several threads and reports each step, in order."""

    def __init__(
        self, phase: str, callback: ProgressCallback | None, total_bytes: int = 0, total_objects: int = 0
    ):
        self.phase = phase
        self.callback = callback
        self.total_bytes = total_bytes
        self.total_objects = total_objects
        self.done_bytes = 0
        self.done_objects = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def grow(self, nbytes: int, objects: int) -> None:
        """The transfer turned out larger (a fetch found more of the closure)."""
        with self._lock:
            self.total_bytes += nbytes
            self.total_objects += objects
            self._report()

    def add(self, nbytes: int, objects: int = 0) -> None:
        with self._lock:
            self.done_bytes += nbytes
            self.done_objects += objects
            self._report()

    def _report(self) -> None:
        if self.callback is None:
            return
        elapsed = max(time.monotonic() - self._start, 1e-6)
        self.callback(
            TransferProgress(
                self.phase, self.done_bytes, self.total_bytes, self.done_objects, self.total_objects,
                self.done_bytes / elapsed,
            )
        )  # fmt: skip
