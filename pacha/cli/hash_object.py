"""pacha hash-object: compute object ids, optionally storing the objects."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from pacha import objects
from pacha.cli.app import new_app, write_out, writing_reg
from pacha.documents import read_stream
from pacha.errors import InvalidInput, UsageError
from pacha.hashing import hash_bytes, hash_stream
from pacha.objects import KNOWN_KINDS
from pacha.pathnames import check_source
from pacha.store.snapshot import hash_file

if TYPE_CHECKING:
    from pacha.store import ObjectStore

app = new_app()
STRUCTURED_LIMIT = 1 << 30  # a tree or record read whole: a 5-million-file tree is about 1 GB of JSON


@app.command(epilog="Example: pacha hash-object -w model.safetensors")
def hash_object(
    files: Annotated[list[Path] | None, typer.Argument(help="Files to hash.")] = None,
    write: Annotated[bool, typer.Option("-w", help="Store the object in the registry.")] = False,
    kind: Annotated[str, typer.Option("-t", help="Object kind: blob, tree or record.")] = "blob",
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the object from standard input.")] = False,
    stdin_paths: Annotated[
        bool, typer.Option("--stdin-paths", help="Read file paths from standard input, one a line.")
    ] = False,
) -> None:
    """Print the id of each FILE (the BLAKE3 hash, as b3sum prints); -w also stores it."""
    if kind not in KNOWN_KINDS:
        raise InvalidInput(f"unknown object kind {kind!r}: use blob, tree or record")
    if stdin and stdin_paths:
        raise UsageError("--stdin and --stdin-paths cannot be combined")
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(writing_reg()).objects if write else None
        _hash_all(files, kind, store, stdin, stdin_paths)


def _hash_all(
    files: list[Path] | None, kind: str, store: ObjectStore | None, stdin: bool, stdin_paths: bool
) -> None:
    if stdin:
        write_out(_hash_stream(sys.stdin.buffer, kind, store, "standard input") + "\n")
    for path in files or []:
        write_out(_hash_path(path, kind, store) + "\n")
    if stdin_paths:
        for line in sys.stdin.buffer:
            path = Path(os.fsdecode(line.rstrip(b"\n")))
            write_out(_hash_path(path, kind, store) + "\n")
            sys.stdout.buffer.flush()


def _hash_path(path: Path, kind: str, store: ObjectStore | None) -> str:
    if stat.S_ISDIR(check_source(path, "file").st_mode):  # no FIFO on disk, device or socket
        raise InvalidInput(f"{path} is a directory: store it with `pacha write-tree {path}`")
    try:
        if kind == "blob":
            if store is not None:
                return store.put_file(path)
            return hash_file(str(path))
        with open(path, "rb") as f:
            return _hash_stream(f, kind, store, str(path))
    except OSError as exc:
        # pacha.registry (refs, LMDB, config) only on this error path: hashing alone stays light
        from pacha.registry import in_registry

        if in_registry(exc):
            raise  # the registry refused the write: the dispatcher says so
        verb = "read or store" if store is not None else "read"
        raise InvalidInput(f"cannot {verb} {path}: {exc.strerror}") from None


def _hash_stream(stream: IO[bytes], kind: str, store: ObjectStore | None, what: str) -> str:
    try:
        if kind != objects.BLOB:
            data = read_stream(stream, what, STRUCTURED_LIMIT)
            try:
                objects.validate(kind, data)
            except InvalidInput as exc:
                raise InvalidInput(f"{what}: {exc}") from None
            return store.put_bytes(data, kind) if store else hash_bytes(data)
        if store is None:
            return hash_stream(stream)
        return store.put_stream(stream, kind)
    except OSError as exc:
        raise InvalidInput(f"cannot {'read or store' if store else 'read'} {what}: {exc.strerror}") from None
