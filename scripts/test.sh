#!/usr/bin/env bash
# Run the whole test suite (creates .venv on first use). Extra args go to pytest.
# ruff (lint), then mypy (strict on pacha/, configured in pyproject.toml), then pytest;
# the first that fails stops the run. The tests run on every core (pytest-xdist; PACHA_TEST_JOBS=N
# sets the number of workers, 0 runs them in this process); a file's tests stay on one worker
# (--dist loadfile) so its module-scoped registries are built once.
source "$(dirname "$0")/_venv.sh"
# The tests run `pacha` in thousands of subprocesses, as a user runs it: with Python's bytecode
# cache. An environment that sets PYTHONDONTWRITEBYTECODE (some sandboxes and CI images do) would
# make every one of them compile the whole project again (~0.1 s of CPU each).
unset PYTHONDONTWRITEBYTECODE
ruff check .
mypy
python -m pytest -q -n "${PACHA_TEST_JOBS:-auto}" --dist loadfile "$@"
