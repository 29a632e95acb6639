"""The commands models and datasets share: list, get, download, delete, stage, history.

make_app(kind) builds a typer group with these; `model` and `data` add their own
`register` (they differ in the documentation they take).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pacha.cli._app import RegistryOption
from pacha.cli._crypto_options import NewKeyFileOption

if TYPE_CHECKING:
    from porcelain.registry import Registered, Registry, Transition, Version

VersionOption = Annotated[
    str | None, typer.Option("-v", "--version", help="Version (long form of NAME:VER).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
# register's input options, shared by model and data
FilenameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="File name to record (default: the path's own name; required when PATH is - for "
        "standard input, or a pipe such as <(cmd)).",
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Leave out of a folder the paths matching PATTERN (gitignore syntax, after the "
        "folder's .pachaignore), repeatable.",
    ),
]
LatestOption = Annotated[
    bool, typer.Option("--latest", help="Act on the latest version of NAME (it must be asked for).")
]


def open_porcelain(path: Path | None) -> Registry:
    from porcelain.registry import Registry

    return Registry.open(path)


def version_json(v: Version) -> dict:
    import msgspec

    return {
        "name": v.name,
        "version": v.version,
        "stage": v.stage,
        "id": v.record_id,
        "record": msgspec.to_builtins(v.record),
    }


def show_version(v: Version, noun: str) -> None:
    from porcelain.cli._output import console, human_size, when
    from porcelain.finite import shown

    r = v.record
    out = console()
    out.print(f"[bold]{v.name}[/bold] {v.version}  ({noun})")
    rows = [("stage", v.stage)] if v.stage != "-" else []
    rows += [
        ("purpose" if noun == "data" else "description", r.description or "-"),
        ("artifact", f"{r.artifact_kind} {r.artifact} ({human_size(r.size)}, {r.filename})"),
        ("record", v.record_id),
        ("registered", f"{when(r.created_ns)} by {r.author}"),
    ]
    if r.message:
        rows.append(("message", r.message))
    for key, value in sorted(r.metrics.items()):
        rows.append((f"metric {key}", shown(value)))
    for edge in r.parents:
        rows.append(("parent", f"{edge.relation} {edge.record}"))
    from rich.markup import escape

    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.print(f"  {key:<{width}}  {escape(str(value))}", soft_wrap=True)


def report_registration(result: Registered, noun: str, as_json: bool) -> None:
    from porcelain.cli._output import print_json

    v = result.version
    if as_json:
        print_json(dict(version_json(v), created=result.created))
    elif result.created:
        where = f" in {v.stage}" if v.stage != "-" else ""
        typer.echo(f"registered {v.ref} ({v.record_id[:12]}){where}")
        show_version(v, noun)
    else:
        typer.echo(f"{v.ref} is already registered with these bytes; nothing changed")


def make_app(kind: str, noun: str, help_text: str, staged: bool = True) -> typer.Typer:
    """A typer group with the shared version commands for kind (stages and lineage if staged)."""
    app = typer.Typer(
        help=help_text, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )

    @app.command("list", epilog=f"Example: pacha {noun} list --stage production")
    def list_versions(
        name: Annotated[str | None, typer.Argument(help="Only this name.")] = None,
        stage: Annotated[str | None, typer.Option("--stage", help="Only versions in this stage.")] = None,
        as_json: JsonOption = False,
        registry: RegistryOption = None,
    ) -> None:
        """List registered versions: name, version, stage, size, created, id."""
        from porcelain.cli._output import console, human_size, print_json, table, when
        from porcelain.stages import check_stage

        if stage:
            check_stage(stage)
        found = open_porcelain(registry).list(kind, name, stage)
        if as_json:
            print_json([version_json(v) for v in found])
            return
        rows = table("name", "version", "stage", "size", "created", "id", right=("size",))
        for v in found:
            rows.add_row(
                v.name,
                v.version,
                v.stage,
                human_size(v.record.size),
                when(v.record.created_ns),
                v.record_id[:12],
            )
        console().print(rows if found else f"no {noun} versions" + (f" in {stage}" if stage else ""))

    @app.command("get", epilog=f"Example: pacha {noun} get fraud-detector@production --json")
    def get(
        reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME@STAGE, NAME or id.")],
        version: VersionOption = None,
        output: Annotated[Path | None, typer.Option("-o", "--output", help="Also download to PATH.")] = None,
        force: Annotated[bool, typer.Option("--force", help="With -o, replace PATH.")] = False,
        at: Annotated[
            str | None,
            typer.Option(
                "--at",
                help="With NAME@STAGE: as it was at this ISO 8601 time (UTC unless an offset is "
                "given): after every change stored at or before it, replayed in the reflog's order "
                "(stored times never go backwards; see docs/format.md, Reflog order and time).",
            ),
        ] = None,
        as_json: JsonOption = False,
        registry: RegistryOption = None,
    ) -> None:
        """Show a version: stage, artifact, record, metrics; -o downloads it too."""
        from porcelain.cli._output import print_json

        reg = open_porcelain(registry)
        if at is not None:
            reference = _as_of(reg, kind, reference, at)
        found = reg.get(kind, reference, version)
        if output is not None:
            found, path = reg.download(kind, found.record_id, output, force=force)
        if as_json:
            print_json(version_json(found))
        else:
            show_version(found, noun)
            if output is not None:
                typer.echo(f"downloaded to {path}")

    @app.command("download", epilog=f"Example: pacha {noun} download fraud-detector:1.0.0 -o model.apr")
    def download(
        reference: Annotated[str, typer.Argument(help="NAME:VER, NAME:latest, NAME@STAGE, NAME or id.")],
        output: Annotated[Path, typer.Option("-o", "--output", help="File or directory to write.")],
        version: VersionOption = None,
        force: Annotated[
            bool, typer.Option("--force", help="Replace OUTPUT if it holds other contents.")
        ] = False,
        encrypt: Annotated[
            bool,
            typer.Option(
                "--encrypt",
                help="Write a sealed file (AES-256-GCM, Argon2id) under a new passphrase "
                "(PACHA_NEW_PASSPHRASE, --new-key-file, or typed twice); `pacha decrypt` opens it.",
            ),
        ] = False,
        new_key_file: NewKeyFileOption = None,
        as_json: JsonOption = False,
        registry: RegistryOption = None,
    ) -> None:
        """Write a version's file or folder, verified as written, all or nothing."""
        if encrypt:
            _download_sealed(kind, reference, version, output, force, new_key_file, as_json, registry)
            return
        found, placed = open_porcelain(registry).download_placed(
            kind, reference, output, version=version, force=force
        )
        if as_json:
            _print_json(dict(version_json(found), path=str(placed.path), written=placed.written))
        else:
            typer.echo(
                f"{found.ref} -> {placed.path}" + ("" if placed.written else " (already there; up to date)")
            )

    @app.command("delete", epilog=f"Example: pacha {noun} delete fraud-detector:0.9.0 -m 'withdrawn'")
    def delete(
        reference: Annotated[str, typer.Argument(help="NAME:VER, NAME -v VER, NAME --latest or id.")],
        version: VersionOption = None,
        latest: LatestOption = False,
        force: Annotated[bool, typer.Option("--force", help="Delete even a production version.")] = False,
        message: Annotated[str, typer.Option("-m", "--message", help="Why, for the audit trail.")] = "",
        as_json: JsonOption = False,
        registry: RegistryOption = None,
    ) -> None:
        """Remove a version's refs (its objects and audit trail stay; `restore` brings it back)."""
        from porcelain.cli._changes import explicit

        reference = explicit(reference, version, latest)
        found = open_porcelain(registry).delete(kind, reference, version=version, force=force, why=message)
        if as_json:
            _print_json(dict(version_json(found), deleted=True))
        else:
            typer.echo(f"deleted {found.ref} (was in {found.stage})")

    if staged:

        @app.command("stage", epilog=f"Example: pacha {noun} stage fraud-detector -v 1.0.0 -t production")
        def stage(
            reference: Annotated[str, typer.Argument(help="NAME:VER, NAME -v VER, NAME --latest or id.")],
            target: Annotated[
                str, typer.Option("-t", "--to", help="development, staging, production or archived.")
            ],
            version: VersionOption = None,
            latest: LatestOption = False,
            message: Annotated[str, typer.Option("-m", "--message", help="Why, for the audit trail.")] = "",
            keep_existing: Annotated[
                bool, typer.Option("--keep-existing", help="Leave the current production version there.")
            ] = False,
            as_json: JsonOption = False,
            registry: RegistryOption = None,
        ) -> None:
            """Move a version to another lifecycle stage (recorded: who, when, why)."""
            from porcelain.cli._changes import explicit

            reference = explicit(reference, version, latest)
            moves = open_porcelain(registry).set_stage(
                kind, reference, target, version=version, why=message, keep_existing=keep_existing
            )
            if as_json:
                _print_json([_transition_json(move) for move in moves])
                return
            for move in moves:
                typer.echo(f"{move.name}:{move.version}: {move.from_stage} -> {move.to_stage}")

        @app.command("history", epilog=f"Example: pacha {noun} history fraud-detector --json")
        def history(
            name: Annotated[str, typer.Argument(help="Name whose stage changes to show.")],
            as_json: JsonOption = False,
            registry: RegistryOption = None,
        ) -> None:
            """The audit trail of stage changes: when, who, version, from, to, why."""
            from porcelain.cli._output import console, print_json, table, when

            moves = open_porcelain(registry).history(kind, name)
            if as_json:
                print_json([_transition_json(t) for t in moves])
                return
            rows = table("when", "who", "version", "from", "to", "why")
            for t in moves:
                rows.add_row(
                    when(t.when_ns),
                    t.who,
                    t.version,
                    t.from_stage or "(registered)",
                    t.to_stage or "(deleted)",
                    t.why,
                )
            console().print(rows)

    from porcelain.cli._changes import add_change_commands

    add_change_commands(app, kind, noun)  # verify, restore
    if staged:
        from porcelain.cli._lineage import make_lineage_app
        from porcelain.cli._provenance import add_provenance_command

        app.add_typer(make_lineage_app(kind, noun), name="lineage")
        add_provenance_command(app, kind, noun)
    return app


