"""Throwaway OpenPGP keys for the signature tests: ed25519 keys made by the real gpg in
temporary GNUPGHOMEs (never the user's keyring), expired and revoked on demand.

Homes live in short /tmp paths (gpg-agent's socket path must stay under ~108 bytes), and
each agent a home started is stopped when the test ends (only that home's: gpgconf --homedir).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def gpg(home: Path, *args: str, faked: dt.datetime | None = None) -> bytes:
    """Run gpg on home in batch mode (no passphrase); faked: gpg's clock for this call."""
    clock = ["--faked-system-time", faked.strftime("%Y%m%dT%H%M%S")] if faked else []
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
         *clock, *args],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip


@dataclass
class Key:
    """One key pair in its own home."""

    home: Path
    uid: str
    fingerprint: str

    @property
    def email(self) -> str:
        return self.uid.split("<")[1].rstrip(">")

    def public(self, to: Path) -> Path:
        """Write the armored public key (with its current self-signatures) to a file."""
        to.write_bytes(gpg(self.home, "--armor", "--export", self.fingerprint))
        return to

    def expire_in_the_past(self) -> None:
        """Make the key expired now: a newer self-signature (dated 10 days ago) sets its expiry
        to 9 days ago. The key must have been made earlier (Keys.make(..., age_days=20))."""
        then = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        gpg(self.home, "--quick-set-expire", self.fingerprint, "1d", faked=then)

    def revoke(self) -> None:
        """Revoke the key with the revocation certificate gpg made with it."""
        cert = (self.home / "openpgp-revocs.d" / f"{self.fingerprint}.rev").read_text()
        armored = cert.replace(
            ":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"
        )
        certificate = self.home / "revoke.asc"
        certificate.write_text(armored)
        gpg(self.home, "--import", str(certificate))


class Keys:
    """Makes keys in temporary homes and removes them (and their agents) at close."""

    def __init__(self) -> None:
        self.homes: list[Path] = []

    def home(self) -> Path:
        home = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
        home.chmod(0o700)
        self.homes.append(home)
        return home

    def make(self, uid: str, home: Path | None = None, age_days: int = 0) -> Key:
        """A new ed25519 signing key (in a new home unless given), made age_days ago."""
        home = home or self.home()
        made = dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days) if age_days else None
        gpg(home, "--quick-gen-key", uid, "ed25519", "sign", "never", faked=made)
        listing = gpg(home, "--with-colons", "--list-secret-keys", uid).decode()
        fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        return Key(home, uid, fpr)

    def import_into(self, home: Path, public: Path) -> None:
        """Import a public key file into home (known there, but not certified: not trusted)."""
        gpg(home, "--import", str(public))

    def close(self) -> None:
        for home in self.homes:
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
            shutil.rmtree(home, ignore_errors=True)
