#!/usr/bin/env bash
# Run the whole test suite (creates .venv on first use). Extra args go to pytest.
source "$(dirname "$0")/_venv.sh"
ruff check .
python -m pytest -q "$@"
