"""On a terminal, push, pull, fetch and clone draw a progress bar (bytes, rate) on stderr; in a
pipe or with --json they print none, and stdout stays what scripts read."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

from tests.conftest import PACHA, Cli
from tests.remotes import Shared, artifact, member

SIZE = 3 << 20


def on_terminal(cli: Cli, *args: str | Path) -> tuple[int, bytes, str]:
    """Run pacha with stderr on a pseudo-terminal: (exit code, stdout, what the terminal showed)."""
    env = {k: v for k, v in cli.env.items() if k != "PACHA_NO_PROGRESS"}
    env.update(COLUMNS="120", TERM="xterm")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*PACHA, *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=cli.cwd,
        env=env,
    )
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        shown += data
    out = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=120)
    os.close(master)
    return code, out, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))


def _bytes_shown(text: str) -> bool:
    return re.search(r"\d+(\.\d+)?\s?[kMG]?B", text) is not None


def test_transfers_draw_a_bar_with_bytes_on_a_terminal(tmp_path: Path) -> None:
    root = tmp_path / "shared-remote"
    shared = Shared("file", str(root), root=root)
    ada = member(tmp_path, "ada", shared)
    ada("model", "register", "m", artifact(tmp_path, "m.bin", SIZE), "-v", "1.0.0")
    code, out, shown = on_terminal(ada, "push")
    assert code == 0 and "pushing" in shown and _bytes_shown(shown), shown
    assert b"1 ref(s)" in out or b"ref(s) updated" in out
    bob = member(tmp_path, "bob", shared, add=False)
    code, out, shown = on_terminal(bob, "clone", shared.url, bob.registry)
    assert code == 0 and "cloning" in shown and _bytes_shown(shown), shown
    ada("model", "register", "m", artifact(tmp_path, "m2.bin", SIZE), "-v", "1.1.0")
    ada("push")
    code, out, shown = on_terminal(bob, "pull")
    assert code == 0 and "pulling from origin" in shown and _bytes_shown(shown), shown
    code, out, shown = on_terminal(bob, "pull", "--json")  # --json: no bar, even on a terminal
    assert code == 0 and json.loads(out)["up_to_date"] is True and "pulling" not in shown, shown
    piped = Cli(bob.registry, bob.cwd)
    piped.env.pop("PACHA_NO_PROGRESS", None)
    assert "pulling" not in piped("pull").err  # a pipe: no bar
