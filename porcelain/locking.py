"""Holding the registry's write lock while objects are written and then named by refs."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pacha.errors import PachaError
from pacha.store import repack

F = TypeVar("F", bound=Callable[..., Any])


def writes_objects(method: F) -> F:
    """Run a Registry method under plumbing.writing(), so gc cannot collect what it writes;
    then, if registrations have left many packs, merge the small ones (as `git gc --auto`)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.plumbing.writing():
            result = method(self, *args, **kwargs)
            maintain(self.plumbing)
            return result

    return wrapper  # type: ignore[return-value]


def maintain(plumbing: Any) -> None:
    """After objects arrived (a registration, a pull or clone): merge the small packs if
    there are many, else cover new packs in the multi-pack index, extending the one in place
    (pacha.store.repack.auto_repack); a failure is a warning (what was committed stands)."""
    try:
        repack.auto_repack(plumbing.objects)
    except (PachaError, OSError) as exc:  # what was committed stands; the packs stay as they are
        sys.stderr.write(f"pacha: warning: automatic repack skipped ({exc}); run `pacha repack`\n")
