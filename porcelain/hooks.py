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
OUTPUT_LIMIT = 64 << 10  # of a hook's output, what is read: its first line is what is shown


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
        code, output = _run_bounded(path, json.dumps(payload).encode(), env, root)
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


def _run_bounded(path: Path, payload: bytes, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run a hook; its exit code and the start of its stderr (else stdout), as printable text.

    Output goes to temporary files, of which at most OUTPUT_LIMIT bytes are read back: a
    hook that prints without end costs disk for its run, never memory. Control characters
    (terminal escapes) are replaced: the hook's words are shown on the user's terminal.
    """
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run(
            [str(path)],
            input=payload,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            timeout=TIMEOUT_S,
        )
        texts = []
        for f in (err, out):
            f.seek(0)
            texts.append(f.read(OUTPUT_LIMIT).decode("utf-8", errors="replace"))
    text = (texts[0] if texts[0].strip() else texts[1]).strip()
    printable = "".join(c if c.isprintable() or c == "\n" else "\ufffd" for c in text)
    return proc.returncode, printable
