"""The sync base: each ref's value when this registry last agreed with a remote.

A fetch moves the remote-tracking refs remotes/<remote>/… to what the remote holds now, so
they cannot tell "I changed this ref" from "they changed it": after a fetch both look like a
difference. The base can: it is written only when the two sides agree on a ref — after a
push moved it, a pull took it, a clone copied it — and a push sends exactly the refs whose
local value differs from it (expecting the remote still at the base: anything else means
someone moved it), while a pull takes the remote's value where the local one is still the
base. Kept in a map of the ref database (key: ref name, value: id; empty: absent), in the
same transaction as the local refs it describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pacha

MAP = "remote-sync:"  # + remote name


def read(plumbing: pacha.Registry, remote: str) -> dict[str, str]:
    """{ref: id} as this registry and remote last agreed (refs agreed absent are left out)."""
    return {k.decode("utf-8"): v.decode("ascii") for k, v in plumbing.refs.map_scan(MAP + remote) if v}


def record(tx: Any, remote: str, values: Mapping[str, str | None]) -> None:
    """Add to a ref transaction: these refs now agree with remote at these values (None: absent)."""
    for ref, value in values.items():
        tx.map_set(MAP + remote, ref.encode("utf-8"), (value or "").encode("ascii"))


def save(plumbing: pacha.Registry, remote: str, values: Mapping[str, str | None], message: str) -> None:
    """record() in a transaction of its own (after a push: the remote side has already moved)."""
    if not values:
        return
    tx = plumbing.refs.transaction(message, plumbing.identity())
    record(tx, remote, values)
    tx.commit()


def forget(plumbing: pacha.Registry, remote: str) -> None:
    """Clear the base of a remote that is removed."""
    save(plumbing, remote, dict.fromkeys(read(plumbing, remote)), f"remote remove {remote}")
