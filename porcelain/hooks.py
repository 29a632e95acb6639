"""Hooks: executables in <registry>/hooks/ run around every porcelain commit.

- pre-commit runs before anything is written; a non-zero exit aborts the commit
  (its output is shown) and the registry is left exactly as it was.
- post-commit runs after the refs moved; a failure is reported, nothing undone.

Both get a JSON description of the commit on stdin and, in the environment:
PACHA_HOOK, PACHA_OPERATION, PACHA_DIR, PACHA_REFS, PACHA_OLD_IDS, PACHA_NEW_IDS
(space-separated, in the same order; the zero id means "absent").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from porcelain.errors import CheckFailed

PRE, POST = "pre-commit", "post-commit"
TIMEOUT_S = 300


class HookRefused(CheckFailed):
    """The pre-commit hook said no."""


def hook_path(root: Path, name: str) -> Path | None:
    path = root / "hooks" / name
    if not path.is_file():
        return None
    if not os.access(path, os.X_OK):
        sys.stderr.write(f"hint: {path} is not executable and was ignored (chmod +x to enable it)\n")
        return None
    return path


def run(root: Path, name: str, payload: dict[str, Any]) -> None:
    """Run hook `name` if present; raise HookRefused when a pre-commit hook fails."""
    path = hook_path(root, name)
    if path is None:
        return
    updates = payload.get("updates", [])
    env = dict(os.environ)
    env.update(
        PACHA_HOOK=name,
        PACHA_OPERATION=str(payload.get("operation", "")),
        PACHA_DIR=str(root),
        PACHA_REFS=" ".join(u["ref"] for u in updates),
        PACHA_OLD_IDS=" ".join(u["old"] for u in updates),
        PACHA_NEW_IDS=" ".join(u["new"] for u in updates),
    )
    try:
        proc = subprocess.run(
            [str(path)],
            input=json.dumps(payload).encode(),
            capture_output=True,
            env=env,
            cwd=root,
            timeout=TIMEOUT_S,
        )
        code, output = proc.returncode, (proc.stderr or proc.stdout).decode(errors="replace").strip()
    except subprocess.TimeoutExpired:
        code, output = -1, f"timed out after {TIMEOUT_S} s"
    except OSError as exc:
        code, output = -1, f"could not run: {exc.strerror}"
    if code == 0:
        return
    first = output.splitlines()[0] if output else f"exit status {code}"
    if name == PRE:
        raise HookRefused(f"pre-commit hook refused {payload.get('operation')}: {first}")
    sys.stderr.write(f"warning: post-commit hook failed ({first}); the commit stands\n")
