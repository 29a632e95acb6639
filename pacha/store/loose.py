"""Loose objects: one file per object at objects/<2 hex>/<62 hex>.

Writes go to a temp file under tmp/, are fsynced and renamed into place, so a
reader sees either the whole object or none of it. Object files are read-only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from io import BufferedReader
from pathlib import Path

from pacha import codec
from pacha.errors import CorruptObject, ObjectNotFound
from pacha.hashing import hash_bytes
from pacha.ids import HEX_DIGITS, ID_LEN
from pacha.perms import mkdirs, read_only_mode
from pacha.store.checks import DAMAGED, HEAD, MISSING, SOUND, header_problem, problem, read_for_check
from pacha.store.encodings import ZSTD_CODER
from pacha.store.pack_writer import Seal
from pacha.store.reader import ObjectInfo
from pacha.store.tmpfile import fsync_dir, temp_path


class LooseStore:
    """The objects/ directory of a registry."""

    def __init__(
        self, objects_dir: Path, tmp_dir: Path, level: Callable[[], int] | int = 1, encoding: int = codec.ZSTD
    ) -> None:
        self.root = objects_dir
        self._root_str = str(objects_dir)
        self.tmp_dir = tmp_dir
        self._level = level
        self.encoding = encoding
        # the encryption stage, set by the ObjectStore: every stored form passes it on its way to disk
        self.seal: Seal | None = None

    @property
    def level(self) -> int:
        """zstd level for new objects (read from config only when something is written)."""
        if callable(self._level):
            self._level = self._level()
        return self._level

    def path(self, object_id: str) -> Path:
        return self.root / object_id[:2] / object_id[2:]

    def _path_str(self, object_id: str) -> str:
        # Plain strings: this is the hot path of `cat-object --batch-check`.
        return f"{self._root_str}/{object_id[:2]}/{object_id[2:]}"

    def has(self, object_id: str) -> bool:
        return os.path.exists(self._path_str(object_id))

    def _open_file(self, object_id: str) -> BufferedReader:
        try:
            return open(self._path_str(object_id), "rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"object {object_id} not found") from None

    def stat(self, object_id: str) -> ObjectInfo:
        # os-level calls: this is the whole cost of `cat-object --batch-check`
        try:
            fd = os.open(self._path_str(object_id), os.O_RDONLY)
        except FileNotFoundError:
            raise ObjectNotFound(f"object {object_id} not found") from None
        try:
            head = os.read(fd, codec.MAX_HEADER_LEN)
        finally:
            os.close(fd)
        header = codec.parse_header(head, object_id)
        return ObjectInfo(object_id, header.kind, header.size, header.encoding)

    def open_raw(self, object_id: str) -> tuple[codec.Header, BufferedReader]:
        """The header and the open file, positioned at the body."""
        f = self._open_file(object_id)
        try:
            header = codec.parse_header(f.read(codec.MAX_HEADER_LEN), object_id)
            f.seek(header.length)
        except BaseException:
            f.close()
            raise
        return header, f

    def encode(self, kind: str, data: bytes, compress: bool = True) -> tuple[bytes, bytes]:
        """Header and body of a small object: compressed only if that makes it smaller."""
        zstd = self.encoding == codec.ZSTD and data and compress
        body = ZSTD_CODER.encode(data, self.level) if zstd else data
        encoding = self.encoding
        if len(body) >= len(data):
            encoding, body = codec.IDENTITY, data
        return codec.pack_header(kind, len(data), encoding), body

    def put_bytes(self, kind: str, data: bytes) -> str:
        """Store a small object held in memory as a loose file."""
        object_id = hash_bytes(data)
        if not self.freshen(object_id):
            self.write_stored(object_id, *self.encode(kind, data))
        return object_id

    def write_stored(self, object_id: str, header: bytes, body: bytes) -> None:
        """Write an object's stored form (header and encoded body) as its loose file."""
        parts = (header, body) if self.seal is None else self.seal(object_id, (header, body))
        if not self.tmp_dir.is_dir():
            mkdirs(self.tmp_dir)
        tmp_path = temp_path(self.tmp_dir, "obj")
        try:
            with open(tmp_path, "xb") as f:
                for part in parts:
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
            self.install(tmp_path, object_id)
        finally:
            tmp_path.unlink(missing_ok=True)

    def install(self, tmp_path: Path, object_id: str) -> None:
        """Atomically move a finished temp file to its final name (idempotent)."""
        final = self.path(object_id)
        if self.freshen(object_id):
            tmp_path.unlink(missing_ok=True)
            return
        shard = final.parent
        if not shard.is_dir():
            mkdirs(shard)
            fsync_dir(self.root)
        os.chmod(tmp_path, read_only_mode(final))  # the read bits the registry's mask allows
        os.rename(tmp_path, final)
        fsync_dir(shard)

    def freshen(self, object_id: str, kind: str | None = None, size: int | None = None) -> bool:
        """If the object exists and its file is sound, mark it as just written and say so.

        A write that finds its object already stored reuses it; touching it keeps
        `gc`'s grace period from deleting it before the ref that will name it moves.
        A damaged file (pacha.store.checks.problem) is not reused: the write replaces it.
        """
        return self.state(object_id, kind, size) == SOUND

    def state(
        self,
        object_id: str,
        kind: str | None = None,
        size: int | None = None,
        base_ok: Callable[[str], bool] | None = None,
    ) -> str:
        """SOUND (and touched), MISSING or DAMAGED: the loose copy, checked cheaply
        (header, the kind and size expected if given, stored length)."""
        path = self._path_str(object_id)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return MISSING
        except OSError:
            return DAMAGED  # unreadable: a write puts a readable copy in its place
        try:
            length = os.fstat(fd).st_size
            head = read_for_check(fd, 0, length)
        except OSError:
            return DAMAGED
        finally:
            os.close(fd)
        if problem(object_id, head, length, kind, size, base_ok) is not None:
            return DAMAGED
        try:
            os.utime(path)
        except FileNotFoundError:
            return MISSING
        except PermissionError:
            pass  # not ours to touch (a shared read-only store)
        return SOUND

    def open_checked(self, object_id: str) -> tuple[codec.Header, BufferedReader]:
        """As open_raw, but a file that fails the cheap check of a copy raises CorruptObject."""
        try:  # os.open: a miss (the object is packed) costs one system call, no file object
            fd = os.open(self._path_str(object_id), os.O_RDONLY)
        except FileNotFoundError:
            raise ObjectNotFound(f"object {object_id} not found") from None
        f = open(fd, "rb")  # noqa: SIM115 (returned open, closed by the caller)
        try:
            head = f.read(HEAD)
            header = codec.parse_header(head[: codec.MAX_HEADER_LEN], object_id)
            body = os.fstat(f.fileno()).st_size - header.length
            why = header_problem(object_id, header, body, head[header.length :])
            if why is not None:
                raise CorruptObject(why)
            f.seek(header.length)
        except BaseException:
            f.close()
            raise
        return header, f

    def mtime(self, object_id: str) -> float:
        return os.stat(self._path_str(object_id)).st_mtime

    def remove(self, object_id: str) -> int:
        """Delete one object file (gc only); returns the bytes freed."""
        path = self._path_str(object_id)
        size = os.stat(path).st_size
        os.unlink(path)
        return size

    def iter_ids(self) -> Iterator[str]:
        """Every well-named object file, in id order."""
        try:
            shards = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        for shard in shards:
            if len(shard) != 2 or not set(shard) <= HEX_DIGITS:
                continue
            for name in sorted(os.listdir(self.root / shard)):
                if len(name) == ID_LEN - 2 and set(name) <= HEX_DIGITS:
                    yield shard + name

    def stray_files(self) -> Iterator[Path]:
        """Files under objects/ that are not named like objects (garbage)."""
        for dirpath, dirs, files in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root)
            if rel.as_posix() == ".":
                dirs[:] = [d for d in dirs if d != "pack"]  # packs are checked on their own
            for name in files:
                shard = rel.as_posix()
                ok = (
                    len(shard) == 2
                    and set(shard) <= HEX_DIGITS
                    and len(name) == ID_LEN - 2
                    and set(name) <= HEX_DIGITS
                )
                if not ok:
                    yield Path(dirpath) / name

    def shard_names(self, shard: str) -> set[str]:
        """File names in one shard directory (the ids that start with shard, less 2 digits)."""
        try:
            return set(os.listdir(self._root_str + "/" + shard))
        except FileNotFoundError:
            return set()

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Ids that start with prefix (lowercase hex, at least 2 characters)."""
        shard_dir = self.root / prefix[:2]
        rest = prefix[2:]
        try:
            names = os.listdir(shard_dir)
        except FileNotFoundError:
            return []
        return sorted(
            prefix[:2] + n
            for n in names
            if n.startswith(rest) and len(n) == ID_LEN - 2 and set(n) <= HEX_DIGITS
        )

    def disk_size(self, object_id: str) -> int:
        return self.path(object_id).stat().st_size


class ListedShards:
    """The loose store during a batch: each shard is listed once, so thousands of misses
    cost no system call (an object stored loose meanwhile by someone else is at worst
    stored again)."""

    def __init__(self, loose: LooseStore) -> None:
        self.loose = loose
        self._names: dict[str, set[str]] = {}  # shard -> file names

    def state(
        self,
        object_id: str,
        kind: str | None = None,
        size: int | None = None,
        base_ok: Callable[[str], bool] | None = None,
    ) -> str:
        """LooseStore.state, MISSING without a system call if the shard's listing lacks it."""
        shard = object_id[:2]
        names = self._names.get(shard)
        if names is None:
            names = self._names[shard] = self.loose.shard_names(shard)
        return self.loose.state(object_id, kind, size, base_ok) if object_id[2:] in names else MISSING


__all__ = ["ListedShards", "LooseStore"]
