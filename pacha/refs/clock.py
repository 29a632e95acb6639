"""The reflog's clock: a hybrid logical clock kept in the ref database.

Map ``clock``, key ``last``: the last write transaction's time (u64 BE, ns since the Unix
epoch) and number (u64 BE). Kulkarni et al., "Logical Physical Clocks", 2014.
"""

from __future__ import annotations

from pacha.refs.reflog import newest
from pacha.refs.tables import Db, Txn

CLOCK = "clock"  # map: b"last" -> the last write transaction's time (8 bytes BE) and number (8 bytes BE)
TICK_NS = 1000  # the least step of the reflog's clock: 1 µs, so shown times (µs) tell transactions apart


def tick(txn: Txn, clock: Db, reflog: Db, now_ns: int) -> tuple[int, int]:
    """The time and number of this write transaction (txn), recorded in the clock map.

    The time is now_ns (this machine's clock, read by the caller), but always later than
    the last transaction's (by 1 µs, the precision times are shown with, if the clock says
    otherwise), so stored
    times never go backwards whatever the writers' clocks; the number counts write
    transactions registry-wide and orders their reflog entries exactly. A registry
    written before the clock was kept starts it from its newest reflog entry.
    """
    raw = txn.get(b"last", db=clock)
    if raw is not None and len(raw) == 16:
        last_ns, last_txn = int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")
    else:  # a registry written before the clock was kept (or whose clock was lost)
        last_ns, last_txn = newest(txn, reflog)
    when_ns = max(now_ns, last_ns + TICK_NS)
    number = last_txn + 1
    txn.put(b"last", when_ns.to_bytes(8, "big") + number.to_bytes(8, "big"), db=clock)
    return when_ns, number
