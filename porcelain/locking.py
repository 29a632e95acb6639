"""Holding the registry's write lock while objects are written and then named by refs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def writes_objects(method: F) -> F:
    """Run a Registry method under plumbing.writing(), so gc cannot collect what it writes."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.plumbing.writing():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
