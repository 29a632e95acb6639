"""Executing a run's command: environment in, output teed to the terminal and to a log object."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import BinaryIO, cast

from porcelain.core import Core
from porcelain.errors import InvalidInput
from porcelain.runs import records as runs
from porcelain.runs.live import Run


def execute(core: Core, run: Run, command: list[str], echo: BinaryIO | None = None) -> runs.RunInfo:
    """Run command as the training process of run; its exit decides the run's status.

    Its output is copied to echo (default: standard output) and kept as the run's log."""
    out = echo if echo is not None else sys.stdout.buffer
    env = dict(os.environ)
    env.update(
        PACHA_RUN_ID=run.id,
        PACHA_RUN_NAME=run.name,
        PACHA_DIR=str(core.plumbing.root),
        PACHA_PARAMS=json.dumps(run.params),
    )
    with tempfile.TemporaryFile() as log:
        try:
            proc = subprocess.Popen(  # the training command's files are the user's: their umask
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            run.finish(runs.FAILED, exit_code=127)
            raise InvalidInput(f"cannot start {command[0]!r}: {exc.strerror}") from None
        status = runs.COMPLETED
        try:
            stdout = cast(io.BufferedReader, proc.stdout)  # a pipe: what has arrived, as it arrives
            for chunk in iter(lambda: stdout.read1(65536), b""):
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
        log_blob = core.plumbing.objects.put_stream(log)
    return run.finish(status, exit_code=code, log=log_blob)
