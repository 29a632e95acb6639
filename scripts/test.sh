#!/usr/bin/env bash
# Run the whole test suite (creates .venv on first use). Extra args go to pytest.
# ruff (lint), then mypy (strict on pacha/, configured in pyproject.toml), then pytest;
# the first that fails stops the run. The tests run on every core (pytest-xdist; PACHA_TEST_JOBS=N
# sets the number of workers, 0 runs them in this process); a file's tests stay on one worker
# (--dist loadfile) so its module-scoped registries are built once.
source "$(dirname "$0")/_venv.sh"
ruff check .
mypy
python -m pytest -q -n "${PACHA_TEST_JOBS:-auto}" --dist loadfile "$@"
