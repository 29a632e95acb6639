"""Executing a run's command: environment in, output teed to the terminal and to a log object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, BinaryIO

from porcelain.runs import records as runs

if TYPE_CHECKING:
    from porcelain.registry import Registry


def execute(reg: Registry, run: runs.Run, command: list[str], echo: BinaryIO | None = None) -> runs.RunInfo:
    """Run command as the training process of run; its exit decides the run's status.

    Its output is copied to echo (default: standard output) and kept as the run's log."""
    out = echo if echo is not None else sys.stdout.buffer
    env = dict(os.environ)
    env.update(
        PACHA_RUN_ID=run.id,
        PACHA_RUN_NAME=run.name,
        PACHA_DIR=str(reg.plumbing.root),
        PACHA_PARAMS=json.dumps(run.params),
    )
    with tempfile.TemporaryFile() as log:
        try:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            run.finish(runs.FAILED, exit_code=127)
            from porcelain.errors import InvalidInput

            raise InvalidInput(f"cannot start {command[0]!r}: {exc.strerror}") from None
        status = runs.COMPLETED
        try:
            assert proc.stdout is not None
            for chunk in iter(lambda: proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
                out.write(chunk)
                out.flush()
                log.write(chunk)
            code = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            status = runs.KILLED
        if status != runs.KILLED:
            if code < 0:
                status = runs.KILLED
            elif code != 0:
                status = runs.FAILED
        log.seek(0)
        log_blob = reg.plumbing.objects.put_stream(log)
    return run.finish(status, exit_code=code, log=log_blob)
