"""Sharing one artifact as a sealed file (pacha.crypto.sealed_file), and opening one.

A file is sealed as its bytes (kind "blob"); a folder as a POSIX tar stream of its
tree (kind "tar": regular files with modes 0644/0755 and directories, nothing else),
built from the stored objects as they are read, so no plaintext reaches the disk.
The metadata names the artifact's id: opening checks the bytes (blob) or the
extracted folder's tree id (tar) against it before the result is renamed into place.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pacha.crypto.passphrase import new_passphrase, passphrase
from pacha.crypto.recipients import read_identity, read_recipient
from pacha.crypto.sealed_file import SealedReader, SealedWriter
from pacha.errors import CheckFailed, InvalidInput
from pacha.hashing import new_hasher
from pacha.objects import MODE_EXEC, MODE_TREE
from pacha.pathnames import check_destination, not_a_directory
from pacha.pathnames import check_name as check_path_name
from pacha.trees import read_tree, write_tree

if TYPE_CHECKING:
    from pacha.store import ObjectStore
    from pacha.store.reader import ObjectReader


class _ReadN:
    """read(n) over a verifying ObjectReader (tarfile reads its members that way)."""

    def __init__(self, reader: ObjectReader) -> None:
        self._reader = reader

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return self._reader.read()
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n and (k := self._reader.readinto(view[got:])):
            got += k
        return bytes(buf[:got])


def _add_tree(tar: tarfile.TarFile, store: ObjectStore, tree_id: str, prefix: str) -> None:
    for entry in read_tree(store, tree_id).entries:
        name = check_path_name(entry.name, f"tree {tree_id}")
        path = f"{prefix}{name}"
        info = tarfile.TarInfo(path)
        info.mtime = 0
        if entry.mode == MODE_TREE:
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
            _add_tree(tar, store, entry.id, path + "/")
            continue
        info.size, info.mode = entry.size, 0o755 if entry.mode == MODE_EXEC else 0o644
        with store.open(entry.id) as reader:
            tar.addfile(info, _ReadN(reader))


def _temp_beside(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.pacha-{os.getpid()}-{os.urandom(4).hex()}"


def _check_destination(dest: Path, force: bool) -> None:
    """Refuse, naming dest (never the temp file beside it), a destination that exists (without
    force) or whose directory is missing or a file; before any passphrase is asked for."""
    if dest.exists() and not force:
        raise InvalidInput(f"{dest} exists: give --force to replace it, or another -o")
    blocker = not_a_directory(dest)
    if blocker is not None:
        raise InvalidInput(f"cannot write {dest}: {blocker}")
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"cannot write {dest}: directory {parent} does not exist")


def _cannot_write(dest: Path, exc: OSError) -> InvalidInput:
    return InvalidInput(f"cannot write {dest}: {exc.strerror or exc}")


def seal_artifact(
    store: ObjectStore,
    artifact: str,
    kind: str,
    filename: str,
    source: str,
    dest: Path,
    force: bool = False,
    new_key_file: Path | None = None,
    recipients: Sequence[Path] = (),
) -> Path:
    """Write artifact (a blob or a tree) as a sealed file at dest (atomically), for the
    recipients' public keys (files: pacha.crypto.recipients) if any are given, else under a
    new passphrase (PACHA_NEW_PASSPHRASE, PACHA_NEW_KEY_FILE or typed twice)."""
    if dest.is_dir():
        raise InvalidInput(f"{dest} is a directory: give -o a file name for the sealed file")
    _check_destination(dest, force)
    check_destination(dest)  # a file where a directory of dest should be: named
    info = store.stat(artifact)
    meta: dict[str, Any] = {
        "filename": filename,
        "id": artifact,
        "kind": "blob" if kind == "blob" else "tar",
        "size": info.size if kind == "blob" else 0,
        "source": source,
    }
    public = [read_recipient(p) for p in recipients]
    secret = b"" if public else new_passphrase(f"the sealed file {dest.name}", new_key_file)
    tmp = _temp_beside(dest)
    try:
        with open(tmp, "xb") as f:
            if public:
                writer = SealedWriter.for_recipients(f, public, meta)
            else:
                writer = SealedWriter.for_passphrase(f, secret, meta)
            if kind == "blob":
                with store.open(artifact) as reader:
                    for block in reader.chunks():
                        writer.write(block)
            else:
                with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                    _add_tree(tar, store, artifact, "")
            writer.finish()
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except OSError as exc:  # no permission, disk full: about dest, not the temp file beside it
        raise _cannot_write(dest, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


class _TarSource:
    """read(n) over a sealed file's content blocks (for tarfile's stream mode)."""

    def __init__(self, reader: SealedReader) -> None:
        self._blocks = reader.blocks()
        self._pending = b""

    def read(self, n: int = -1) -> bytes:
        out = [self._pending]
        have = len(self._pending)
        while n < 0 or have < n:
            block = next(self._blocks, None)
            if block is None:
                break
            out.append(block)
            have += len(block)
        data = b"".join(out)
        if n < 0:
            self._pending = b""
            return data
        self._pending = data[n:]
        return data[:n]


def open_sealed(
    path: Path, dest: Path | None, force: bool = False, identities: Sequence[Path] = ()
) -> tuple[Path, dict[str, Any]]:
    """Decrypt the sealed file at path into dest (default: its recorded file name here), with
    the identities' private keys (files) if it is sealed to recipients, else the passphrase
    (asked only then); the content is checked against the recorded id before it is renamed
    into place."""
    private = [read_identity(p) for p in identities]
    if dest is not None:
        _check_destination(dest, force)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with f:
        reader = SealedReader(f, str(path), lambda: passphrase(f"the sealed file {path.name}"), private)
        meta = reader.metadata
        if dest is None:
            dest = Path(check_path_name(str(meta.get("filename", "")), f"{path}: recorded file name"))
        _check_destination(dest, force)
        check_destination(dest)
        tmp = _temp_beside(dest)
        try:
            if meta.get("kind") == "tar":
                _extract(reader, tmp)
            else:
                _write_blob(reader, tmp)
            if dest.is_dir() and not dest.is_symlink():
                import shutil

                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except OSError as exc:
            raise _cannot_write(dest, exc) from None
        finally:
            if tmp.is_dir():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
    return dest, meta


def _write_blob(reader: SealedReader, tmp: Path) -> None:
    hasher = new_hasher(reader.size)
    size = 0
    with open(tmp, "xb") as out:
        for block in reader.blocks():
            hasher.update(block)
            size += len(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if size != reader.size or hasher.hexdigest() != reader.id:
        raise CheckFailed(f"the content decrypted is not the artifact {reader.id} the file names")


def _extract(reader: SealedReader, tmp: Path) -> None:
    tmp.mkdir()
    source: IO[bytes] = _TarSource(reader)  # type: ignore[assignment]
    with tarfile.open(fileobj=source, mode="r|") as tar:
        for member in tar:
            if not (member.isfile() or member.isdir()):
                raise CheckFailed(
                    f"sealed folder holds {member.name!r}, which is neither a file nor a folder"
                )
            tar.extract(member, tmp, filter="data")
    if write_tree(None, tmp) != reader.id:
        raise CheckFailed(f"the folder decrypted is not the artifact {reader.id} the file names")
