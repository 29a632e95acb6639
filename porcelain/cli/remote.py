"""pacha remote: add, list, remove, check and prune the remotes a registry shares through."""

from __future__ import annotations

from typing import Annotated

import typer

from pacha.cli.app import new_app, open_reg
from pacha.errors import UsageError
from porcelain.cli._output import console, print_json, table
from porcelain.cli._sync import JsonOption
from porcelain.remotes import wire
from porcelain.remotes.admin import CheckReport, set_option
from porcelain.remotes.admin import add as add_remote
from porcelain.remotes.admin import check as check_remote
from porcelain.remotes.admin import remove as remove_remote
from porcelain.remotes.settings import get_remote, list_remotes

app = new_app(
    help="Add, list, remove, set and check remotes (S3-compatible buckets or shared paths).",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Remote name, e.g. origin.")]


def _print_check(report: CheckReport) -> None:
    out = console()
    out.print(f"{report.remote}: {report.url}", markup=False)
    out.print(f"  read:  {'ok' if report.readable else 'refused'}")
    out.print(f"  write: {'ok' if report.writable else 'refused (read-only: fetch, pull and clone only)'}")
    if report.conditional_writes:
        out.print("  conditional writes: honoured (refs move by compare-and-swap)")
    elif report.unsafe_refs:
        out.print(
            f"  conditional writes: IGNORED; accepted (remote.{report.remote}.unsafe-refs): one writer only",
            markup=False,
        )
    else:
        out.print(
            f"  conditional writes: IGNORED: pushes are refused; for a single writer, set "
            f"`pacha remote set {report.remote} unsafe-refs true`",
            markup=False,
        )
    if report.detail and not report.conditional_writes:  # the why of a refusal (success says it above)
        out.print(f"  {report.detail}", markup=False)


@app.command("add", epilog="Example: pacha remote add origin s3://team-models/registry --default")
def add(
    name: NameArg,
    url: Annotated[str, typer.Argument(help="s3://BUCKET[/PREFIX], a path, or file://PATH.")],
    default: Annotated[bool, typer.Option("--default", help="Make it the default remote.")] = False,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="S3-compatible endpoint (e.g. http://host:8333).")
    ] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Do not probe the store now.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a remote (and probe it: read/write access, conditional writes honoured)."""
    done = add_remote(open_reg(), name, url, endpoint_url=endpoint_url, default=default, probe=not no_check)
    added, report = done.settings, done.report
    if as_json:
        print_json(
            {**added.as_dict(), "check": report.as_dict() if report else None, "exists": done.missing is None}
        )
        return
    typer.echo(f"added remote {added.name}: {added.url}" + (" (default)" if added.default else ""))
    if done.missing is not None:  # as `git remote add` does, create nothing; but a typo must show
        typer.echo(
            f"  {done.missing} does not exist yet: the first `pacha push {added.name}` creates it "
            "(if you meant an existing remote, check the path)"
        )
    if report is not None:
        _print_check(report)


@app.command("list", epilog="Example: pacha remote list --json")
def list_(as_json: JsonOption = False) -> None:
    """List the remotes and their settings."""
    remotes = list_remotes(open_reg())
    if as_json:
        print_json([r.as_dict() for r in remotes])
        return

    rows = table("name", "url", "settings")
    for r in remotes:
        notes = [
            n for n, on in (("default", r.default), ("lazy", r.lazy), ("unsafe-refs", r.unsafe_refs)) if on
        ]
        if r.endpoint_url:
            notes.append(f"endpoint {r.endpoint_url}")
        if r.jobs:
            notes.append(f"jobs {r.jobs}")
        rows.add_row(r.name, r.url, ", ".join(notes))
    # as `model list` and `run list` say it (a bare header read as a failure)
    console().print(
        rows if remotes else "no remotes; add one with `pacha remote add origin URL`", markup=False
    )


@app.command("remove", epilog="Example: pacha remote remove origin")
def remove(name: NameArg, as_json: JsonOption = False) -> None:
    """Remove a remote: its settings and remote-tracking refs (nothing on the remote changes)."""
    removed, refs = remove_remote(open_reg(), name)
    if as_json:
        print_json({**removed.as_dict(), "tracking_refs_removed": refs})
        return
    typer.echo(f"removed remote {removed.name} ({refs} remote-tracking ref(s))")


@app.command("set", epilog="Example: pacha remote set origin lazy true")
def set_(
    name: NameArg,
    key: Annotated[str, typer.Argument(help="url, endpoint-url, lazy, unsafe-refs or jobs.")],
    value: Annotated[str, typer.Argument(help="The new value.")],
    as_json: JsonOption = False,
) -> None:
    """Change one setting of a remote (remote.NAME.KEY in config.toml)."""
    changed = set_option(open_reg(), name, key, value)
    if as_json:
        print_json(changed.as_dict())
        return
    shown = changed.as_dict()[key.replace("-", "_")]
    typer.echo(f"remote.{changed.name}.{key} = {str(shown).lower() if isinstance(shown, bool) else shown}")


@app.command("check", epilog="Example: pacha remote check origin")
def check(
    name: Annotated[str | None, typer.Argument(help="Remote name (default: the default remote).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Probe a remote: read and write access, and that conditional writes are honoured (exit 1 if unsafe)."""
    report = check_remote(open_reg(), name)
    if as_json:
        print_json(report.as_dict())
    else:
        _print_check(report)
    if not report.ok:
        raise typer.Exit(1)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_grace(text: str) -> float:
    """'90s', '30m', '1h', '2d', '1w' or a number of seconds; UsageError (exit 2) otherwise."""
    value, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "s")
    try:
        seconds = float(value) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise UsageError(f"--grace {text!r} is not a duration: give e.g. 30m, 1h, 2d or 0")
    return seconds


@app.command("prune", epilog="Example: pacha remote prune origin --dry-run")
def prune(
    name: Annotated[str | None, typer.Argument(help="Remote name (default: the default remote).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="List what would be removed.")] = False,
    grace: Annotated[
        str, typer.Option("--grace", help="Keep leftovers younger than this (30m, 1h, 2d; 0: all).")
    ] = "1h",
    as_json: JsonOption = False,
) -> None:
    """Remove what killed or lost pushes left on a remote, older than the grace period."""
    seconds = parse_grace(grace)
    report = wire.prune(wire.connect(get_remote(open_reg(), name)), seconds, dry_run)
    if as_json:
        print_json(report.as_dict())
        return
    verb = "would remove" if dry_run else "removed"
    out = console()
    for item in report.removed:
        out.print(
            f"{verb} {item.key} ({item.what}, {item.size} bytes, {item.age / 3600:.1f} h old)", markup=False
        )
    out.print(
        f"{report.url}: {verb} {len(report.removed)} leftover(s), {report.bytes} bytes; "
        f"{len(report.young)} younger than the grace period kept",
        markup=False,
    )
