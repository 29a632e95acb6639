"""Where a passphrase comes from: never the command line, never a log.

In order: a key file named by a command's `--key-file` option (which sets
PACHA_KEY_FILE for the process) or by PACHA_KEY_FILE; the PACHA_PASSPHRASE
variable; a prompt on the terminal. A key file holds the passphrase as bytes (one
trailing newline is dropped) and must not be readable by group or others, as ssh
demands of private keys. Without any of these and without a terminal, the command
stops with one line saying how to give one.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from pacha.crypto.errors import KeyringError, PassphraseUnavailable

ENV_PASSPHRASE = "PACHA_PASSPHRASE"
ENV_KEY_FILE = "PACHA_KEY_FILE"
ENV_NEW_PASSPHRASE = "PACHA_NEW_PASSPHRASE"
ENV_NEW_KEY_FILE = "PACHA_NEW_KEY_FILE"


def read_key_file(path: Path) -> bytes:
    """The passphrase a key file holds (KeyringError if unreadable, empty or not private)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise KeyringError(f"cannot read key file {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # checked on the descriptor: open() of a directory's says
        os.close(fd)  # only "Is a directory: 4"
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise KeyringError(f"key file {path} is {kind}; give the file that holds the passphrase")
    with open(fd, "rb") as f:
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise KeyringError(f"key file {path} is readable by others (mode {mode:04o}): chmod 600 {path}")
        data = f.read(1 << 16)
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise KeyringError(f"key file {path} is empty")
    return data


def _prompt(text: str) -> bytes | None:
    """Ask on the controlling terminal (None if there is none)."""
    if not sys.stdin.isatty():
        return None
    import getpass

    try:
        return getpass.getpass(text).encode("utf-8")
    except (EOFError, OSError):
        return None


def passphrase(what: str) -> bytes:
    """The passphrase that unlocks what (a registry, a file): key file, environment, prompt."""
    path = os.environ.get(ENV_KEY_FILE)
    if path:
        return read_key_file(Path(path))
    value = os.environ.get(ENV_PASSPHRASE)
    if value:
        return value.encode("utf-8")
    typed = _prompt(f"Passphrase for {what}: ")
    if not typed:
        raise PassphraseUnavailable(
            f"{what} needs a passphrase: set {ENV_PASSPHRASE}, or {ENV_KEY_FILE}=FILE (--key-file FILE where "
            "a command has it), or run in a terminal to be asked"
        )
    return typed


def passphrase_without_prompt() -> bytes | None:
    """The passphrase if a key file or PACHA_PASSPHRASE gives it, None if only a prompt could
    (or the key file cannot be read: passphrase() reports that when the command asks)."""
    path = os.environ.get(ENV_KEY_FILE)
    if path:
        try:
            return read_key_file(Path(path))
        except KeyringError:
            return None
    value = os.environ.get(ENV_PASSPHRASE)
    return value.encode("utf-8") if value else None


def new_passphrase(what: str, key_file: Path | None = None) -> bytes:
    """A new passphrase (for `key add`, `key rotate`): key_file, PACHA_NEW_KEY_FILE,
    PACHA_NEW_PASSPHRASE, or typed twice on the terminal."""
    path = key_file or (Path(p) if (p := os.environ.get(ENV_NEW_KEY_FILE)) else None)
    if path is not None:
        return read_key_file(path)
    value = os.environ.get(ENV_NEW_PASSPHRASE)
    if value:
        return value.encode("utf-8")
    first = _prompt(f"New passphrase for {what}: ")
    if not first:
        raise PassphraseUnavailable(
            f"a new passphrase for {what} is needed: set {ENV_NEW_PASSPHRASE}, give --new-key-file FILE, "
            "or run in a terminal to be asked"
        )
    if _prompt("Repeat it: ") != first:
        raise KeyringError("the two passphrases typed differ; nothing changed")
    return first


def use_key_file(path: Path | None) -> None:
    """Make a command's --key-file the passphrase source for the rest of the process."""
    if path is not None:
        os.environ[ENV_KEY_FILE] = str(path.absolute())
