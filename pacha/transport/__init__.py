"""Remotes: a place that holds objects and refs (a directory or an S3 bucket), and push/fetch.

Modules (none imports porcelain): urls (parsing), backend (the storage interface and its
errors), file_backend / s3_backend (the two kinds of store), cas (conditional writes and the
probe), layout (keys and documents on a remote), local (the adapter to the registry's store and
refs), packs (building and reading packs for transfer), transfer (sending and receiving
objects), reftable (the ref table and its reflog), remote (open_remote), push and fetch.
The protocol is described in docs/remotes.md.
"""
