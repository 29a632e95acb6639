"""config.toml: read with the standard library (fast), edited with tomlkit (keeps comments)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pacha.documents import parse_toml, read_text
from pacha.errors import InvalidInput, UnknownFormat
from pacha.perms import SHARED, SHARED_HINT, create

CONFIG_LIMIT = 1 << 20  # a config file is a few hundred bytes
FORMAT = 1  # the registry format (core.format) this pacha writes and reads: docs/format.md, "Versions"
# the lifecycle stages (porcelain.stages.rules.STAGES; pacha/ does not import porcelain): the names
# policy.require_signed may list
STAGE_NAMES = ("development", "staging", "production", "archived")

DEFAULT_CONFIG = """\
# Pacha registry configuration (TOML).
# Edit by hand or with `pacha config KEY VALUE`; comments are kept.

[core]
# On-disk format version of this registry; readers refuse versions they do not know.
format = 1
# zstd level for new objects: 1 (fastest) .. 19 (smallest). Model weights barely
# compress at any level, so a low level keeps ingest close to disk speed (on CSV,
# level 1 compresses 1.4x faster than level 3 for a 3 % larger store).
compression_level = 1

[user]
# Who is recorded in the reflog. Defaults to your login name and host;
# PACHA_AUTHOR_NAME and PACHA_AUTHOR_EMAIL override these for one command.
# name = "Ada Lovelace"
# email = "ada@example.com"
"""

# key -> (type, check, hint)
KNOWN_KEYS: dict[str, tuple[Callable[[str], Any], Callable[[Any], bool], str]] = {
    "core.format": (int, lambda v: v == FORMAT, f"only format {FORMAT} exists"),
    "core.compression_level": (int, lambda v: 1 <= v <= 19, "an integer from 1 to 19"),
    "user.name": (str, lambda v: bool(v.strip()), "a non-empty name"),
    "user.email": (str, lambda v: "@" in v, "an address like ada@example.com"),
    "core.shared": (str, lambda v: v.lower() in SHARED, SHARED_HINT),
    "core.owner": (str, lambda v: v == "public" or ":" in v, "a principal like user:ada@example.com"),
    "user.principal": (str, lambda v: ":" in v, "user:EMAIL or service-account:ID"),
    "verify.policy": (str, lambda v: v.lower() in ("true", "false"), "true or false"),
    "user.signingkey": (str, lambda v: bool(v.strip()), "an OpenPGP key id, fingerprint or email"),
    "sign.always": (str, lambda v: v.lower() in ("true", "false"), "true or false"),
    "sign.keyring": (str, lambda v: bool(v.strip()), "a file of exported public keys (gpg --export -a)"),
    "policy.root-keys": (
        lambda raw: fingerprint_list(raw),
        lambda v: bool(v),
        "OpenPGP fingerprints (40 hex digits), comma-separated: the keys that may sign a first policy",
    ),
    "policy.require_signed": (
        lambda raw: _stage_list(raw),  # defined below: KNOWN_KEYS is read only at call time
        lambda v: all(name in STAGE_NAMES for name in v),
        f'stage names from {", ".join(STAGE_NAMES)}: a TOML list like ["production"] or production,staging',
    ),
}


def fingerprint_list(raw: str | list[str]) -> list[str]:
    """OpenPGP v4 fingerprints, upper-case, from a TOML list or comma/space-separated text.
    Raises ValueError for anything that is not 40 hex digits (spaces inside one are dropped)."""
    items = raw if isinstance(raw, list) else raw.replace(",", " ").split()
    out = [str(item).replace(" ", "").upper() for item in items]
    if not out or not all(len(f) == 40 and all(c in "0123456789ABCDEF" for c in f) for f in out):
        raise ValueError(raw)
    return out


def _stage_list(raw: str) -> list[str]:
    """Stage names from the command line: a TOML list (the form config.toml holds, as the docs
    show it) or comma-separated names. Raises ValueError for anything else, or no name."""
    text = raw.strip()
    if text.startswith("["):
        value = tomllib.loads(f"v = {text}")["v"]  # TOMLDecodeError is a ValueError
        if not all(isinstance(v, str) for v in value):
            raise ValueError(raw)
        names = [v.strip() for v in value]
    else:
        names = [v.strip() for v in text.split(",")]
    if not all(names) or not names:
        raise ValueError(raw)
    return names


def _split(key: str) -> tuple[str, str]:
    section, _, name = key.partition(".")
    if not section or not name or "." in name:
        raise InvalidInput(f"config key {key!r} is invalid: use SECTION.NAME, e.g. user.name")
    return section, name


class Config:
    """The settings of one registry."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if os.path.lexists(path):
            try:
                self.data = parse_toml(self._text(), str(path))
            except InvalidInput as exc:
                raise InvalidInput(f"{exc}; fix or restore it") from None

    def _text(self) -> str:
        """The file's text: bounded and strictly decoded, as every document (pacha.documents)."""
        return read_text(self.path, "config file", CONFIG_LIMIT)

    def check_format(self, root: Path) -> None:
        """Refuse a registry of a format this pacha does not read (UnknownFormat); one
        without core.format is format 1, as the first `pacha init` wrote it."""
        try:
            found = self.get("core.format", FORMAT)
        except InvalidInput:
            return  # a broken config.toml is reported by the commands that read it
        if found != FORMAT:
            raise UnknownFormat(
                f"{root} is a registry of format {found} (core.format); "
                f"this pacha reads format {FORMAT} (upgrade pacha)"
            )

    def get(self, key: str, default: Any = None) -> Any:
        section, name = _split(key)
        value = self.data.get(section, {})
        return value.get(name, default) if isinstance(value, dict) else default

    def items(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for section, table in self.data.items():
            if isinstance(table, dict):
                out.extend((f"{section}.{k}", v) for k, v in table.items())
        return out

    @property
    def compression_level(self) -> int:
        return int(self.get("core.compression_level", 1))

    def set(self, key: str, raw: str) -> Any:
        """Set key from its command-line text, checking known keys; keeps comments."""
        import tomlkit

        section, name = _split(key)
        value: Any = raw
        if key in KNOWN_KEYS:
            kind, ok, hint = KNOWN_KEYS[key]
            try:
                value = kind(raw)
            except ValueError:
                raise InvalidInput(f"config {key} must be {hint}, not {raw!r}") from None
            if not ok(value):
                raise InvalidInput(f"config {key} must be {hint}, not {raw!r}")
        doc = tomlkit.parse(self._text()) if self.path.exists() else tomlkit.document()
        table = doc.get(section)
        if table is None:
            table = tomlkit.table()
            doc[section] = table
        table[name] = value
        write_atomic(self.path, tomlkit.dumps(doc).encode("utf-8"))
        self.data = tomllib.loads(tomlkit.dumps(doc))
        return value

    def unset(self, key: str) -> bool:
        import tomlkit

        section, name = _split(key)
        if not self.path.exists():
            return False
        doc = tomlkit.parse(self._text())
        table = doc.get(section)
        if table is None or name not in table:
            return False
        del table[name]
        write_atomic(self.path, tomlkit.dumps(doc).encode("utf-8"))
        self.data = tomllib.loads(tomlkit.dumps(doc))
        return True


def write_atomic(path: Path, data: bytes) -> None:
    """Replace path with data: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(create(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as f:  # the registry's mode (pacha.perms)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
