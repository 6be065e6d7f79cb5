"""Run checkov or cfripper in this process while recording network access.

    python tests/lint/offline_run.py REPORT.json checkov|cfripper ARG...

Every ``socket.connect`` / ``socket.getaddrinfo`` to a host other than the
loopback interface is recorded (through a ``sys.addaudithook`` hook) and
refused; the tool's exit code and the recorded attempts go to REPORT.json,
so the security-gate tests can assert the gates ran offline.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

_LOCAL = {"127.0.0.1", "::1", "localhost"}


def _host(event: str, args: tuple[Any, ...]) -> str | None:
    if event == "socket.getaddrinfo":
        return str(args[0])
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address:
            return str(address[0])
        return None  # AF_UNIX
    return None


def main() -> int:
    report, tool, *args = sys.argv[1:]
    attempts: list[str] = []

    def hook(event: str, hook_args: tuple[Any, ...]) -> None:
        if event in {"socket.connect", "socket.getaddrinfo"}:
            host = _host(event, hook_args)
            if host is not None and host not in _LOCAL:
                attempts.append(f"{event} {host}")
                raise socket.gaierror(f"offline gate: {event} {host} refused")

    sys.addaudithook(hook)
    code = 0
    try:
        if tool == "checkov":
            from checkov.main import Checkov

            code = int(Checkov(args).run() or 0)
        elif tool == "cfripper":
            from cfripper.cli import cli

            cli.main(args=args, prog_name="cfripper", standalone_mode=False)
        else:
            raise SystemExit(f"unknown tool {tool}")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    Path(report).write_text(json.dumps({"exit": code, "network": attempts}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
