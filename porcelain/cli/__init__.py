"""The `pacha` console script: plumbing commands plus porcelain command groups."""

from __future__ import annotations

import sys

from pacha.cli import PLUMBING, run

# porcelain command groups, name -> module defining `app`; they arrive with their issues
PORCELAIN: dict[str, str] = {}

COMMANDS = {**PORCELAIN, **PLUMBING}


def main() -> None:
    sys.exit(run(sys.argv[1:], COMMANDS))
