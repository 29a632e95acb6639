#!/usr/bin/env bash
# Run the whole test suite (creates .venv on first use). Extra args go to pytest.
# ruff (lint), then mypy (strict on pacha/, configured in pyproject.toml), then pytest;
# the first that fails stops the run.
source "$(dirname "$0")/_venv.sh"
ruff check .
mypy
python -m pytest -q "$@"
