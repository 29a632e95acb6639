"""pacha policy: set, show, list and remove access policies, and define groups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from pacha.cli.app import new_app
from pacha.documents import load_toml
from porcelain.cli._output import console, print_json, table
from porcelain.cli.context import open_porcelain
from porcelain.cli.options import JsonOption, SigningKeyOption
from porcelain.errors import InvalidInput
from porcelain.policies import change
from porcelain.policies import records as rec

app = new_app(
    help="Access policies: who may read, write and administer a name or a namespace.",
    no_args_is_help=True,
)

TargetArg = Annotated[str, typer.Argument(help="NAME, PREFIX/ (a namespace, e.g. team/) or / (every name).")]
Principals = Annotated[
    list[str] | None, typer.Option(help="user:EMAIL, group:NAME, service-account:ID or public.")
]
KeysOption = Annotated[
    list[str] | None, typer.Option("--key", help="PRINCIPAL=FINGERPRINT: a signing key of a principal.")
]
MessageOption = Annotated[str, typer.Option("-m", "--message", help="Why (kept in the audit trail).")]
SignOption = Annotated[
    str | None,
    typer.Option(
        "--sign",
        metavar="KEYID",
        help="Sign the change with this OpenPGP key (default: user.signingkey if sign.always).",
    ),
]


def _from_file(path: Path) -> tuple[dict[str, list[str]], list[str]]:
    """readers/writers/admins arrays and a [keys] table (principal -> fingerprint or list)."""
    doc = load_toml(path, "policy file")
    roles: dict[str, list[str]] = {}
    for field, value in doc.items():
        if field == "keys":
            continue
        if field not in rec.ROLES:
            raise InvalidInput(
                f"{path}: {field!r} is not a policy field: use {', '.join(rec.ROLES)} (arrays) and [keys]"
            )
        if not _strings(value):
            raise InvalidInput(f'{path}: {field!r} must be an array of principals, e.g. {field} = ["public"]')
        roles[field] = value
    keys = doc.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(f, str) or _strings(f) for f in keys.values()):
        raise InvalidInput(
            f'{path}: [keys] must be a table of principal = "FINGERPRINT" or ["FINGERPRINT", ...]'
        )
    pairs = [f"{who}={f}" for who, fprs in keys.items() for f in ([fprs] if isinstance(fprs, str) else fprs)]
    return roles, pairs


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _doc(stored: change.Stored) -> dict[str, Any]:
    return {"ref": stored.ref, "id": stored.record_id, **msgspec.to_builtins(stored.record)}


def _print(stored: change.Stored) -> None:
    out = console()
    record = stored.record
    title = f"group:{record.name}" if isinstance(record, rec.Group) else record.target
    out.print(f"{title}  ({stored.ref} -> {stored.record_id[:16]})", markup=False)
    fields = ("members",) if isinstance(record, rec.Group) else rec.ROLES
    for field in fields:
        out.print(f"  {field}: {', '.join(getattr(record, field)) or '-'}", markup=False)
    for who, fprs in record.keys.items():
        out.print(f"  key {who}: {', '.join(fprs)}", markup=False)
    out.print(f"  set by {record.author} at {_when(record.created_ns)}", markup=False)


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@app.command(
    "set",
    epilog="Example: pacha policy set team/ --writer group:ml --reader public --admin user:ada@example.com",
)
def set_(
    target: TargetArg,
    reader: Principals = None,
    writer: Principals = None,
    admin: Principals = None,
    key: KeysOption = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-F", help="TOML: readers, writers, admins, [keys].")
    ] = None,
    message: MessageOption = "",
    sign: SignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the policy of a name or namespace (admins of it only)."""
    roles: dict[str, list[str]] = {"readers": reader or [], "writers": writer or [], "admins": admin or []}
    keys = list(key or [])
    if file is not None:
        from_file, file_keys = _from_file(file)
        for field, value in from_file.items():
            roles[field] = [*value, *roles[field]]
        keys = [*file_keys, *keys]
    stored = change.set_policy(open_porcelain(), target, roles, keys, message, sign)
    if as_json:
        print_json(_doc(stored))
        return
    _print(stored)


@app.command("remove", epilog="Example: pacha policy remove team/fraud")
def remove(
    target: TargetArg, message: MessageOption = "", sign: SignOption = None, as_json: JsonOption = False
) -> None:
    """Remove the policy of a name or namespace (admins only; its history stays)."""
    change.remove_policy(open_porcelain(), target, message, sign)
    if as_json:
        print_json({"removed": target})
        return
    typer.echo(f"removed the policy of {target}")


@app.command(
    "group", epilog="Example: pacha policy group ml --member user:ada@example.com --member service-account:ci"
)
def group(
    name: Annotated[str, typer.Argument(help="Group name (used as group:NAME).")],
    member: Annotated[list[str] | None, typer.Option(help="user:EMAIL or service-account:ID.")] = None,
    key: KeysOption = None,
    message: MessageOption = "",
    sign: SignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Define or replace a group's members (admins of / only)."""
    stored = change.set_group(open_porcelain(), name, member or [], key or [], message, sign)
    if as_json:
        print_json(_doc(stored))
        return
    _print(stored)


@app.command("sign", epilog="Example: pacha policy sign team/ --key ada@example.com")
def sign_(
    target: Annotated[str, typer.Argument(help="NAME, PREFIX/, / or group:NAME.")],
    key: SigningKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign the current policy of a name or namespace (or a group) as it is (admins of it only)."""
    stored, made = change.sign_current(open_porcelain(), target, key)
    if as_json:
        print_json({"ref": stored.ref, "id": stored.record_id, "signature": made.record_id,
                    "signature_ref": made.ref, "fingerprint": made.fingerprint, "uid": made.uid,
                    "already": made.already})  # fmt: skip
        return
    if made.already:
        typer.echo(f"{target} ({stored.record_id[:12]}) is already signed by {made.signer}")
        return
    typer.echo(f"signed {target} ({stored.record_id[:12]}) by {made.signer}")


@app.command("show", epilog="Example: pacha policy show team/ --history")
def show(
    target: Annotated[str, typer.Argument(help="NAME, PREFIX/, / or group:NAME.")],
    history: Annotated[bool, typer.Option("--history", help="Every change: who, when, why.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the policy of a name or namespace (or a group), and with --history its audit trail."""
    reg = open_porcelain()
    stored = change.show(reg, target)
    trail = change.history(reg, stored.ref) if history else None
    if as_json:
        print_json({**_doc(stored), **({"history": trail} if trail is not None else {})})
        return
    _print(stored)
    for entry in trail or []:
        what = "removed" if entry["new"] is None else f"set {entry['new'][:16]}"
        console().print(
            f"  {_when(entry['when_ns'])}  {entry['who']}  {what}  {entry['message']}", markup=False
        )


@app.command("list", epilog="Example: pacha policy list --json")
def list_(as_json: JsonOption = False) -> None:
    """List every policy and group."""
    found = change.listing(open_porcelain())
    if as_json:
        print_json([_doc(s) for s in found])
        return
    rows = table("target", "readers", "writers", "admins")
    for stored in found:
        r = stored.record
        if isinstance(r, rec.Group):
            rows.add_row(f"group:{r.name}", "members: " + (", ".join(r.members) or "-"), "", "")
        else:
            rows.add_row(r.target, *(", ".join(getattr(r, f)) or "-" for f in rec.ROLES))
    console().print(
        rows if found else "no policies: every name is open (`pacha policy set` makes one)", markup=False
    )
