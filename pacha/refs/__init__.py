"""Refs: names pointing at object ids, kept in LMDB with a reflog."""

from pacha.refs.names import check_ref_name, ref_name_problem
from pacha.refs.store import ReflogEntry, RefStore, RefTransaction

__all__ = ["RefStore", "RefTransaction", "ReflogEntry", "check_ref_name", "ref_name_problem"]
