"""The artifact of a version: a file (blob) or a folder (tree), stored or only hashed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pacha
from pacha.ignore import IgnoreRules
from pacha.pathnames import check_source
from pacha.registry import in_registry
from pacha.store.ingest import ingest_file_sized
from pacha.store.snapshot import Identity, changed, confirm_hash, hash_file_sized, identity
from pacha.store.snapshot import hash_file as hash_path
from pacha.trees import write_tree_sized
from porcelain.cards import weights_info as headers
from porcelain.errors import InvalidInput
from porcelain.progress import progress_bar


def hash_file(path: Path) -> str:
    """The BLAKE3 id of a file's bytes (= b3sum), nothing stored."""
    return hash_path(str(path))


def check_still(read: list[tuple[Path, Identity]]) -> None:
    """Raise FileChanged for the first file no longer as it was when read."""
    for path, before in read:
        try:
            now = identity(os.stat(path))
        except OSError:
            raise changed(path) from None
        if now != before:
            raise changed(path)


def confirm_listed(
    path: Path, listed: Identity, artifact: str, read_facts: Callable[[], Any], recorded: Any
) -> None:
    """Raise FileChanged unless the file at path is still as listed, or only its times moved
    since (a chmod, a link, a touch, the same bytes saved again) and, read again while it
    holds still, its blob id is artifact and the facts read from it (read_facts(): a card's
    weights and table facts) are those recorded."""
    try:
        now = identity(os.stat(path))
    except OSError:
        raise changed(path) from None
    if now == listed:
        return
    moved = changed(path, listed, now, read=now[2], when="while it was stored")
    confirm_hash(moved, path, artifact)  # FileChanged unless its bytes are still those stored
    if read_facts() != recorded or identity(os.stat(path)) != now:
        raise moved


def artifact_of(
    objects: pacha.ObjectStore | None,
    target: Path,
    base: str | None = None,
    *,
    ignore: IgnoreRules | None = None,
    listed: Identity | None = None,
) -> tuple[str, str, int]:
    """(id, kind, size) of a file or folder; stored when objects is given, else only hashed.

    base is an earlier version's artifact: what changed may be stored as deltas against it.
    ignore: what a folder leaves out (default: its .pachaignore and the store's registry).
    listed: a file's identity when the caller first looked at it (pacha.store.snapshot).
    The size is the count of bytes read; a file that changes while it is read (since
    listed) raises FileChanged and nothing is stored.
    """
    check_source(target, "artifact")  # a FIFO on disk would block, a device never end
    with progress_bar(target, enabled=objects is not None) as advance:
        if target.is_dir():
            tree_id, size = write_tree_sized(objects, target, base=base, progress=advance, ignore=ignore)
            return tree_id, "tree", size
        return _file_artifact(objects, target, base, advance, listed)


def _file_artifact(
    objects: pacha.ObjectStore | None, target: Path, base: str | None, advance: Any, listed: Identity | None
) -> tuple[str, str, int]:
    try:
        if objects is None:
            blob_id, size = hash_file_sized(target, listed)
            if advance is not None:
                advance(size)
        else:
            with open(target, "rb") as f:
                blob_id, size = ingest_file_sized(objects, f, base=base, progress=advance, listed=listed)
        return blob_id, "blob", size
    except OSError as exc:
        if in_registry(exc):
            raise  # the registry refused the write (read-only, full disk): the dispatcher says so
        # reading the file, or writing the store: say which path
        verb = "read" if objects is None else "read or store"
        raise InvalidInput(f"cannot {verb} {target}: {exc.strerror}") from None


def weights_info(
    target: Path, ignore: IgnoreRules | None = None, read: list[tuple[Path, Identity]] | None = None
) -> dict[str, Any] | None:
    """Header facts of the weights files in a file or folder (summed over the files a tree
    of the folder holds: ignore says which, as for artifact_of).

    read, if given, receives each folder file described with its identity before it was
    read (pacha.store.snapshot): check_still(read) after storing proves the facts are of
    the bytes stored."""
    if target.is_file():
        return headers.describe(target)
    rules = ignore if ignore is not None else IgnoreRules.for_folder(target)
    found = []
    for path in sorted(rules.walk(target, headers.SUFFIXES)):
        try:
            before = identity(os.stat(path))
        except OSError:
            continue  # gone: storing the folder says so
        info = headers.describe(path, by_suffix_only=True)
        if info:
            found.append(info)
            if read is not None:
                read.append((path, before))
    if not found:
        return None
    out: dict[str, Any] = {
        "format": ", ".join(sorted({i["format"] for i in found})),
        "files": len(found),
        "tensor_count": sum(i["tensor_count"] for i in found),
        "parameter_count": sum(i["parameter_count"] for i in found),
        "dtypes": sorted({d for i in found for d in i.get("dtypes", [])}),
    }
    quantizations = sorted({i["quantization"] for i in found if "quantization" in i})
    if quantizations:
        out["quantization"] = ", ".join(quantizations)
    return out
