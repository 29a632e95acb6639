"""The `pacha` console script: plumbing commands plus porcelain command groups."""

from __future__ import annotations

import sys

from pacha.cli import PLUMBING, run
from porcelain.wording import for_cli

# porcelain command groups, name -> module defining `app`
PORCELAIN: dict[str, str] = {
    "model": "porcelain.cli.model",
    "data": "porcelain.cli.data",
    "recipe": "porcelain.cli.recipe",
    "run": "porcelain.cli.run",
    "verify": "porcelain.cli.verify",
    "sign": "porcelain.cli.sign",
    "stats": "porcelain.cli.stats",
    "reindex": "porcelain.cli.reindex",
    "remote": "porcelain.cli.remote",
    "push": "porcelain.cli.push",
    "fetch": "porcelain.cli.fetch",
    "pull": "porcelain.cli.pull",
    "clone": "porcelain.cli.clone",
    "policy": "porcelain.cli.policy",
}
# porcelain editions of plumbing commands (they fall back to plumbing's behaviour)
OVERRIDES: dict[str, str] = {"rev-parse": "porcelain.cli.rev_parse", "gc": "porcelain.cli.gc"}

COMMANDS = {**PORCELAIN, **PLUMBING, **OVERRIDES}


def main() -> None:
    for_cli()  # errors name options (--bump), not Python arguments (bump=)
    sys.exit(run(sys.argv[1:], COMMANDS))
