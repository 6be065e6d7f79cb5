"""`cfgen preflight --template FILE [Key=Value ...]`: the fit rules, offline, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cfgen import ec2

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"


def preflight(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cfgen", "preflight", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("profile", ["cloudformation", "arm64", "gpu", "fargate-spot", "spot-only"])
def test_every_build_template_passes_with_its_defaults(profile: str) -> None:
    proc = preflight("--template", f"build/{profile}.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("7 passed, 0 warnings, 0 failed: jobs can run")


def test_golden_offline_output() -> None:
    proc = preflight("--template", "build/cloudformation.yaml")
    assert proc.stdout == (GOLDEN / "preflight-offline.txt").read_text(encoding="utf-8")


def test_job_larger_than_any_instance_after_the_agent_reserve() -> None:
    """Why: a job asking for more memory than any instance type has after the ECS reserve."""
    nominal = 4096  # c6i.large: 4 GiB nominal, less for jobs
    usable = ec2.job_memory_mib(nominal)
    ok = preflight(
        "--template", "build/spot-only.yaml", "InstanceTypes=c6i.large", f"JobMemoryMiB={usable}"
    )
    assert ok.returncode == 0, ok.stdout
    proc = preflight(
        "--template", "build/spot-only.yaml", "InstanceTypes=c6i.large", f"JobMemoryMiB={nominal}"
    )
    assert proc.returncode == 1
    assert (
        f"FAIL  job-fits           WorkerJobDefinition asks for 1 vCPU and {nominal} MiB; no instance"
        f" type of SpotComputeEnvironment has that (largest: c6i.large, 2 vCPU, {usable} MiB for"
        f" jobs of {nominal} MiB)"
    ) in proc.stdout
    assert "fix: lower the job's VCPU/MEMORY or add larger instance types" in proc.stdout


def test_max_vcpus_below_the_job_and_the_smallest_instance_json() -> None:
    proc = preflight(
        "--template", "build/gpu.yaml", "--format", "json", "MaxvCpus=2", "OnDemandMaxvCpus=0"
    )
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["can_run"] is False
    by_check = {c["check"]: c for c in report["checks"]}
    assert by_check["maxvcpus-job"]["status"] == "fail"
    assert (
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" in by_check["maxvcpus-job"]["message"]
    )
    assert by_check["maxvcpus-instance"]["status"] == "warn"
    # OnDemandMaxvCpus=0 removes the fallback (its Condition): nothing reported for it.
    assert not any("OnDemandComputeEnvironment" in c["message"] for c in report["checks"])
    assert report["summary"] == {"pass": 5, "warn": 1, "fail": 1, "info": 0}


def test_gpu_job_on_cpu_types_and_unknown_types() -> None:
    """GPU jobs must reach GPU types; an unknown type is a warning and makes the list undecidable."""
    proc = preflight("--template", "build/gpu.yaml", "InstanceTypes=c6i.4xlarge")
    assert proc.returncode == 1
    assert (
        "asks for 1 GPU; the instance types of SpotComputeEnvironment have at most 0" in proc.stdout
    )
    proc = preflight("--template", "build/gpu.yaml", "InstanceTypes=c6i.4xlarge,c9z.huge")
    assert proc.returncode == 0, proc.stdout  # undecidable: no fit verdict
    assert (
        "WARN  instance-types     c9z.huge in SpotComputeEnvironment is not an instance"
        in proc.stdout
    )


def test_fargate_pair() -> None:
    proc = preflight("--template", "build/fargate-spot.yaml", "JobVcpus=4", "JobMemoryMiB=4096")
    assert proc.returncode == 1
    assert "4096 MiB is not offered with 4 vCPU on Fargate (8192-30720 MiB" in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--template", "build/cloudformation.yaml", "Nope=1"],
            "parameter='Nope': not a parameter",
        ),
        (
            ["--template", "build/cloudformation.yaml", "JobVcpus=x"],
            "JobVcpus='x': must be a number",
        ),
        (["--template", "build/cloudformation.yaml", "JobVcpus=0"], "JobVcpus='0': MinValue is 1"),
        (
            ["--template", "build/cloudformation.yaml", "noequals"],
            "parameter='noequals': expected Key=Value",
        ),
        (["--template", "no/such.yaml"], "template='no/such.yaml': cannot read"),
        (["--template", "README.md"], "template='README.md': not a CloudFormation template"),
        (["--stack", "s", "A=1"], "Key=Value parameters go with --template"),
        ([], "one of the arguments --template --stack is required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    proc = preflight(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr, proc.stderr
