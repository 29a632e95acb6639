"""The `pacha` command line: a light dispatcher, then one module per command.

Only the module of the command being run is imported, so `pacha cat-object -t`
does not pay for every other command's dependencies. Porcelain adds its command
groups by passing a larger table to run(); pacha itself never imports porcelain.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

from pacha import __version__
from pacha.cli.registry_option import add_registry_option, choose_registry
from pacha.crypto import early
from pacha.errors import PachaError, UsageError

# command name -> module defining `app`, in the order `pacha --help` lists them
PLUMBING: dict[str, str] = {
    "init": "pacha.cli.init",
    "config": "pacha.cli.config",
    "hash-object": "pacha.cli.hash_object",
    "cat-object": "pacha.cli.cat_object",
    "verify-object": "pacha.cli.verify_object",
    "write-tree": "pacha.cli.write_tree",
    "ls-tree": "pacha.cli.ls_tree",
    "checkout-object": "pacha.cli.checkout_object",
    "rev-parse": "pacha.cli.rev_parse",
    "read-ref": "pacha.cli.read_ref",
    "write-ref": "pacha.cli.write_ref",
    "delete-ref": "pacha.cli.delete_ref",
    "update-ref": "pacha.cli.update_ref",
    "for-each-ref": "pacha.cli.for_each_ref",
    "reflog": "pacha.cli.reflog",
    "count-objects": "pacha.cli.count_objects",
    "pack-objects": "pacha.cli.pack_objects",
    "unpack-objects": "pacha.cli.unpack_objects",
    "verify-pack": "pacha.cli.verify_pack",
    "index-pack": "pacha.cli.index_pack",
    "show-index": "pacha.cli.show_index",
    "multi-pack-index": "pacha.cli.multi_pack_index",
    "repack": "pacha.cli.repack",
    "fsck": "pacha.cli.fsck",
    "gc": "pacha.cli.gc",
    "encrypt": "pacha.cli.encrypt",
    "key": "pacha.cli.key",
    "decrypt": "pacha.cli.decrypt",
}
# commands that open no registry, so take no `--registry` after their name
WITHOUT_REGISTRY = frozenset({"init", "clone", "decrypt"})
# commands that always read or write object bodies, so an encrypted registry's key is derived
# while they start up (pacha.crypto.early); not those that may only look at headers or refs
UNLOCK_EARLY = frozenset(
    {
        "checkout-object",
        "write-tree",
        "verify-object",
        "fsck",
        "gc",
        "repack",
        "pack-objects",
        "unpack-objects",
    }
)

USAGE = "usage: pacha [--registry PATH] [--version] [--help] <command> [<args>]"
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for Git when the reader of its output left


def _overview(commands: Mapping[str, str]) -> str:
    lines = [USAGE, "", "Commands:"]
    width = max(map(len, commands))
    for name, module in commands.items():
        lines.append(f"  {name:<{width}}  {summary(import_module(module).app)}")
    lines += [
        "",
        "Global options:",
        "  --registry PATH  use the registry at PATH (same as PACHA_DIR=PATH)",
        "",
        "Run 'pacha <command> --help' for a command's options and an example.",
    ]
    return "\n".join(lines)


def summary(app: Any) -> str:
    """The first paragraph of a command's help (its docstring), on one line."""
    import inspect  # only `pacha --help` needs it (it pulls in ast, dis, tokenize)

    if app.registered_commands[1:] or app.registered_groups:  # a group: its own help
        text = app.info.help
    else:
        command = app.registered_commands[0]
        text = command.help or inspect.getdoc(command.callback)
    return " ".join(inspect.cleandoc(str(text or "")).split("\n\n")[0].split())


def run(
    argv: list[str], commands: Mapping[str, str] = PLUMBING, unlock_early: frozenset[str] = UNLOCK_EARLY
) -> int:
    """Run one command line; returns the exit code. unlock_early: the commands that derive an
    encrypted registry's key while they start up (pacha.crypto.early)."""
    try:
        code = _run(argv, commands, unlock_early)
        sys.stdout.flush()  # here, not at exit: `pacha --version | head -0` must not end in a traceback
        return code
    except BrokenPipeError:  # the overview, --version (a command's own output: invoke)
        return _reader_went_away()


