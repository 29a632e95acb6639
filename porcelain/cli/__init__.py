"""The `pacha` console script: plumbing commands plus porcelain command groups."""

from __future__ import annotations

import sys

from pacha.cli import PLUMBING, UNLOCK_EARLY, run
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
# porcelain groups that read or write records and artifacts: an encrypted registry's key is
# derived while they start up (pacha.crypto.early)
PORCELAIN_UNLOCK_EARLY = frozenset(
    {"model", "data", "recipe", "run", "verify", "push", "fetch", "pull", "gc"}
)


def main() -> None:
    for_cli()  # errors name options (--bump), not Python arguments (bump=)
    sys.exit(run(sys.argv[1:], COMMANDS, UNLOCK_EARLY | PORCELAIN_UNLOCK_EARLY))
