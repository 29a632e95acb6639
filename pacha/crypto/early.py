"""Unwrapping an encrypted registry's keys while the command is still starting up.

Every command that seals or opens a body in an encrypted registry first derives a key
with Argon2id (64 MiB, 3 passes: ~0.06 s of CPU with one lane, 0.12 s for a slot of 4
lanes, more under load; pacha.crypto.kdf). Done when the first
body is sealed, it stalls the ingest threads at their start; yet while the dispatcher
imports the command's modules (0.1-0.3 s, one core busy) the other core is idle. So
the dispatcher calls start(): when the passphrase comes without a prompt (a key file,
PACHA_PASSPHRASE) and the registry found is encrypted, a helper thread unwraps the keys
(Argon2id and AES-GCM release the GIL). pacha.crypto.unlock then takes that result, but
only if it was made from the same keyring bytes with the same passphrase the command
itself reads when it needs the keys: the result, or the error (a wrong passphrase), is
then exactly what unwrapping at that moment would give, only sooner. A prompt is never
shown early, and nothing is written. Only commands that always read or write bodies start
it (pacha.cli.UNLOCK_EARLY, porcelain's list): the process waits for the helper thread
before it exits, which a command that needs no key would pay for nothing.

This module is imported by the dispatcher before it knows the command, so it imports
only the standard library at the top; the helper thread imports the rest.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pacha.crypto.keyring import Slot

Unwrapped = tuple["Slot", dict[str, bytes]]  # the slot a passphrase opened, and every key in use


class _Attempt:
    """One early unwrapping: what it started from, and its outcome once the thread ends."""

    def __init__(self, locate: Callable[[], Path]) -> None:
        self._locate = locate
        self.root: Path | None = None  # the registry (realpath); None if none was found
        self.data = b""  # the keyring file's bytes
        self.secret = b""
        self.result: Unwrapped | None = None
        self.error: BaseException | None = None
        # Not a daemon: the interpreter waits for it at exit. A daemon thread still inside
        # Argon2id when a quick command ends would be stopped as it takes the GIL back, an
        # unwinding through Rust frames that aborts the process ("exception not rethrown").
        self.thread = threading.Thread(target=self._run, name="pacha-unlock")

    def _run(self) -> None:
        try:
            from pacha.crypto.keyring import FILE_NAME, Keyring
            from pacha.crypto.passphrase import passphrase_without_prompt

            root = self._locate()
            secret = passphrase_without_prompt()
            if secret is None or not (root / FILE_NAME).is_file():
                return
            data = (root / FILE_NAME).read_bytes()
            self.root, self.data, self.secret = Path(os.path.realpath(root)), data, secret
            ring = Keyring.from_bytes(data, str(root / FILE_NAME))
            self.result = ring.unlock(secret, f"the keyring of {root}")
        except BaseException as exc:  # handed over to the command if it is the one it meets
            self.error = exc


_attempt: _Attempt | None = None
_lock = threading.Lock()


def start(args: list[str], locate: Callable[[], Path]) -> None:
    """Start unwrapping the keys of the registry the command will use, found by locate()
    (on the helper thread: pacha.registry.find_registry), if a passphrase is at hand
    without a prompt. args: the command's own arguments; a `--registry PATH` among them
    names a registry this does not guess, so nothing starts then (nor for `--help`)."""
    global _attempt
    if not (os.environ.get("PACHA_KEY_FILE") or os.environ.get("PACHA_PASSPHRASE")):
        return
    if any(a in ("-h", "--help") or a.startswith("--registry") for a in args):
        return
    attempt = _Attempt(locate)
    with _lock:
        _attempt = attempt
    attempt.thread.start()


def take(root: Path, data: bytes, secret: bytes) -> Unwrapped | None:
    """The early result for the registry at root if it was made from these keyring bytes
    with this passphrase (waiting for it if it is still running); None if there is none
    (the caller unwraps itself). Raises what the early unwrapping raised (WrongPassphrase,
    KeyringError), as unwrapping now would. Taken once; one for another registry (a
    command that opens a second one, say a remote's) is left for that registry's turn."""
    global _attempt
    with _lock:
        attempt = _attempt
    if attempt is None:
        return None
    attempt.thread.join()
    if attempt.root != Path(os.path.realpath(root)):
        return None
    with _lock:
        if _attempt is attempt:
            _attempt = None
    if attempt.data != data or attempt.secret != secret:
        return None
    if attempt.error is not None:
        raise attempt.error
    return attempt.result
