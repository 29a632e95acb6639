"""Before a push moves refs: every pack it completed is still on the remote.

`remote prune` removes a pack whose index is not there once it is older than the grace
period; a push that stalled between a pack and its index longer than that (or a prune run
with a short grace) could find its pack removed just as its index arrives. The two sides
order their requests so that one of them always sees the other (pacha.transport.prune, module
doc): after every index is up, the push lists objects/pack/ once; while a prune lock names one
of its packs it waits for the prune to finish and lists again; a pack missing then is sent
again (its index is there, so no prune can remove it afterwards). Only then do refs move.

Cost: one LIST per pack sent, of the keys named for it (`pack-<P>`: the pack, its index, a
prune lock), up to FEW packs, else one LIST of objects/pack/ (a remote of 100,000 packs lists in
100 pages). A prune lock lives for three requests, so a push waits on one only if a prune is
removing that very pack.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pacha.transport.backend import Backend, Stat
from pacha.transport.errors import RemoteError
from pacha.transport.hooks import reached
from pacha.transport.layout import PACK_DIR, pack_id_of_prune_lock, pack_key
from pacha.transport.outgoing import PackPlan

FEW = 8  # up to this many packs, each is listed by its own name (else objects/pack/ whole)
PRUNE_WAIT = 120.0  # seconds a push waits for a prune removing one of its packs, at most
_FIRST_WAIT = 0.05  # seconds, doubled after each listing that still shows the lock (up to 2 s)


def _listing(backend: Backend, pack_ids: list[str]) -> list[Stat]:
    """The keys of objects/pack/ that concern these packs (and perhaps others)."""
    if len(pack_ids) > FEW:
        return backend.list(PACK_DIR)
    return [stat for pack_id in pack_ids for stat in backend.list(f"{PACK_DIR}pack-{pack_id}")]


def confirm_packs(
    backend: Backend, plans: list[PackPlan], resend: Callable[[list[PackPlan]], None], where: str
) -> list[PackPlan]:
    """Make sure every pack of plans is on the remote (module doc); returns those sent again.

    resend(plans): uploads those packs again (pack, then index). Raises RemoteError if a prune
    lock on one of them stays longer than PRUNE_WAIT (a prune killed while holding it: the next
    `pacha remote prune` removes it once older than its grace)."""
    if not plans:
        return []
    wanted = {plan.pack_id: plan for plan in plans}
    waited, pause = 0.0, _FIRST_WAIT
    while True:
        listed = _listing(backend, sorted(wanted))
        locked = sorted({p for p in (pack_id_of_prune_lock(s.key) for s in listed) if p in wanted})
        if not locked:
            break
        reached("push-waits-for-prune")
        if waited >= PRUNE_WAIT:
            raise RemoteError(
                f"remote {where}: a `pacha remote prune` has been removing pack {locked[0]} for over "
                f"{PRUNE_WAIT:.0f} s; no ref was moved. Push again once it is done (a prune lock "
                f"left by a killed prune is removed by the next `pacha remote prune` after its grace)"
            )
        time.sleep(pause)
        waited += pause
        pause = min(2 * pause, 2.0)
    present = {s.key for s in listed}
    missing = [plan for plan in plans if pack_key(plan.pack_id) not in present]
    if missing:
        resend(missing)
    return missing
