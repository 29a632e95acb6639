"""Helpers shared by the benchmarks: timing a command and reading its peak RSS."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Peak RSS must be read from a small parent: a child forked from this (large) benchmark
# process would report the benchmark's own pages until it execs.
RSS_WRAPPER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
sys.stderr.write(f"\\n__maxrss_kib__ {usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_with_rss(
    cmd: list[str], stdin_data: bytes | None = None, env=None, cwd=None
) -> tuple[float, int, bytes]:
    """Run cmd, return (seconds, peak RSS bytes of it and its children, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", RSS_WRAPPER, *cmd],
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    # communicate() would reap the child; read pipes ourselves, then wait4 for rusage
    if stdin_data is not None:
        import threading

        def feed() -> None:
            assert proc.stdin
            proc.stdin.write(stdin_data)
            proc.stdin.close()

        feeder = threading.Thread(target=feed)
        feeder.start()
    assert proc.stdout and proc.stderr
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait()
    elapsed = time.perf_counter() - start
    if stdin_data is not None:
        feeder.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-500:]}")
    rss_kib = int(err.rsplit(b"__maxrss_kib__", 1)[1])
    return elapsed, rss_kib * 1024, out


def find_dvc(explicit: str | None, package: str = "dvc") -> str | None:
    """The dvc program: `explicit`, then PATH, then .bench-venv/ (installing `package` there once).

    package may name an extra ("dvc[s3]"): a .bench-venv dvc without that remote's support (one
    bench_storage installed) gets it installed, rather than failing at its first push."""
    for candidate in (explicit, shutil.which("dvc")):
        if candidate and Path(candidate).exists():
            return candidate
    venv = ROOT / ".bench-venv"
    dvc = venv / "bin" / "dvc"
    if dvc.exists() and _supports(dvc, package):
        return str(dvc)
    print(f"installing {package} into .bench-venv/ (once) ...", flush=True)
    try:
        if not (venv / "bin" / "pip").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", package], check=True, timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  dvc could not be installed ({exc}); it is left out")
        return None
    return str(dvc)


def _supports(dvc: Path, package: str) -> bool:
    """Whether dvc lists the remote an extra of package names among what it supports."""
    if "[" not in package:
        return True
    remote = package.split("[", 1)[1].rstrip("]")
    try:
        out = subprocess.run([str(dvc), "version"], capture_output=True, text=True, timeout=120).stdout
    except (subprocess.SubprocessError, OSError):
        return False
    supports = out.split("Supports:", 1)[-1]
    return any(line.strip().startswith(f"{remote} (") for line in supports.splitlines())
