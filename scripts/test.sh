#!/usr/bin/env bash
# Install everything the test suite needs into ./.venv and run the whole suite:
# ruff, mypy, pytest (unit, golden, lint, security gates, end-to-end on a local
# moto server, worker). Works on a fresh machine with Python 3.11+ and access
# to PyPI. Extra arguments go to pytest, e.g. `./scripts/test.sh -k golden`.
#
#   ./scripts/test.sh [PYTEST-ARGS...]    install (once per change of the pyproject files,
#                                         worker/setup.py or the C source), lint, test
#   ./scripts/test.sh --help              this text; installs and runs nothing
#
# Environment: PYTHON (the interpreter that creates the venv, default python3),
# CFGEN_VENV (the venv folder, default .venv).
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
fi
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${CFGEN_VENV:-.venv}"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# The AWS CLI the tests drive is the one installed here (awscli package).
export PATH="$PWD/$VENV/bin:$PATH"

stamp="$VENV/.cfgen-install-stamp"
want="$(cat pyproject.toml worker/pyproject.toml worker/setup.py worker/src/spotworker/_speedups.c 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -e ".[test,dev]" -e "./worker[test]"
    echo "$want" > "$stamp"
fi

echo "== ruff"
"$PY" -m ruff check src tests scripts worker
"$PY" -m ruff format --check src tests scripts worker
echo "== mypy (strict: src/cfgen, worker/src)"
"$PY" -m mypy
echo "== pytest"
exec "$PY" -m pytest "$@"
