"""Helpers for the end-to-end tests: the emulator, the scripts and the real AWS CLI.

Everything here goes through processes a user would run: scripts/local-aws.sh
(moto in server mode on 127.0.0.1), scripts/*.sh and the `aws` command of the
awscli package installed next to the test's Python. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
# The AWS CLI the tests drive: the awscli package of this interpreter's environment.
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"


def base_env(tmp: Path) -> dict[str, str]:
    """An environment with dummy credentials, no user AWS config, and VENV_BIN first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_")
        and not k.startswith("CFGEN_")
        and k != "MOTO_SIMPLE_BATCH_FAIL_AFTER"
    }
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # dummy credentials for the emulator
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        # Fail fast: the emulator's HTTP 500s are not worth the CLI's retries.
        AWS_MAX_ATTEMPTS="1",
        CFGEN_PYTHON=sys.executable,
        CFGEN_POLL_SECONDS="0.2",
        # The scripts render with `python -m cfgen`: a render cache of this run's
        # own, never the developer's ~/.cache/cfgen (a stale entry there could be
        # deployed). XDG_CACHE_HOME too, so nothing falls back to ~/.cache.
        CFGEN_CACHE_DIR=str(tmp / "cfgen-cache"),
        XDG_CACHE_HOME=str(tmp / "xdg-cache"),
    )
    return env


def run(
    cmd: list[str], env: dict[str, str], *, timeout: float = 120, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def script(
    name: str, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run([str(SCRIPTS / name), *args], env, timeout=timeout)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


@dataclass
class Emulator:
    """A moto server started through scripts/local-aws.sh, stopped by stop()."""

    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""

    @property
    def pid_file(self) -> Path:
        return self.tmp / "local-aws.pid"

    @property
    def log_file(self) -> Path:
        return self.tmp / "local-aws.log"

    @property
    def env(self) -> dict[str, str]:
        return {**base_env(self.tmp), "AWS_ENDPOINT_URL": self.endpoint}

    def start(self) -> str:
        env = {**base_env(self.tmp), **self.extra_env}
        proc = script(
            "local-aws.sh",
            "start",
            "--pid-file",
            str(self.pid_file),
            "--log-file",
            str(self.log_file),
            env=env,
            timeout=60,
        )
        assert proc.returncode == 0, explain(proc)
        self.endpoint = proc.stdout.strip()
        assert self.endpoint.startswith("http://127.0.0.1:"), self.endpoint
        return self.endpoint

    def stop(self) -> None:
        if self.pid_file.exists():
            script("local-aws.sh", "stop", "--pid-file", str(self.pid_file), env=base_env(self.tmp))

    def client(self, service: str) -> Any:
        """A boto3 client on the emulator, for the tests' own read-backs (fast: no CLI start-up)."""
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        return session.client(service, endpoint_url=self.endpoint)

    def aws(self, *args: str) -> Any:
        """Run the real AWS CLI against the emulator; parsed JSON output (None if empty)."""
        proc = run(["aws", *args, "--output", "json"], self.env, timeout=60)
        assert proc.returncode == 0, f"aws {' '.join(args)}: {explain(proc)}"
        return json.loads(proc.stdout) if proc.stdout.strip() else None
