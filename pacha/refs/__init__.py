"""Refs: names pointing at object ids, kept in LMDB with a reflog.

Modules, from the bottom up: names (ref name rules), tables (the LMDB tables and the
prefix scan), lmdb_file / lmdb_errors / env (opening the environment), reflog, clock,
digest, indexes (derived indices and maps), transaction, store (RefStore, the API),
integrity (gc's guard, the ref snapshot, recovery). Import names from those modules.
"""