def _as_of(reg: Registry, kind: str, reference: str, at: str) -> str:
    from porcelain.cli._output import parse_time
    from porcelain.errors import InvalidInput, NotFound

    name, sep, stage = reference.rpartition("@")
    if not sep:
        raise InvalidInput("--at needs a NAME@STAGE reference, e.g. fraud-detector@production")
    found = reg.at(kind, name, stage, parse_time(at))
    if not found:
        raise NotFound(f"no version of {name} was in {stage} at {at}")
    return f"{name}:{found[-1]}"


def _print_json(data: object) -> None:
    from porcelain.cli._output import print_json

    print_json(data)


def _transition_json(t: Transition) -> dict:
    from porcelain.cli._output import when

    return {
        "name": t.name,
        "version": t.version,
        "from": t.from_stage,
        "to": t.to_stage,
        "who": t.who,
        "when_ns": t.when_ns,
        "time": when(t.when_ns),
        "why": t.why,
    }


def _download_sealed(
    kind: str,
    reference: str,
    version: str | None,
    output: Path,
    force: bool,
    new_key_file: Path | None,
    as_json: bool,
    registry: Path | None,
) -> None:
    """download --encrypt: the artifact as a sealed file (pacha.crypto.share)."""
    from pacha.crypto.share import seal_artifact

    reg = open_porcelain(registry)
    found = reg.get(kind, reference, version)
    record = found.record
    seal_artifact(
        reg.plumbing.objects,
        record.artifact,
        record.artifact_kind,
        record.filename,
        found.ref,
        output,
        force,
        new_key_file,
    )
    if as_json:
        _print_json(dict(version_json(found), path=str(output), encrypted=True))
    else:
        typer.echo(f"{found.ref} -> {output} (sealed)")
