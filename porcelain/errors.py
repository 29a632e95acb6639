"""Porcelain errors: the same hierarchy as pacha's, so the CLI reports them alike."""

from pacha.errors import CheckFailed, InvalidInput, NotFound, PachaError

__all__ = ["CheckFailed", "ConcurrentChange", "InvalidInput", "NotFound", "PachaError", "VersionExists"]


class VersionExists(CheckFailed):
    """A name and version that is already registered with other content."""


class ConcurrentChange(CheckFailed):
    """Another writer changed what a commit depends on between planning and committing (exit 1).

    Nothing of the commit was applied; running the command again plans from the new state.
    """
