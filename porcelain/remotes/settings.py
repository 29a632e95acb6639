"""Remote settings in config.toml: `[remote.<name>]` tables and the default remote.

    [remote.origin]
    url = "s3://team-models/registry"       # or a path / file:// URL (a shared mount)
    endpoint-url = "http://seaweed:8333"    # S3-compatible stores other than AWS
    lazy = false                            # objects on demand (model download, verify)
    unsafe-refs = false                     # accept a store that ignores conditional writes
    jobs = 8                                # concurrent requests

    [core]
    default-remote = "origin"

A path is recorded absolute (as `git clone ../x` records origin): `./team` typed in one directory
must not name another `./team` when a later command runs elsewhere.

Read through pacha's Config (the parsed TOML); written with tomlkit so comments stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pacha
from pacha.config import Config, write_atomic
from pacha.errors import UsageError
from pacha.transport.urls import parse_url
from porcelain.errors import InvalidInput, NotFound

T = TypeVar("T")
SECTION = "remote"
DEFAULT_KEY = "default-remote"  # in [core]
KEYS = ("url", "endpoint-url", "lazy", "unsafe-refs", "jobs")
# A remote's name is one ref-name component (its refs live under remotes/<name>/).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class RemoteSettings:
    """One configured remote."""

    name: str
    url: str
    endpoint_url: str | None = None
    lazy: bool = False
    unsafe_refs: bool = False
    jobs: int | None = None  # None: the transport's default (sized to the machine)
    default: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "endpoint_url": self.endpoint_url,
            "lazy": self.lazy,
            "unsafe_refs": self.unsafe_refs,
            "jobs": self.jobs,
            "default": self.default,
        }


def check_remote_name(name: str) -> str:
    """A remote's name as typed: letters, digits, '.', '_', '-', starting with a letter or digit
    (UsageError: exit 2)."""
    if not _NAME.fullmatch(name) or name.endswith(".lock") or ".." in name:
        raise UsageError(
            f"remote name {name!r} is invalid: use letters, digits, '.', '_' and '-' (e.g. origin)"
        )
    return name


def parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise InvalidInput(f"{key} must be true or false, not {value!r}")


def parse_jobs(key: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        jobs = int(value)
    except (TypeError, ValueError):
        jobs = 0
    if not 1 <= jobs <= 256:
        raise InvalidInput(f"{key} must be a number of concurrent requests from 1 to 256, not {value!r}")
    return jobs


def _config(plumbing: pacha.Registry) -> Config:
    return Config(plumbing.config.path)  # fresh: another command may have changed it


def _tables(config: Config) -> dict[str, Any]:
    section = config.data.get(SECTION, {})
    return section if isinstance(section, dict) else {}


def _settings(name: str, table: dict[str, Any], default: str | None) -> RemoteSettings:
    where = f"{SECTION}.{name}"
    url = table.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidInput(
            f"{where}.url is missing in config.toml; set it or run `pacha remote remove {name}`"
        )
    endpoint = table.get("endpoint-url")
    return RemoteSettings(
        name=name,
        url=url,
        endpoint_url=str(endpoint) if endpoint else None,
        lazy=parse_bool(f"{where}.lazy", table.get("lazy", False)),
        unsafe_refs=parse_bool(f"{where}.unsafe-refs", table.get("unsafe-refs", False)),
        jobs=parse_jobs(f"{where}.jobs", table.get("jobs")),
        default=name == default,
    )


def default_name(config: Config) -> str | None:
    """The default remote: core.default-remote, else the only remote there is."""
    named = config.get(f"core.{DEFAULT_KEY}")
    if isinstance(named, str) and named:
        return named
    tables = _tables(config)
    return next(iter(tables)) if len(tables) == 1 else None


def list_remotes(plumbing: pacha.Registry) -> list[RemoteSettings]:
    """Every configured remote, in the order config.toml lists them."""
    config = _config(plumbing)
    default = default_name(config)
    return [
        _settings(name, table, default) for name, table in _tables(config).items() if isinstance(table, dict)
    ]


def get_remote(plumbing: pacha.Registry, name: str | None) -> RemoteSettings:
    """The remote called name, or the default one when name is None (NotFound says what to do)."""
    config = _config(plumbing)
    default = default_name(config)
    if name is None:
        if default is None:
            tables = _tables(config)
            if not tables:
                raise NotFound("no remote is configured; add one with `pacha remote add origin URL`")
            raise NotFound(
                f"no default remote among {', '.join(tables)}: name one, or set it with "
                "`pacha remote add NAME URL --default`"
            )
        name = default
    table = _tables(config).get(check_remote_name(name))
    if not isinstance(table, dict):
        raise NotFound(f"no remote named {name!r}; `pacha remote list` shows the configured ones")
    return _settings(name, table, default)


def split_remote_arg(
    plumbing: pacha.Registry, first: str | None, rest: list[str]
) -> tuple[str | None, list[str]]:
    """`pacha push|pull [REMOTE] [REF...]`: a first word that names no remote is the first REF
    (`pacha pull fraud-detector@production`), for the default remote, when there is one."""
    if (first is not None and not first.strip()) or any(not r.strip() for r in rest):
        raise UsageError("an empty REMOTE or REF: give a remote name, NAME, NAME:VER, NAME@STAGE or a ref")
    config = _config(plumbing)
    if first is None or first in _tables(config) or default_name(config) is None:
        return first, rest
    return None, [first, *rest]


def _edit(plumbing: pacha.Registry, change: Any) -> None:
    """Apply change(document) to config.toml, keeping comments; atomic replace."""
    import tomlkit

    path = plumbing.config.path
    doc = tomlkit.parse(path.read_text("utf-8")) if path.exists() else tomlkit.document()
    change(doc)
    write_atomic(path, tomlkit.dumps(doc).encode("utf-8"))


def add_remote(
    plumbing: pacha.Registry,
    name: str,
    url: str,
    *,
    endpoint_url: str | None = None,
    default: bool = False,
    lazy: bool = False,
    jobs: int | None = None,
) -> RemoteSettings:
    """Record a remote; refuses a name already taken (InvalidInput)."""
    import tomlkit

    check_new_name(plumbing, name)
    if not url.strip():
        raise UsageError("the remote URL is empty: use s3://BUCKET/PREFIX, a path or file://PATH")
    as_usage(parse_jobs, "--jobs", jobs)

    def change(doc: Any) -> None:
        section = doc.get(SECTION)
        if section is None:
            section = tomlkit.table(is_super_table=True)
            doc[SECTION] = section
        table = tomlkit.table()
        table["url"] = stored_url(url)
        if endpoint_url:
            table["endpoint-url"] = endpoint_url
        if lazy:
            table["lazy"] = True
        if jobs is not None:
            table["jobs"] = jobs
        section[name] = table
        if default:
            _set_default(doc, name)

    _edit(plumbing, change)
    return get_remote(plumbing, name)


def check_new_name(plumbing: pacha.Registry, name: str) -> None:
    """A name a new remote may take: well formed (UsageError) and not taken (InvalidInput)."""
    check_remote_name(name)
    if name in _tables(_config(plumbing)):
        raise InvalidInput(
            f"remote {name!r} already exists; remove it first with `pacha remote remove {name}`"
        )


def as_usage(parse: Callable[[str, Any], T], key: str, value: Any) -> T:
    """parse(key, value) for a value typed on the command line: a bad one is a usage error (exit 2)."""
    try:
        return parse(key, value)
    except UsageError:
        raise
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None


def _set_default(doc: Any, name: str | None) -> None:
    import tomlkit

    core = doc.get("core")
    if core is None:
        core = tomlkit.table()
        doc["core"] = core
    if name is None:
        if DEFAULT_KEY in core:
            del core[DEFAULT_KEY]
    else:
        core[DEFAULT_KEY] = name


def stored_url(url: str) -> str:
    """The URL as config records it: s3:// and file:// as given, a path made absolute (from the
    directory the command runs in: what the user meant when typing it)."""
    if url.startswith(("s3://", "file:")):
        return url
    path = parse_url(url).path
    return url if path is None else str(path)


def set_remote_option(plumbing: pacha.Registry, name: str, key: str, value: Any) -> RemoteSettings:
    """Set one key of [remote.<name>] (checked as when read); returns the remote's new settings."""
    remote = get_remote(plumbing, name)
    if key not in KEYS:
        raise UsageError(f"unknown remote setting {key!r}: use one of {', '.join(KEYS)}")

    where = f"{SECTION}.{remote.name}.{key}"
    if key in ("lazy", "unsafe-refs"):
        value = as_usage(parse_bool, where, value)
    elif key == "jobs":
        value = as_usage(parse_jobs, where, value)
    elif not str(value).strip():
        raise UsageError(f"{where} must not be empty")
    elif key == "url":
        value = stored_url(str(value))

    def change(doc: Any) -> None:
        doc[SECTION][remote.name][key] = value

    _edit(plumbing, change)
    return get_remote(plumbing, name)


def remove_remote(plumbing: pacha.Registry, name: str) -> RemoteSettings:
    """Forget a remote's settings (its remote-tracking refs are removed by the caller)."""
    remote = get_remote(plumbing, name)
    config = _config(plumbing)
    was_default = config.get(f"core.{DEFAULT_KEY}") == remote.name

    def change(doc: Any) -> None:
        del doc[SECTION][remote.name]
        if not doc[SECTION]:
            del doc[SECTION]
        if was_default:
            _set_default(doc, None)

    _edit(plumbing, change)
    return remote
