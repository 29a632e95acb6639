# Sourced by scripts/*.sh: create (once) and activate the project's venv in .venv,
# with pacha installed in editable mode and the dev tools. Needs only python3.11+.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PACHA_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: $PY is not Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
stamp="$VENV/.pacha-installed"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
    # compat mode: a plain path entry, no import hook to slow every start-up
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --config-settings editable_mode=compat -e "$ROOT[dev]"
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
