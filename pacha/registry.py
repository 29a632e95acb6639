"""Finding, creating and opening a registry.

A registry is a directory holding config.toml, objects/, refs/ (LMDB) and tmp/.
Commands find it as Git finds a repository: an explicit path, else $PACHA_DIR,
else a .pacha/ directory (or a registry itself) in the current directory or any
parent, else ~/.pacha.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from pacha.config import DEFAULT_CONFIG, Config, write_atomic
from pacha.errors import InvalidInput, ObjectNotFound, ReadOnlyRegistry, RegistryNotFound
from pacha.pathnames import not_a_directory
from pacha.perms import PRIVATE, check_shared, create, mkdirs, share, share_tree
from pacha.refs.store import RefStore, RefTransaction
from pacha.revparse import resolve
from pacha.store.promised import PromisedStore

DIR_NAME = ".pacha"
ENV_DIR = "PACHA_DIR"
HINT = "run `pacha init` to create one, or point --registry / PACHA_DIR at an existing one"


def is_registry(path: Path) -> bool:
    return (path / "config.toml").is_file() and (path / "objects").is_dir()


def identity_of(config: Config) -> str:
    """'Name <email>' from PACHA_AUTHOR_NAME/EMAIL, else config user.name/email, else login@host."""
    name = os.environ.get("PACHA_AUTHOR_NAME") or config.get("user.name")
    email = os.environ.get("PACHA_AUTHOR_EMAIL") or config.get("user.email")
    if not name or not email:  # socket costs start-up time: only commands that write need it
        import getpass
        import socket

        try:
            login = getpass.getuser()
        except (KeyError, OSError):
            login = "unknown"
        name = name or login
        email = email or f"{login}@{socket.gethostname()}"
    return f"{name} <{email}>"


class Registry:
    """An open registry: its object store, refs and settings."""

    # What a reader of an object stored nowhere calls: True once it is here. Installed by
    # pacha.transport.promisor.install() (the CLI and porcelain do): a lazy registry fetches it from
    # its default remote. A hook, because the transport depends on this module, not the reverse.
    fetch_hook: ClassVar[Callable[[Registry, str], bool] | None] = None

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        if not is_registry(self.root):
            raise RegistryNotFound(f"{self.root} is not a pacha registry: {HINT}")
        self.config.check_format(self.root)
        self._share()

    def _share(self) -> None:
        """Honour core.shared: what this process creates in the registry gets its modes (private,
        or writable by the group; pacha.perms). The process umask is left alone."""
        try:
            shared = self.config.get("core.shared")
        except InvalidInput:
            return  # a broken config.toml is reported by the commands that read it
        share(self.root, shared)

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    @cached_property
    def config(self) -> Config:
        return Config(self.root / "config.toml")

    @cached_property
    def objects(self) -> PromisedStore:
        return PromisedStore(
            self.root / "objects",
            self.root / "tmp",
            lambda: self.config.compression_level,
            self._fetch_missing,
        )

    def _fetch_missing(self, object_id: str) -> bool:
        """An object read here and stored nowhere: fetch_hook may bring it (True: it is here now)."""
        hook = Registry.fetch_hook
        return hook is not None and hook(self, object_id)

    @cached_property
    def refs(self) -> RefStore:
        return RefStore(self.root / "refs", self.identity)

    def identity(self) -> str:
        """Who is acting: 'Name <email>' from the environment, config, or login and host."""
        return identity_of(self.config)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold while writing objects that a ref transaction is about to name.

        A shared lock: writers do not wait for each other, only for `gc`, which
        takes it exclusively while it decides and deletes, so it never removes an
        object that an in-flight commit will reference.
        """
        with self._lock(exclusive=False):
            yield

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Held by gc while it decides what is unreachable and deletes it (exclusive)."""
        with self._lock(exclusive=True):
            yield

    def wait_for_writers(self, timeout: float = 10.0) -> bool:
        """Wait until no commit is in flight (nobody holds gc.lock), at most timeout seconds.

        Returns True if such a moment was seen. Takes no lock and creates nothing (it works
        on a read-only registry); a scan calls it before it reports something that an
        in-flight commit may be about to make right (a record stored, its ref not yet).
        """
        try:
            fd = os.open(self.root / "gc.lock", os.O_RDONLY)
        except OSError:
            return False
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(0.02)
        finally:
            os.close(fd)

    @contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        try:
            fd = create(self.root / "gc.lock", os.O_RDWR)
        except OSError as exc:
            raise read_only_error(exc, self.root, "write to it") if is_read_only(exc) else exc from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def resolve(self, spec: str) -> str:
        """The object id a spec names: full id, unique prefix, ref name or NAME@{N}."""
        return resolve(self.objects, self.refs, spec)

    def transaction(self, message: str = "", who: str | None = None) -> RefTransaction:
        """An atomic multi-ref update; new values must name stored objects."""
        return self.refs.transaction(message, who, before_commit=self._require_stored)

    def _require_stored(self, object_ids: list[str]) -> None:
        for object_id in object_ids:
            if not self.objects.has(object_id):
                raise ObjectNotFound(f"cannot point a ref at {object_id}: no such object (store it first)")


def is_read_only(exc: OSError) -> bool:
    """Whether an OS error says the file system or the file's permissions refuse a write."""
    return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def read_only_error(exc: OSError, root: Path, doing: str) -> ReadOnlyRegistry:
    """The one line for a write refused in a registry this process cannot write."""
    where = f": {exc.filename}" if exc.filename else ""
    return ReadOnlyRegistry(
        f"the registry {root} is read-only ({exc.strerror}{where}): cannot {doing}; "
        "write commands need a registry you can write"
    )


