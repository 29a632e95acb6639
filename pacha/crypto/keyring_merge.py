"""Three-way merge of two keyrings' passphrase slots against the keyring both started from.

Slots are matched by name and compared whole (salt, costs, wrapped keys, who, when), so a
slot re-wrapped by `pacha key rotate` is a changed slot. For each name, with b, m, t its
slot in the base, mine and theirs (absent: None):

- m == t: kept as it is (both made the same change, or none);
- m == b: theirs (added, removed or re-wrapped there);  t == b: mine (the same, here);
- otherwise (added on both sides, re-wrapped on both differently, or removed on one side and
  re-wrapped on the other): a conflict, KeyringConflict naming the slot and what to do;
  nothing is merged. Removed-versus-re-wrapped is a conflict, not a removal: the side that
  re-wrapped may hold no other slot it can open, and a merge must never lock a registry's
  own user out (found by the attack: a colleague's `key remove` undid a `key rotate` and the
  rotating registry no longer opened with its new passphrase). Either answer is safe against
  a leaked old passphrase (a re-wrap already stops it), so the person decides.

A merge that would leave no slot is a conflict too. The master keys never change in a merge
(pacha.transport.sealed refuses keyrings under other keys before merging).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pacha.crypto.keyring import Slot
from pacha.errors import CheckFailed


class KeyringConflict(CheckFailed):
    """Both sides changed one key slot in different ways (exit 1; nothing changed)."""


@dataclass(frozen=True)
class SlotChange:
    """What happened to one slot between two keyrings: added, removed or rewrapped."""

    action: str
    name: str
    by: str  # who made the slot (added, rewrapped); "" when not recorded or removed


def by_name(slots: Sequence[Slot]) -> dict[str, Slot]:
    return {s.name: s for s in slots}


def same(a: Slot | None, b: Slot | None) -> bool:
    """Whether two slots (or absences) are the same, byte for byte."""
    if a is None or b is None:
        return a is b
    return a.to_doc() == b.to_doc()


def same_slots(a: Sequence[Slot], b: Sequence[Slot]) -> bool:
    """Whether two slot lists hold the same slots (order aside)."""
    x, y = by_name(a), by_name(b)
    return x.keys() == y.keys() and all(same(x[n], y[n]) for n in x)


def diff(old: Sequence[Slot], new: Sequence[Slot]) -> list[SlotChange]:
    """The changes from old's slots to new's, in name order."""
    x, y = by_name(old), by_name(new)
    out = []
    for name in sorted(x.keys() | y.keys()):
        a, b = x.get(name), y.get(name)
        if same(a, b):
            continue
        if a is None:
            out.append(SlotChange("added", name, b.by if b else ""))
        elif b is None:
            out.append(SlotChange("removed", name, ""))
        else:
            out.append(SlotChange("rewrapped", name, b.by))
    return out


def merge3(base: Mapping[str, Slot], mine: Sequence[Slot], theirs: Sequence[Slot], where: str) -> list[Slot]:
    """The merged slots (mine's order, then those only theirs has); see the module doc.

    where names the other side for messages ("remote s3://b/p"). Raises KeyringConflict."""
    m, t = by_name(mine), by_name(theirs)
    names = list(m) + [n for n in t if n not in m] + [n for n in base if n not in m and n not in t]
    out: list[Slot] = []
    for name in names:
        b, ms, ts = base.get(name), m.get(name), t.get(name)
        if same(ms, ts) or same(ts, b):
            keep = ms
        elif same(ms, b):
            keep = ts
        else:
            raise _conflict(name, b is None, ms is None or ts is None, where)
        if keep is not None:
            out.append(keep)
    if not out:
        raise KeyringConflict(
            f"merging this registry's keyring with the one on {where} would leave no key slot (each "
            "side removed the other's last one): nothing was changed; add a slot here (`pacha key add`) "
            "and try again"
        )
    return out


def _conflict(name: str, added: bool, removed: bool, where: str) -> KeyringConflict:
    if removed:
        return KeyringConflict(
            f"key slot {name!r} was removed on one side and given a new passphrase on the other (here "
            f"and {where}): nothing was changed; to keep it, `pacha key add --name OTHER` here, then "
            f"`pacha key remove {name}`, and try again; to let it go, `pacha key remove {name}` here "
            "(with another slot to open this registry) and try again"
        )
    if added:
        return KeyringConflict(
            f"key slot {name!r} was added here and on {where} with different passphrases: nothing was "
            f"changed; rename yours (`pacha key remove {name}`, then `pacha key add --name OTHER`) and "
            "try again"
        )
    return KeyringConflict(
        f"key slot {name!r} was given a new passphrase both here and on {where}: nothing was changed; "
        f"`pacha key remove {name}` here (the merge then removes it on both sides) and add it again with "
        "`pacha key add`, then try again"
    )
