"""Refs: names pointing at object ids, kept in LMDB with a reflog.

Names are imported lazily so that checking a ref name does not load LMDB.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "check_ref_name": "pacha.refs.names",
    "ref_name_problem": "pacha.refs.names",
    "RefStore": "pacha.refs.store",
    "RefTransaction": "pacha.refs.store",
    "ReflogEntry": "pacha.refs.store",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pacha.refs' has no attribute {name!r}")
    return getattr(import_module(module), name)
