"""One exception hierarchy for everything a user can get wrong or run into.

Each error carries the process exit code the CLI uses (Git's conventions: 1 for
"not found" and failed checks, 128 for fatal problems) and a message that says
what was wrong and, where there is one, how to fix it.
"""

from __future__ import annotations


class PachaError(Exception):
    """Base of all errors Pacha reports to a user (fatal, exit 128)."""

    exit_code: int = 128
    label: str = "fatal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(PachaError):
    """Input that can never be right: a malformed id, a bad ref name, a bad file."""


class UsageError(InvalidInput):
    """A command line that asks for something impossible: wrong arguments or options (exit 2)."""

    exit_code = 2
    label = "usage"


class RegistryNotFound(PachaError):
    """No registry at the given or discovered location."""


class UnknownFormat(PachaError):
    """A registry or file of a format version this pacha does not read (docs/format.md, "Versions")."""


class AmbiguousId(InvalidInput):
    """An id prefix that matches more than one object."""


class InvalidRefName(InvalidInput):
    """A ref name that breaks the naming rules (see docs/format.md)."""


class NotFound(PachaError):
    """Something asked for does not exist (exit 1)."""

    exit_code = 1
    label = "error"


class ObjectNotFound(NotFound):
    """No object with that id in the store."""


class RefNotFound(NotFound):
    """No ref with that name."""


class CheckFailed(PachaError):
    """A verification or a compare-and-swap precondition failed (exit 1)."""

    exit_code = 1
    label = "error"


class CorruptObject(CheckFailed):
    """Stored bytes do not match their id, or the object file is damaged."""


class RefConflict(CheckFailed):
    """A ref did not have the value a compare-and-swap update expected."""


class ReadOnlyRegistry(PachaError):
    """A write was asked of a registry this process cannot write (read-only mount, another user's files)."""


class RefDatabaseError(PachaError):
    """The ref database (refs/, LMDB) failed: disk full, damaged, an incompatible version, a lock."""


def a(word: str) -> str:
    """word with its indefinite article, for messages: "a model", "an access-policy"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
