"""pacha cat-object: show an object's kind, size or content; --batch for pipelines."""

from __future__ import annotations

import sys
from typing import Annotated, BinaryIO

import typer

from pacha.cli.app import new_app, open_reg, write_out
from pacha.errors import AmbiguousId, CorruptObject, InvalidInput, NotFound, PachaError, UsageError
from pacha.ids import is_full_id
from pacha.registry import Registry

app = new_app()

# Objects up to this size are verified in full before a byte is printed; larger
# ones stream out and a mismatch is reported (non-zero exit) after the last block.
VERIFY_FIRST_LIMIT = 64 << 20


@app.command(
    epilog="Examples: pacha cat-object -t 4f1c  ·  pacha cat-object blob 4f1c > model.bin  ·  "
    "printf '%s\\n' ID1 ID2 | pacha cat-object --batch-check",
)
def cat_object(
    args: Annotated[list[str] | None, typer.Argument(help="ID, or KIND ID to print raw content.")] = None,
    show_type: Annotated[bool, typer.Option("-t", help="Print the object's kind.")] = False,
    show_size: Annotated[bool, typer.Option("-s", help="Print the object's size in bytes.")] = False,
    exists: Annotated[bool, typer.Option("-e", help="Exit 0 if the object exists, 1 if not.")] = False,
    pretty: Annotated[bool, typer.Option("-p", help="Print the content for people.")] = False,
    batch: Annotated[
        bool, typer.Option("--batch", help="For each id on stdin print '<id> <kind> <size>' and the content.")
    ] = False,
    batch_check: Annotated[
        bool, typer.Option("--batch-check", help="For each id on stdin print '<id> <kind> <size>'.")
    ] = False,
    buffer: Annotated[
        bool, typer.Option("--buffer", help="With --batch*, do not flush after every answer.")
    ] = False,
) -> None:
    """Show an object's kind (-t), size (-s), existence (-e), content (-p or KIND ID)."""
    args = args or []
    modes = sum((show_type, show_size, exists, pretty, batch, batch_check))
    if modes > 1:
        raise InvalidInput("give only one of -t, -s, -e, -p, --batch, --batch-check")
    reg = open_reg()
    if batch or batch_check:
        if args:
            raise InvalidInput("--batch and --batch-check read ids from standard input, not arguments")
        failures = _batch(reg, sys.stdin.buffer, sys.stdout.buffer, batch, not buffer)
        if failures:
            raise typer.Exit(1)
        return
    if modes == 0:
        if len(args) != 2:
            raise UsageError("give KIND ID (e.g. `blob 4f1c`), or one of -t, -s, -e, -p with ID")
        kind, spec = args
        _print_raw(reg, reg.resolve(spec), kind)
        return
    if len(args) != 1:
        raise UsageError("give exactly one ID")
    spec = args[0]
    if exists:
        try:
            reg.resolve(spec)
        except NotFound:
            raise typer.Exit(1) from None
        return
    object_id = reg.resolve(spec)
    if show_type:
        write_out(reg.objects.stat(object_id).kind + "\n")
    elif show_size:
        write_out(f"{reg.objects.stat(object_id).size}\n")
    else:
        _print_pretty(reg, object_id)


def _print_raw(reg: Registry, object_id: str, kind: str | None) -> None:
    out = sys.stdout.buffer
    with reg.objects.open(object_id) as reader:
        if kind is not None and reader.kind != kind:
            raise InvalidInput(f"object {object_id} is a {reader.kind}, not a {kind}")
        if reader.size <= VERIFY_FIRST_LIMIT:
            out.write(reader.read())
        else:
            reader.copy_to(out)


def _print_pretty(reg: Registry, object_id: str) -> None:
    # pacha.objects decodes with msgspec (~20 ms to import): only -p pays for it
    from pacha import objects

    with reg.objects.open(object_id) as reader:
        kind = reader.kind
        if kind == objects.TREE or kind == objects.RECORD:
            data = reader.read()
        else:
            _print_raw(reg, object_id, None)
            return
    if kind == objects.TREE:
        for entry in objects.decode_tree(data).entries:
            write_out(f"{entry.mode} {entry.kind} {entry.id} {entry.size}\t{entry.name}\n")
    else:
        import msgspec

        write_out(msgspec.json.format(data, indent=2).decode("utf-8") + "\n")


def _batch(reg: Registry, stdin: BinaryIO, out: BinaryIO, contents: bool, flush: bool) -> int:
    """Answer one line per id read; returns how many objects were corrupt."""
    store = reg.objects
    failures = 0
    for raw_line in stdin:
        spec = raw_line.rstrip(b"\r\n").decode("utf-8", "surrogateescape").strip()
        try:
            object_id = spec.lower() if is_full_id(spec) else reg.resolve(spec)
            if contents:
                with store.open(object_id) as reader:
                    header = f"{object_id} {reader.kind} {reader.size}\n".encode()
                    if reader.size <= VERIFY_FIRST_LIMIT:
                        body = reader.read()
                        out.write(header)
                        out.write(body)
                    else:
                        out.write(header)
                        reader.copy_to(out)
                    out.write(b"\n")
            else:
                info = store.stat(object_id)
                out.write(f"{object_id} {info.kind} {info.size}\n".encode())
        except AmbiguousId:
            out.write(f"{spec} ambiguous\n".encode("utf-8", "surrogateescape"))
        except CorruptObject as exc:
            failures += 1
            out.write(f"{spec} corrupt\n".encode("utf-8", "surrogateescape"))
            sys.stderr.write(f"error: {exc}\n")
        except PachaError:
            out.write(f"{spec} missing\n".encode("utf-8", "surrogateescape"))
        if flush:
            out.flush()
    out.flush()
    return failures
