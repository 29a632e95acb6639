"""documented_by: a Registry method that is one call into a domain function carries its docstring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

M = TypeVar("M", bound=Callable[..., Any])


def documented_by(function: Callable[..., Any]) -> Callable[[M], M]:
    """The method is the domain's function on this registry: it carries that function's docstring
    (Args, Returns, Raises; its parameters have the same names)."""

    def document(method: M) -> M:
        method.__doc__ = function.__doc__
        return method

    return document
