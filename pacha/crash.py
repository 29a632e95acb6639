"""Named crash points, for tests that prove an interrupted operation is completed or
cleaned up: with PACHA_CRASH_AT=NAME in the environment, the process kills itself
with SIGKILL when it reaches crash_point(NAME), as a power cut or `kill -9` would.
Unset (always, outside tests), a crash point costs one dictionary lookup."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """Die at once (SIGKILL, no cleanup) if PACHA_CRASH_AT names this point."""
    if os.environ.get("PACHA_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
