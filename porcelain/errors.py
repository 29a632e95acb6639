"""Porcelain errors: the same hierarchy as pacha's, so the CLI reports them alike."""

from pacha.errors import CheckFailed, InvalidInput, NotFound, PachaError

__all__ = ["CheckFailed", "InvalidInput", "NotFound", "PachaError", "VersionExists"]


class VersionExists(CheckFailed):
    """A name and version that is already registered with other content."""
