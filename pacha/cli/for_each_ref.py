"""pacha for-each-ref: list refs, formatted for scripts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Annotated

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.errors import InvalidInput, ObjectNotFound
from pacha.registry import Registry

if TYPE_CHECKING:
    from pacha.store.reader import ObjectInfo

app = new_app()

DEFAULT_FORMAT = "%(objectname) %(objecttype)\t%(refname)"
_TOKEN = re.compile(r"%\((?P<atom>[a-z:]+)\)|%(?P<hex>[0-9a-fA-F]{2})|%%")
ATOMS = ("refname", "objectname", "objectname:short", "objecttype", "objectsize")


@app.command(epilog="Example: pacha for-each-ref models/ --format '%(refname) %(objectname:short)'")
def for_each_ref(
    patterns: Annotated[
        list[str] | None, typer.Argument(help="Prefixes (models/x) or globs (models/*/1.*).")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="Atoms: %(refname) %(objectname) %(objectname:short) "
            "%(objecttype) %(objectsize); %% and %XX (hex byte) escapes.",
        ),
    ] = DEFAULT_FORMAT,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of refs.")] = False,
) -> None:
    """List refs matching PATTERNs (prefixes or globs) in name order."""
    reg = open_reg()
    refs = list(matching_refs(reg, patterns or []))
    if as_json:
        import msgspec

        rows = []
        for name, object_id in refs:
            info = object_info(reg, object_id)
            rows.append(
                {
                    "name": name,
                    "id": object_id,
                    "type": info.kind if info else None,
                    "size": info.size if info else None,
                }
            )
        write_out(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode() + "\n")
        return
    render = compile_format(fmt)
    for name, object_id in refs:
        write_out(render(reg, name, object_id))


def matching_refs(reg: Registry, patterns: list[str]) -> Iterator[tuple[str, str]]:
    """(name, id) of each ref a pattern matches (a prefix, or a glob with * ? [), in name order."""
    if not patterns:
        yield from reg.refs.iter()
        return
    for name, object_id in reg.refs.iter():
        for pattern in patterns:
            if any(c in pattern for c in "*?["):
                if fnmatchcase(name, pattern):
                    break
            else:
                base = pattern.rstrip("/")
                if name == base or name.startswith(base + "/"):
                    break
        else:
            continue
        yield name, object_id


def object_info(reg: Registry, object_id: str) -> ObjectInfo | None:
    """Kind and size of a ref's object; None if it is not here.

    A ref may name an object this registry never fetched (a remote-tracking ref, a partial or lazy
    registry): refs are listed without their objects, as Git lists refs without reading them. A
    lazy registry fetches the object (records are small; Git's partial clone fetches on read too);
    any other prints the type `missing` and size `-` (as cat-file --batch-check prints "missing")."""
    try:
        return reg.objects.stat(object_id)
    except ObjectNotFound:
        pass
    try:
        fetched = reg.objects.fetch_missing(object_id)
    except ObjectNotFound:  # not lazy: the object stays missing
        return None
    return reg.objects.stat(object_id) if fetched else None


def compile_format(fmt: str) -> Callable[[Registry, str, str], str]:
    """Check fmt once; return a function rendering one ref."""
    for match in _TOKEN.finditer(fmt):
        atom = match["atom"]
        if atom is not None and atom not in ATOMS:
            raise InvalidInput(f"unknown format atom %({atom}): use one of {', '.join(ATOMS)}")

    def render(reg: Registry, name: str, object_id: str) -> str:
        info: tuple[str, str] | None = None  # (type, size)

        def value(match: re.Match[str]) -> str:
            nonlocal info
            atom = match["atom"]
            if match["hex"]:
                return chr(int(match["hex"], 16))
            if atom is None:
                return "%"
            if atom == "refname":
                return name
            if atom == "objectname":
                return object_id
            if atom == "objectname:short":
                return object_id[:12]
            if info is None:
                found = object_info(reg, object_id)
                info = (found.kind, str(found.size)) if found else ("missing", "-")
            return info[0] if atom == "objecttype" else info[1]

        return _TOKEN.sub(value, fmt) + "\n"

    return render
