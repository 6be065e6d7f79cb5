#!/usr/bin/env bash
# Start or stop a local AWS emulator (moto in server mode) on 127.0.0.1.
#
#   scripts/local-aws.sh start [--pid-file FILE] [--port N] [--log-file FILE]
#   scripts/local-aws.sh status [--pid-file FILE]
#   scripts/local-aws.sh stop [--pid-file FILE]
#
# `start` prints the endpoint (http://127.0.0.1:PORT); use it as
#   endpoint="$(scripts/local-aws.sh start)" && export AWS_ENDPOINT_URL="$endpoint"
# (not `export AWS_ENDPOINT_URL="$(...)"`: export hides a failed start).
# Without moto[server] it fails at once with one line naming the missing module
# and the install command.
# Batch jobs run without Docker (moto marks each submitted job SUCCEEDED).
# `stop` stops only the process recorded in the pid file (default
# .local-aws.pid, or $CFGEN_LOCAL_AWS_PID_FILE).
# Python: $CFGEN_PYTHON, else the repository's .venv, else python3; it needs
# moto[server] (pip install -e '.[test]').
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
fi
py="${CFGEN_PYTHON:-}"
if [[ -z "$py" ]]; then
    if [[ -x "$here/../.venv/bin/python" ]]; then py="$here/../.venv/bin/python"; else py=python3; fi
fi
exec "$py" "$here/local_aws.py" "$@"
