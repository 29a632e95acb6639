"""Where a download goes, so that running it again is harmless (`pacha model download -o`).

The rules (as `huggingface-cli download --local-dir` and `git checkout` behave):

- A folder artifact: `-o DIR` means "DIR holds the artifact's contents", every time.
  A DIR that does not exist, or is empty, is written. A DIR that already holds exactly
  these contents (same tree id: names, bytes and executable bits) is left alone. A DIR
  with other contents (or a file at DIR) needs --force, and is then replaced atomically
  (the new tree is written aside, verified, and swapped in).
- A single-file artifact: `-o PATH` writes the file at PATH; if PATH is an existing
  directory the file goes under its registered name inside it (as `cp` does). The same
  then holds for that file: the same bytes are a no-op, other bytes need --force.

So `download m:1.0.0 -o out` run twice writes once and then reports that `out` is up
to date; it never nests `out/out/...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pacha
from pacha.pathnames import check_destination
from pacha.pathnames import check_name as check_path_name
from porcelain.core import Core
from porcelain.errors import InvalidInput, PachaError
from porcelain.policies.enforce import require
from porcelain.resolve import resolve
from porcelain.results import Version
from porcelain.versions.artifacts import hash_file
from porcelain.wording import say


@dataclass(frozen=True)
class Placed:
    """Where a version was downloaded, and whether anything was written."""

    path: Path
    written: bool


def _same_contents(path: Path, artifact: str, artifact_kind: str) -> bool:
    """Does path already hold exactly the artifact (hashed, nothing stored)?"""
    try:
        if artifact_kind == "tree":
            return path.is_dir() and not path.is_symlink() and pacha.write_tree(None, path) == artifact
        return path.is_file() and not path.is_symlink() and hash_file(path) == artifact
    except (PachaError, OSError):
        return False  # unreadable or not storable (a socket, say): not the same


def target_of(found: Version, dest: Path) -> Path:
    """The path a version's artifact is written to for `-o dest`."""
    if found.record.artifact_kind != "tree" and dest.is_dir():
        # as cp does: into an existing directory, under the registered name, which may come
        # from someone else's record: it must not lead out of dest (pacha.pathnames)
        return dest / check_path_name(found.record.filename, f"{found.ref}: record filename")
    return dest


def place(objects: pacha.ObjectStore, found: Version, dest: str | os.PathLike[str], force: bool) -> Placed:
    """Write found's artifact for `-o dest` by the rules above.

    Raises InvalidInput when dest holds something else and force is not given.
    """
    record = found.record
    target = target_of(found, Path(dest))
    check_destination(target)  # a FIFO, socket or device is never read, compared or replaced
    exists = target.exists() or target.is_symlink()
    if exists and _same_contents(target, record.artifact, record.artifact_kind):
        return Placed(target, False)
    empty_dir = target.is_dir() and not target.is_symlink() and not any(target.iterdir())
    if exists and not force and not (empty_dir and record.artifact_kind == "tree"):
        what = "a folder" if target.is_dir() and not target.is_symlink() else "a file"
        raise InvalidInput(
            f"{target} is {what} with other contents than {found.ref}; pass {say('--force', 'force=True')} "
            "to replace it "
            "(it is replaced whole, atomically)"
        )
    pacha.checkout(objects, record.artifact, target, force=exists)
    return Placed(target, True)


def download(
    core: Core,
    kind: str,
    reference: str,
    dest: str | os.PathLike[str],
    *,
    version: str | None = None,
    force: bool = False,
) -> tuple[Version, Placed]:
    """Write a version's file or folder at dest, verified as written, all or nothing (the rules above).

    Args: kind: "model", "dataset" or "recipe". reference: NAME:VER, NAME:latest, NAME@STAGE, NAME
    (with version) or a record id or unique prefix. dest: the file or directory to write. version: the
    version, if reference is a bare NAME. force: replace dest if it holds other contents.
    Returns (the version, Placed: the path written, inside dest if dest is a directory and the
    artifact a file; and written: False when the same contents were already there).
    Raises NotFound for an unknown version; InvalidInput if dest holds other contents and force is not
    given; a PachaError if a stored object is damaged (nothing is left half written).
    """
    found = resolve(core, kind, reference, version)
    require(core.plumbing, "read", found.name, "download")
    return found, place(core.plumbing.objects, found, dest, force)
