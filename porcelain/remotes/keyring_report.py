"""The key slot changes a push, fetch, pull or clone made, in its --json report.

An encrypted remote's keyring travels with these commands (pacha.transport.keyring_sync):
each slot change, either way, is one stderr line and one line of keyring.log; the same
changes are in the report's `keyring` list, so a script sees them too (before, --json said
nothing of them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pacha.transport import keyring_sync

F = TypeVar("F", bound=Callable[..., Any])


def reports_keyring(command: F) -> F:
    """Run command collecting the keyring changes it makes; they go into the SyncReport it
    returns (or the report of the (registry, report) pair clone returns), as `keyring`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with keyring_sync.collecting() as changes:
            result = command(*args, **kwargs)
        report = result[1] if isinstance(result, tuple) else result
        report.keyring = list(changes)
        return result

    return wrapper  # type: ignore[return-value]
