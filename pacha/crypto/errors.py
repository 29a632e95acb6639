"""Errors of encryption at rest, in the project's hierarchy (pacha.errors)."""

from __future__ import annotations

from pacha.errors import CheckFailed, CorruptObject, InvalidInput, PachaError


class Locked(PachaError):
    """The keys of an encrypted registry or file cannot be had (wrong or missing passphrase)."""


class WrongPassphrase(Locked):
    """The passphrase given unwraps none of the keyring's slots (exit 128; nothing written)."""


class PassphraseUnavailable(Locked):
    """An encrypted registry or file needs a passphrase and none was given (no prompt possible)."""


class KeyringError(InvalidInput):
    """The keyring file is missing, damaged or asks for something this pacha refuses."""


class AuthenticationFailed(CorruptObject):
    """AES-GCM refused a ciphertext: the bytes were altered, or belong to another object or key."""


class NotEncrypted(CheckFailed):
    """An operation for encrypted registries asked of a plain one (exit 1)."""