def _reader_went_away() -> int:
    """The reader of standard output went away (`pacha ... | head`): stop quietly, as Git does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def _run(argv: list[str], commands: Mapping[str, str], unlock_early: frozenset[str]) -> int:
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(_overview(commands))
            return 0
        if arg == "--version":
            print(f"pacha {__version__}")
            return 0
        if arg == "--registry" or arg.startswith("--registry="):
            if "=" in arg:
                value = arg.split("=", 1)[1]
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                print("pacha: --registry needs a PATH", file=sys.stderr)
                return EXIT_USAGE
            os.environ["PACHA_DIR"] = os.path.abspath(os.path.expanduser(value))
            i += 1
            continue
        print(f"pacha: unknown option {arg!r}\n{USAGE}", file=sys.stderr)
        return EXIT_USAGE
    if i == len(argv):
        print(_overview(commands), file=sys.stderr)
        return EXIT_USAGE
    name, rest = argv[i], argv[i + 1 :]
    if name == "help":
        if not rest:
            print(_overview(commands))
            return 0
        name, rest = rest[0], ["--help"]
    module = commands.get(name)
    if module is None:
        import difflib

        close = difflib.get_close_matches(name, list(commands), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "; see 'pacha --help'"
        print(f"pacha: '{name}' is not a pacha command{hint}", file=sys.stderr)
        return EXIT_USAGE
    if name in unlock_early:
        early.start(rest, _found_registry)  # its key derived while the command's modules import
    return invoke(import_module(module).app, rest, f"pacha {name}", name not in WITHOUT_REGISTRY)


def _found_registry() -> Path:
    """The registry a command without `--registry` uses ($PACHA_DIR, or found from here)."""
    from pacha.registry import find_registry

    return find_registry(None)


def invoke(app: Any, args: list[str], prog_name: str, registry_option: bool = True) -> int:
    """Run a typer app, turning Pacha errors into one line on stderr and an exit code.

    registry_option: give the command `--registry PATH` (pacha.cli.registry_option).
    """
    import typer.main
    from typer import Abort
    from typer._click.exceptions import ClickException  # typer bundles click here

    command = typer.main.get_command(app)
    choose_registry(None)
    if registry_option:
        add_registry_option(command)
    try:
        # Not standalone: the option parser's errors come here to be printed as one line
        # (standalone, typer draws a multi-line box). Callbacks return None, so an int
        # result is the code of a typer.Exit (or --help's 0).
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    except SystemExit as exc:
        return _exit_code(exc)
    except ClickException as exc:  # UsageError (missing argument, unknown option, bad value) and kin
        _flush_quietly()
        context = getattr(exc, "ctx", None)
        where = _command_path(command, args, prog_name)
        if context is not None and len(context.command_path) > len(where):
            where = context.command_path
        if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help(), file=sys.stderr)  # a group run bare: its help, as before
        else:
            print(usage_line(where, exc.format_message()), file=sys.stderr)
        return exc.exit_code
    except Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except PachaError as exc:
        if os.environ.get("PACHA_DEBUG"):
            raise
        _flush_quietly()
        if isinstance(exc, UsageError):  # a command's own usage check: worded as the parser's
            print(usage_line(_command_path(command, args, prog_name), str(exc)), file=sys.stderr)
        else:
            print(f"{exc.label}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return _reader_went_away()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the environment said no: disk full, permissions, a missing directory
        if os.environ.get("PACHA_DEBUG"):
            raise
        _flush_quietly()
        print(f"fatal: {_os_error_line(exc)}", file=sys.stderr)
        return 128
    return 0


def _exit_code(exc: SystemExit) -> int:
    """The code of a typer.Exit, --help's or a parser's exit."""
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":
        # typer turns a write to a closed pipe (`pacha ... | head -1`) into exit 1 ("failed")
        # after wrapping stdout in click's PacifyFlushWrapper; the reader went away: 141, as Git.
        return _reader_went_away()
    code = exc.code
    return code if isinstance(code, int) else (0 if code is None else 1)


def _command_path(command: Any, args: list[str], prog_name: str) -> str:
    """`pacha model register` for `model register ...` (the parser does not always say)."""
    subcommands = getattr(command, "commands", None)
    if subcommands:
        first = next((a for a in args if not a.startswith("-")), None)
        if first in subcommands:
            return f"{prog_name} {first}"
    return prog_name


def usage_line(prog_name: str, message: str) -> str:
    """A usage error as one line: what was wrong, and where the command's help is."""
    text = " ".join(message.split()).rstrip(".")  # click's messages may span lines
    return f"usage: {prog_name}: {text}; see '{prog_name} --help'"


def _os_error_line(exc: OSError) -> str:
    """A refused write inside a registry says the registry is read-only; other errors name the file."""
    # pacha.registry (refs, store, config) is loaded here, on this error path, not at the top:
    # `pacha --version`, `pacha --help` and a mistyped command stay light.
    from pacha.registry import is_read_only, read_only_error, registry_of

    if exc.filename and is_read_only(exc):
        root = registry_of(exc.filename)
        if root is not None:
            return str(read_only_error(exc, root, "write to it"))
    where = f": {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror}{where}; nothing was recorded: free some space and run the command again"
    return f"{exc.strerror or exc}{where}"


def _flush_quietly() -> None:
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stdout.flush()


def main() -> None:
    """Entry point for plumbing alone (the `pacha` script adds porcelain)."""
    sys.exit(run(sys.argv[1:]))
