"""pacha update-ref: several ref changes from stdin, applied as one transaction.

Text input, one instruction a line (fields separated by single spaces):

    create <ref> <new>
    update <ref> <new> [<old>]
    delete <ref> [<old>]
    verify <ref> [<old>]

With -z each field after "<verb> <ref>" ends with NUL instead, and optional
fields are present but empty:

    create SP <ref> NUL <new> NUL
    update SP <ref> NUL <new> NUL [<old>] NUL
    delete SP <ref> NUL [<old>] NUL
    verify SP <ref> NUL [<old>] NUL

<new> is any object name rev-parse accepts; <old> is a full id, where the zero id
(or, for verify, no value) means "must not exist".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated

import typer

from pacha.cli._refargs import expected_old
from pacha.cli.app import new_app, open_reg
from pacha.errors import InvalidInput, PachaError, UsageError
from pacha.refs.store import RefTransaction
from pacha.registry import Registry

app = new_app()

# verb -> (required args, optional args) after the ref name
ARITY = {"create": (1, 0), "update": (1, 1), "delete": (0, 1), "verify": (0, 1)}


@dataclass
class Instruction:
    verb: str
    name: str
    args: list[str]
    where: str  # "line 3" / "instruction 3", for error messages


@app.command(
    epilog="Example: printf 'update stages/x/production %s\\nverify models/x/1.0.0\\n' ID "
    "| pacha update-ref --stdin -m promote",
)
def update_ref(
    args: Annotated[
        list[str] | None, typer.Argument(help="Without --stdin: NAME NEW [OLD], or -d NAME [OLD].")
    ] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read instructions from standard input.")] = False,
    nul: Annotated[bool, typer.Option("-z", help="Instructions are NUL-separated (see --help).")] = False,
    delete: Annotated[bool, typer.Option("-d", help="Delete NAME (single-ref form).")] = False,
    message: Annotated[str, typer.Option("-m", "--message", help="Why, for the reflog.")] = "",
) -> None:
    """Apply create/update/delete/verify instructions from stdin atomically (all or none)."""
    args = args or []
    if stdin:
        if args or delete:
            raise UsageError("--stdin takes no NAME arguments and no -d")
        data = sys.stdin.buffer.read()
        instructions = parse_nul(data) if nul else parse_text(data)
    else:
        if nul:
            raise UsageError("-z only applies with --stdin")
        instructions = [_single(args, delete)]
    reg = open_reg()
    with reg.transaction(message) as tx:
        for ins in instructions:
            _apply(reg, tx, ins)


def _single(args: list[str], delete: bool) -> Instruction:
    if delete:
        if not 1 <= len(args) <= 2:
            raise UsageError("give -d NAME [OLD]")
        return Instruction("delete", args[0], args[1:], "arguments")
    if not 2 <= len(args) <= 3:
        raise UsageError("give NAME NEW [OLD], or --stdin")
    return Instruction("update", args[0], args[1:], "arguments")


def parse_text(data: bytes) -> list[Instruction]:
    out = []
    for number, raw in enumerate(data.decode("utf-8", "surrogateescape").splitlines(), 1):
        if not raw.strip():
            continue
        fields = raw.split(" ")
        verb = fields[0]
        if verb not in ARITY:
            raise InvalidInput(
                f"line {number}: unknown instruction {verb!r}: use create, update, delete or verify"
            )
        if len(fields) < 2 or not fields[1]:
            raise InvalidInput(f"line {number}: {verb} needs a ref name")
        need, optional = ARITY[verb]
        rest = fields[2:]
        if not need <= len(rest) <= need + optional or any(not f for f in rest):
            raise InvalidInput(
                f"line {number}: {verb} takes {need}{f' to {need + optional}' if optional else ''} "
                f"value(s) after the ref name, got {len(rest)}"
            )
        out.append(Instruction(verb, fields[1], rest, f"line {number}"))
    return out


def parse_nul(data: bytes) -> list[Instruction]:
    tokens = data.decode("utf-8", "surrogateescape").split("\0")
    if tokens and tokens[-1] == "":
        tokens.pop()
    else:
        raise InvalidInput("-z input must end with NUL")
    out: list[Instruction] = []
    i = 0
    while i < len(tokens):
        where = f"instruction {len(out) + 1}"
        head = tokens[i].lstrip("\n")
        verb, _, name = head.partition(" ")
        if verb not in ARITY or not name:
            raise InvalidInput(f"{where}: expected '<verb> <ref>', got {head!r}")
        need, optional = ARITY[verb]
        count = need + optional
        values = tokens[i + 1 : i + 1 + count]
        if len(values) != count or any(not v for v in values[:need]):
            raise InvalidInput(f"{where}: {verb} {name} is missing a value")
        out.append(Instruction(verb, name, [v for v in values if v], where))
        i += 1 + count
    return out


def _apply(reg: Registry, tx: RefTransaction, ins: Instruction) -> None:
    try:
        if ins.verb == "create":
            tx.create(ins.name, reg.resolve(ins.args[0]))
        elif ins.verb == "update":
            new = reg.resolve(ins.args[0])
            if len(ins.args) > 1:
                tx.update(ins.name, new, expected_old(ins.args[1]))
            else:
                tx.update(ins.name, new)
        elif ins.verb == "delete":
            if ins.args:
                tx.delete(ins.name, expected_old(ins.args[0]))
            else:
                tx.delete(ins.name)
        else:
            tx.verify(ins.name, expected_old(ins.args[0]) if ins.args else None)
    except PachaError as exc:
        exc.message = f"{ins.where}: {exc.message}"
        raise
