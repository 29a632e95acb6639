"""Allocating a version to a registration safely against concurrent registrations.

A registration plans its version from refs read before it stores anything; another
process may take the same version meanwhile. The check below runs inside the ref
transaction that creates the version ref (RefTransaction.check), so exactly one of two
writers of one version wins. A loser with --bump plans the next free version and commits
again (compare-and-swap, bounded), so N concurrent bumps give N consecutive versions; a
loser with an explicit version is answered as if it had come second (same bytes: nothing
to do; other bytes: VersionExists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import porcelain.layout as layout
import porcelain.semver as versions

# How often one --bump registration plans again after losing its version to another
# writer. Each loss means another registration of the same name committed, so this bounds
# the wait of one writer among that many concurrent ones.
BUMP_ATTEMPTS = 64


class VersionTaken(Exception):  # control flow inside register, never shown to a user
    """The planned version (or one of the same SemVer precedence) was registered meanwhile."""

    def __init__(self, existing: str) -> None:
        super().__init__(existing)
        self.existing = existing


@dataclass(frozen=True)
class VersionFree:
    """RefTransaction.check: no version of name with the precedence of version exists now."""

    kind: str
    name: str
    version: str

    def __call__(self, view: Any) -> None:
        if view.get(layout.version_ref(self.kind, self.name, self.version)) is not None:
            raise VersionTaken(self.version)
        prefix = layout.versions_prefix(self.kind, self.name)
        for ref, _ in view.iter(prefix):
            other = ref[len(prefix) :]
            if "/" not in other and versions.compare(other, self.version) == 0:
                raise VersionTaken(other)  # differs only in build metadata
