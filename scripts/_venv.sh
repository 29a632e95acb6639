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
    echo "setting up $VENV (once; log in $VENV/install.log)" >&2
    # compat mode: a plain path entry, no import hook to slow every start-up
    if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
           "$VENV/bin/python" -m pip install --disable-pip-version-check \
               --config-settings editable_mode=compat -e "$ROOT[dev]"; } >"$VENV/install.log" 2>&1; then
        tail -n 30 "$VENV/install.log" >&2
        echo "error: installing pacha into $VENV failed (full log: $VENV/install.log)" >&2
        exit 1
    fi
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
