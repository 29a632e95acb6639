"""RefTransaction.check: rules checked and applied inside the LMDB write transaction."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

import pacha
from tests.conftest import snapshot


@pytest.fixture
def ids(registry) -> list[str]:
    return [registry.objects.put_bytes(f"object {i}".encode()) for i in range(4)]


def test_check_sees_committed_refs_and_adds_updates(registry, ids) -> None:
    with registry.transaction("setup") as tx:
        tx.create("slots/a", ids[0]).create("slots/b", ids[1])
    seen = {}

    def rule(view) -> None:
        seen["listed"] = list(view.iter("slots/"))
        seen["c"] = view.get("slots/c")
        view.delete("slots/a", ids[0]).create("slots/c", ids[0])

    with registry.transaction("move a to c") as tx:
        tx.update("slots/b", ids[2], ids[1])
        tx.check(rule)
    # the view shows what was committed before, not this transaction's own updates
    assert seen == {"listed": [("slots/a", ids[0]), ("slots/b", ids[1])], "c": None}
    assert dict(registry.refs.iter("slots/")) == {"slots/b": ids[2], "slots/c": ids[0]}
    # the added updates are in the reflog of the same transaction
    assert [e.message for e in registry.refs.reflog("slots/c")] == ["move a to c"]


def test_a_check_that_raises_aborts_everything(cli, registry, ids) -> None:
    with registry.transaction("setup") as tx:
        tx.create("slots/a", ids[0])
    before = snapshot(cli.registry)

    def refuse(view) -> None:
        view.create("slots/z", ids[1])
        raise pacha.errors.CheckFailed("rule broken")

    with pytest.raises(pacha.errors.CheckFailed, match="rule broken"), registry.transaction("no") as tx:
        tx.update("slots/a", ids[2], ids[0]).check(refuse)
    assert snapshot(cli.registry) == before
    assert registry.refs.get("slots/z") is None


def test_updates_a_check_adds_keep_compare_and_swap(registry, ids) -> None:
    with registry.transaction("setup") as tx:
        tx.create("slots/a", ids[0])
    with pytest.raises(pacha.RefConflict, match="already exists"), registry.transaction("x") as tx:
        tx.check(lambda view: view.create("slots/a", ids[1]))
    with pytest.raises(pacha.RefConflict, match="twice"), registry.transaction("x") as tx:
        tx.update("slots/a", ids[1]).check(lambda view: view.delete("slots/a"))
    assert registry.refs.get("slots/a") == ids[0]


def _take_a_free_slot(args: tuple[str, int, int]) -> list[str]:
    """Worker: claim `rounds` slots, each the lowest free number, chosen inside the write txn."""
    root, worker, rounds = args
    reg = pacha.open_registry(root)
    mine = reg.objects.put_bytes(f"worker {worker}".encode())
    claimed = []
    for _ in range(rounds):
        chosen: list[str] = []

        def claim(view, chosen=chosen) -> None:
            taken = {name for name, _ in view.iter("slot/")}
            free = next(f"slot/{n:04d}" for n in range(10_000) if f"slot/{n:04d}" not in taken)
            view.create(free, mine)
            chosen.append(free)

        with reg.transaction(f"worker {worker}") as tx:
            tx.check(claim)
        claimed.append(chosen[-1])
    return claimed


def test_rules_in_the_transaction_hold_across_processes(cli) -> None:
    """Choose-then-write inside the transaction: concurrent processes never pick the same slot
    and never fail, where a plan made outside it would collide."""
    workers, rounds = 4, 25
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        claimed = pool.map(_take_a_free_slot, [(str(cli.registry), w, rounds) for w in range(workers)])
    everything = [slot for slots in claimed for slot in slots]
    assert sorted(everything) == [f"slot/{n:04d}" for n in range(workers * rounds)]
    reg = pacha.open_registry(Path(cli.registry))
    assert len(list(reg.refs.iter("slot/"))) == workers * rounds
