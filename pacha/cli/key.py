"""pacha key: the passphrases (key slots) of an encrypted registry, and key rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pacha.cli._crypto_options import KeyFileOption, NewKeyFileOption
from pacha.cli.app import open_reg, write_out
from pacha.crypto import keyring_log
from pacha.crypto.admin import add_slot, list_slots, remove_slot, rotate_data
from pacha.crypto.admin import rotate as rewrap
from pacha.crypto.passphrase import use_key_file
from pacha.crypto.recipients import generate as generate_identity
from pacha.refs.reflog import iso_time

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Manage the passphrases of an encrypted registry, rotate its keys; make sealed-file key pairs.",
    epilog="Example: pacha key list; PACHA_NEW_PASSPHRASE=... pacha key add --name laptop",
)


@app.command("generate", epilog="Example: pacha key generate ~/.pacha/alice; send ~/.pacha/alice.pub")
def generate(
    path: Annotated[Path, typer.Argument(help="Identity file to create (its public key goes to PATH.pub).")],
) -> None:
    """Make an X25519 key pair for sealed files: PATH (private, 0600) and PATH.pub (to share).

    Others seal to PATH.pub with `download --encrypt --recipient PATH.pub`; you open their
    files with `pacha decrypt FILE --identity PATH`. No registry or passphrase is needed."""
    public = generate_identity(path)
    write_out(f"{public}\n")


@app.command("list", epilog="Example: pacha key list")
def list_() -> None:
    """List key slots: name, creation time, Argon2id costs, master key ids (no passphrase needed)."""
    current, retiring, slots = list_slots(open_reg().root)
    write_out(f"master key {current}" + (f" (retiring {', '.join(retiring)})" if retiring else "") + "\n")
    for slot in slots:
        kdf = slot.kdf
        write_out(
            f"{slot.name}\t{slot.created_ns}\targon2id m={kdf['memory_kib']}KiB t={kdf['iterations']} "
            f"p={kdf['lanes']}\t{','.join(slot.keys)}\n"
        )


@app.command("add", epilog="Example: PACHA_NEW_PASSPHRASE=... pacha key add --name laptop")
def add(
    name: Annotated[str, typer.Option("--name", help="Name of the new key slot.")],
    key_file: KeyFileOption = None,
    new_key_file: NewKeyFileOption = None,
) -> None:
    """Add a passphrase that unlocks the registry (an existing one must be given too)."""
    use_key_file(key_file)
    reg = open_reg()
    add_slot(reg.root, name, new_key_file, reg.identity())
    write_out(f"added key slot {name} (`pacha push` sends it to the remotes)\n")


@app.command("remove", epilog="Example: pacha key remove laptop")
def remove(
    name: Annotated[str, typer.Argument(help="The key slot to remove.")],
    key_file: KeyFileOption = None,
) -> None:
    """Remove a passphrase (never the last one)."""
    use_key_file(key_file)
    reg = open_reg()
    remove_slot(reg.root, name, reg.identity())
    write_out(f"removed key slot {name} (`pacha push` removes it from the remotes)\n")


@app.command("rotate", epilog="Example: pacha key rotate; pacha key rotate --data")
def rotate(
    data: Annotated[
        bool,
        typer.Option(
            "--data",
            help="Re-encrypt every object under a new master key (resumable; other slots are "
            "dropped: add them again).",
        ),
    ] = False,
    key_file: KeyFileOption = None,
    new_key_file: NewKeyFileOption = None,
) -> None:
    """Give the slot your passphrase opens a new passphrase, or (--data) a new master key."""
    use_key_file(key_file)
    reg = open_reg()
    if not data:
        name = rewrap(reg.root, new_key_file, reg.identity())
        write_out(f"key slot {name} re-wrapped under the new passphrase (the data is unchanged)\n")
        return
    dropped, report = rotate_data(reg)
    gone = f"; dropped key slot(s) {', '.join(dropped)}: add them again" if dropped else ""
    write_out(
        f"re-encrypted {report.loose} loose object(s) and {report.entries} packed object(s) under a new "
        f"master key{gone}\n"
    )


@app.command("log", epilog="Example: pacha key log")
def log() -> None:
    """Show the keyring's audit trail: every change of its slots, made here or arriving from a
    remote (time, operation, remote, who, slots added/removed/given a new passphrase)."""
    for e in keyring_log.read(open_reg().root):
        parts = [f"{what} {','.join(e[what])}" for what in ("added", "removed", "rewrapped") if e.get(what)]
        where = {"in": f" from {e.get('where')}", "out": f" to {e.get('where')}"}.get(
            str(e.get("direction")), ""
        )
        author = e.get("author") or ""
        made = f" (made by {author})" if author and author != e.get("by") else ""
        write_out(
            f"{iso_time(int(e.get('when_ns', 0)))}\t{e.get('op')}{where}\tby {e.get('by')}{made}\t"
            f"generation {e.get('generation')}\t{'; '.join(parts) or '-'}\n"
        )
