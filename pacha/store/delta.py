"""zstd deltas: an object stored as the difference from a base object.

The body is the base's raw 32-byte id followed by one zstd frame compressed
with the base's bytes as a prefix (what `zstd --patch-from` does; docs/format.md,
"Object files", encoding 2). pyzstd's
prefix mode is used because python-zstandard's raw-content dictionaries miss
matches in large bases (../shared/MEASUREMENTS.md). The base may itself be a
delta; chains are at most MAX_DEPTH long when written, and a reader refuses
chains longer than READ_LIMIT (a damaged store could form a cycle).

Every writer keeps a delta only if delta_pays: this is the one place that decides.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

from pacha.errors import CorruptObject
from pacha.store.optional import attempt
from pacha.store.reader import ObjectSource, Stream

MAX_DEPTH = 8
READ_LIMIT = 64
DELTA_MIN_SAVING = 0.10  # a delta must be at least 10 % smaller than compressing alone
_depth = threading.local()


def delta_pays(delta: int, whole: int) -> bool:
    """Whether a delta of `delta` bytes is worth keeping instead of the object stored whole
    in `whole` bytes (compressed if that pays): it must be clearly smaller, by at least
    DELTA_MIN_SAVING, since reading a delta costs reading its base too."""
    return delta < whole * (1 - DELTA_MIN_SAVING)


def _window_log(size: int) -> int:
    return min(31, max(17, (size * 2).bit_length()))


def make_delta(data: bytes | memoryview, base: bytes | memoryview, base_id: str, level: int) -> bytes:
    """The encoded body storing data as a delta against base."""
    import pyzstd

    params: dict[Any, int] = {
        pyzstd.CParameter.compressionLevel: max(level, 1),
        pyzstd.CParameter.windowLog: _window_log(len(base) + len(data)),
        # Long-distance matching for every base: at low levels zstd's match finder indexes too
        # few positions of a large prefix to find it (a 1.4 MiB CSV with one row edited gave a
        # 680 KB frame at level 1, 181 bytes with it), and on small bases it costs nothing.
        # The frame is a standard one: readers need no parameter for it.
        pyzstd.CParameter.enableLongDistanceMatching: 1,
    }
    frame = pyzstd.compress(data, params, zstd_dict=pyzstd.ZstdDict(bytes(base), is_raw=True).as_prefix)
    return bytes.fromhex(base_id) + frame


MIN_BASE = 8  # zstd refuses a prefix (raw dictionary) shorter than this


def try_delta(
    data: bytes | memoryview, read_base: Callable[[], bytes], base_id: str, level: int
) -> bytes | None:
    """make_delta against the base read_base() returns, or None when there is no delta to
    be had: an empty object, a base under MIN_BASE bytes, a base that cannot be read, or
    any error of the compressor. The caller then stores data whole; never raises."""
    if not len(data):
        return None

    def delta() -> bytes | None:
        base = read_base()
        return make_delta(data, base, base_id, level) if len(base) >= MIN_BASE else None

    return attempt(f"delta against {base_id}", delta)


def base_of(body_start: bytes) -> str:
    """The base id named at the start of a delta body."""
    if len(body_start) < 32:
        raise CorruptObject("delta body is truncated: no base id")
    return body_start[:32].hex()


def delta_source(raw: Stream, objects: ObjectSource) -> io.BytesIO:
    """Decode a delta body: read the (verified) base, then decompress against it."""
    import pyzstd

    body = raw.read()
    base_id = base_of(body)
    depth = getattr(_depth, "value", 0)
    if depth >= READ_LIMIT:
        raise CorruptObject(f"delta chain through {base_id} is longer than {READ_LIMIT} (a cycle?)")
    _depth.value = depth + 1
    try:
        base = objects.read(base_id)
    finally:
        _depth.value = depth
    try:
        data = pyzstd.decompress(
            body[32:],
            zstd_dict=pyzstd.ZstdDict(base, is_raw=True).as_prefix,
            option={pyzstd.DParameter.windowLogMax: 31},
        )
    except (pyzstd.ZstdError, ValueError) as exc:  # ValueError: a base zstd cannot take as prefix
        raise CorruptObject(f"cannot decode delta against {base_id} ({exc})") from None
    return io.BytesIO(data)
