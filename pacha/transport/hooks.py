"""Named steps of the transport's protocols, where a test runs the other side of a race.

A race between two processes (a push and a `remote prune`, say) is decided by the order of
their requests; a test that waits or sleeps to get an order is a test that fails under load.
Instead the code calls reached(NAME) at each step that matters, and a test registers, for a
name, what the other side does there (run a whole prune, start a push in a thread and wait
until it reaches a step of its own), so every interleaving is produced step by step, the
same every time. With nothing registered (always, outside tests) a step costs one
dictionary lookup, as pacha.crash's crash points do.
"""

from __future__ import annotations

from collections.abc import Callable

STEPS: dict[str, Callable[[], None]] = {}  # step name -> what a test runs there


def reached(name: str) -> None:
    """Run what a test registered for this step, if anything."""
    action = STEPS.get(name)
    if action is not None:
        action()
