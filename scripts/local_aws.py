"""Start and stop a local AWS emulator (moto in server mode) for cfgen's scripts and tests.

    python scripts/local_aws.py start [--pid-file FILE] [--port N]   # prints the endpoint URL
    python scripts/local_aws.py stop  [--pid-file FILE]
    python scripts/local_aws.py status [--pid-file FILE]

The server binds 127.0.0.1 only, on a free port unless --port is given. Batch
jobs are switched to moto's Docker-free implementation (each submitted job is
marked SUCCEEDED at once) by POSTing ``{"batch": {"use_docker": false}}`` to
``/moto-api/config``. The pid file holds ``<pid> <port>``; ``stop`` signals only
that pid, and only if it still is the moto server this script started on that
port (checked through /proc, so a recycled pid is never killed).

Bad input: one line on stderr, exit 2. Runtime failures: one line, exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

try:
    from cfgen import clikit
    from cfgen.clikit import EXIT_FINDINGS, Parser, UsageError
except ImportError:  # run by an interpreter without cfgen: say which and how to fix it
    print(
        f"local-aws.sh: cfgen is not installed for {sys.executable}; install it (from the"
        " repository root): python -m pip install -e '.[test]'  (or set CFGEN_PYTHON)",
        file=sys.stderr,
    )
    raise SystemExit(1) from None

DEFAULT_PID_FILE = Path(".local-aws.pid")
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


#: What `python -m moto.server` imports: moto itself and its [server] extra.
SERVER_MODULES = ("moto", "flask", "flask_cors", "werkzeug")
INSTALL = "python -m pip install -e '.[test]'  (or: python -m pip install 'moto[server]')"


class EmulatorError(Exception):
    """The emulator could not be started or stopped (exit 1)."""


def check_server_installed() -> None:
    """Fail in one line, before starting anything, if moto[server] is missing."""
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise EmulatorError(
            f"moto[server] is not installed for {sys.executable} (missing module"
            f" {missing[0]}); install it: {INSTALL}"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def _request(url: str, data: bytes | None = None, timeout: float = 2.0) -> bytes:
    if not url.startswith(f"http://{HOST}:"):
        raise EmulatorError(f"refusing to contact {url}: only http://{HOST} is allowed")
    req = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=data, method="POST" if data is not None else "GET"
    )
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http://127.0.0.1 only)
        return bytes(resp.read())


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_our_server(pid: int, port: int) -> bool:
    """True if pid is alive and is the moto server started by this script on port."""
    cmd = _cmdline(pid)
    return "moto.server" in cmd and str(port) in cmd and HOST in cmd


def _read_pid_file(pid_file: Path) -> tuple[int, int]:
    try:
        text = pid_file.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        raise EmulatorError(f"pid file {pid_file} does not exist: nothing to stop") from None
    if len(text) != 2 or not all(part.isdigit() for part in text):
        raise EmulatorError(f"pid file {pid_file}: expected '<pid> <port>', got {text!r}")
    return int(text[0]), int(text[1])


def start(pid_file: Path, port: int | None, log_file: Path | None) -> str:
    if pid_file.exists():
        pid, old_port = _read_pid_file(pid_file)
        if _is_our_server(pid, old_port):
            raise EmulatorError(
                f"an emulator started from {pid_file} is already running at "
                f"{endpoint(old_port)} (pid {pid}); stop it first"
            )
        pid_file.unlink()  # stale: its process is gone
    check_server_installed()
    port = port or free_port()
    private_log = None
    if log_file is None:  # keep the server's output to quote it if it fails to start
        fd, name = tempfile.mkstemp(prefix="cfgen-local-aws-", suffix=".log")
        os.close(fd)
        private_log = log_file = Path(name)
    log = log_file.open("ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # survives the shell that started it; not killed by ^C there
            # moto deletes a stack's resources in set order, and what it leaves behind
            # depends on that order (docs/moto-notes.md): pin it for reproducible runs.
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    finally:
        log.close()
    try:
        return _wait_until_ready(proc, port, pid_file, log_file)
    finally:
        if private_log is not None:
            private_log.unlink(missing_ok=True)


def _last_line(log_file: Path) -> str:
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return clikit.one_line(lines[-1])[:200] if lines else ""


def _wait_until_ready(proc: subprocess.Popen[bytes], port: int, pid_file: Path, log: Path) -> str:
    url = endpoint(port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            last = _last_line(log)
            raise EmulatorError(
                f"moto server exited with code {proc.returncode} on {url}"
                + (f": {last}" if last else "")
            )
        try:
            _request(f"{url}/moto-api/config")
            break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                proc.terminate()
                raise EmulatorError(
                    f"moto server did not answer on {url} within {START_TIMEOUT_S:.0f}s"
                ) from None
            time.sleep(0.2)
    # Batch: mark submitted jobs SUCCEEDED without running them in Docker.
    _request(f"{url}/moto-api/config", json.dumps({"batch": {"use_docker": False}}).encode())
    tmp = pid_file.with_name(pid_file.name + ".tmp")
    tmp.write_text(f"{proc.pid} {port}\n", encoding="utf-8")
    tmp.replace(pid_file)
    return url


def stop(pid_file: Path) -> str:
    pid, port = _read_pid_file(pid_file)
    if not _is_our_server(pid, port):
        pid_file.unlink()
        return f"emulator pid {pid} (port {port}) was not running; removed {pid_file}"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _is_our_server(pid, port) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _is_our_server(pid, port):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink()
    return f"stopped emulator pid {pid} at {endpoint(port)}"


def status(pid_file: Path) -> tuple[bool, str]:
    if not pid_file.exists():
        return False, f"not running (no pid file {pid_file})"
    pid, port = _read_pid_file(pid_file)
    if _is_our_server(pid, port):
        return True, endpoint(port)
    return False, f"not running (stale pid file {pid_file}: pid {pid})"


def _port(value: str) -> int:
    if not value.isdigit() or not 1024 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer between 1024 and 65535")
    return int(value)


def _parser() -> Parser:
    parser = Parser(
        prog="local-aws.sh",
        description="Start/stop a local AWS emulator (moto server) on 127.0.0.1. `start` prints"
        " the endpoint URL; it needs moto[server] (" + INSTALL + ").",
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument(
        "--pid-file",
        type=Path,
        default=Path(os.environ.get("CFGEN_LOCAL_AWS_PID_FILE", str(DEFAULT_PID_FILE))),
        help="where the pid and port are kept (default: $CFGEN_LOCAL_AWS_PID_FILE or %(default)s)",
    )
    parser.add_argument("--port", type=_port, help="port to bind (default: a free one)")
    parser.add_argument("--log-file", type=Path, help="append the server's output here")
    return parser


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "start" and args.port is not None:
        raise UsageError(f"--port: only valid with 'start', not with {args.command!r}")
    try:
        if args.command == "start":
            print(start(args.pid_file, args.port, args.log_file))
        elif args.command == "stop":
            print(stop(args.pid_file))
        else:
            running, text = status(args.pid_file)
            print(text)
            return 0 if running else 3
    except EmulatorError as exc:
        print(f"local-aws.sh: {clikit.one_line(str(exc))}", file=sys.stderr)
        return EXIT_FINDINGS
    return 0


def main(argv: list[str] | None = None) -> int:
    return clikit.run("local-aws.sh", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