def registry_of(path: str | os.PathLike[str]) -> Path | None:
    """The registry a path lies in (the path itself or its nearest registry parent), or None."""
    here = Path(path).absolute()
    for directory in (here, *here.parents):
        if is_registry(directory):
            return directory
    return None


def in_registry(exc: OSError) -> bool:
    """Whether an OS error is about a file inside a registry (the store refused: read-only, disk
    full), not about a user's input file; such errors reach the CLI as they are."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # reading an input never fills a disk
        return True
    return bool(exc.filename) and registry_of(exc.filename) is not None


def find_registry(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Locate the registry to use, or raise RegistryNotFound with a hint."""
    if explicit:
        path = Path(explicit).expanduser()
        if not is_registry(path):
            raise RegistryNotFound(f"{path} is not a pacha registry: {HINT}")
        return path.absolute()
    env = os.environ.get(ENV_DIR)
    if env:
        path = Path(env).expanduser()
        if not is_registry(path):
            raise RegistryNotFound(f"{ENV_DIR}={env} is not a pacha registry: {HINT}")
        return path.absolute()
    here = Path.cwd()
    for directory in (here, *here.parents):
        if is_registry(directory / DIR_NAME):
            return directory / DIR_NAME
        if is_registry(directory):
            return directory
    home = Path.home() / DIR_NAME
    if is_registry(home):
        return home
    raise RegistryNotFound(f"not in a pacha registry (or any parent, or ~/{DIR_NAME}): {HINT}")


def open_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """Open the registry at path, or the one discovered from the environment."""
    return Registry(find_registry(path))


def default_init_path() -> Path:
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else Path.cwd() / DIR_NAME


def _owner(root: Path) -> str:
    """Who runs init, to be recorded as core.owner, the admin of every access policy
    (docs/security.md): PACHA_PRINCIPAL if set, else user:<email> of the identity.
    Raises InvalidInput, before anything is created, for a PACHA_PRINCIPAL that is not one."""
    principal = os.environ.get("PACHA_PRINCIPAL", "").strip()
    if principal:
        kind, _, ident = principal.partition(":")
        if kind.lower() not in ("user", "service-account", "sa") or not ident.strip():
            raise InvalidInput(f"PACHA_PRINCIPAL is {principal!r}: write user:EMAIL or service-account:ID")
        return principal
    who = identity_of(Config(root / "config.toml"))
    return "user:" + who[who.rfind("<") + 1 : -1].lower()


def init_registry(
    path: str | os.PathLike[str] | None = None, shared: str | None = None
) -> tuple[Registry, bool]:
    """Create a registry at path (default: $PACHA_DIR or ./.pacha).

    shared: "group" or "all" makes a registry a Unix group can write (as `git init
    --shared`), "umask" one that follows each user's umask; the default, "private", one
    only its owner can read (0700/0600). Recorded as core.shared and honoured by every later
    write (pacha.perms); on an existing registry it is recorded and applied to the files
    already there. The identity running it is recorded as core.owner (access policies).
    Returns the registry and whether it was newly created; running it on an existing
    registry otherwise changes nothing, as `git init` does.
    """
    if shared is not None:
        shared = check_shared(shared)
    root = Path(path).expanduser() if path else default_init_path()
    if is_registry(root):
        registry = Registry(root)
        if shared is not None:
            share(root, shared)
            registry.config.set("core.shared", shared)
            share_tree(registry.root, shared)
        return registry, False
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"cannot create a registry at {root}: it is a file")
    if root.is_dir() and any(root.iterdir()):
        raise InvalidInput(
            f"cannot create a registry at {root}: the directory is not empty; choose a new or empty directory"
        )
    shared = shared or PRIVATE  # a new registry is private unless shared (pacha.perms)
    owner = _owner(root)
    share(root, shared)
    try:
        for sub in ("objects", "tmp", "refs"):
            mkdirs(root / sub)
        os.close(create(root / "gc.lock", os.O_RDWR))
        write_atomic(root / "config.toml", DEFAULT_CONFIG.encode("utf-8"))
        Config(root / "config.toml").set("core.owner", owner)
        Config(root / "config.toml").set("core.shared", shared)
        share_tree(root, shared)
    except OSError as exc:
        why = not_a_directory(root) if isinstance(exc, NotADirectoryError) else None
        raise InvalidInput(f"cannot create a registry at {root}: {why or exc.strerror}") from None
    registry = Registry(root)
    registry.refs.create()  # the ref database exists from the start: reads need not create it
    return registry, True
