"""Every profile in build/ deploys on the emulator, runs a job and is destroyed.

The full flow (update, push-image, leftovers) is exercised on the default
template in test_stack_lifecycle.py; here each other profile goes through
deploy.sh -> CREATE_COMPLETE -> the compute environments it declares, in queue
order -> submit-job.sh --wait -> destroy.sh -> DELETE_COMPLETE, through the
real AWS CLI against moto on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REGION, REPO, Emulator, explain, script
from test_stack_lifecycle import explicit_parameters, load_template, outputs_from

from cfgen.config import load_profile

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Stand-in for the Docker CLI (no engine here): one line per call; `login` reads stdin.
FAKE_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_DOCKER_LOG"
if [ "$1" = login ]; then cat > /dev/null; fi
"""

# budget.yaml is the budget stack (test_budget_stack.py), not a profile.
PROFILES = sorted(
    p.stem for p in (REPO / "build").glob("*.yaml") if p.stem not in ("cloudformation", "budget")
)


def queue_environments(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(logical ID, ComputeResources.Type) of the queue's compute environments, in order."""
    out = []
    for entry in data["Resources"]["JobQueue"]["Properties"]["ComputeEnvironmentOrder"]:
        body = entry["Fn::If"][1] if "Fn::If" in entry else entry
        logical = body["ComputeEnvironment"]["Ref"]
        kind = data["Resources"][logical]["Properties"]["ComputeResources"]["Type"]
        out.append((logical, kind))
    return out


def default_route_table(emulator: Emulator) -> str:
    ec2 = emulator.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    tables = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    return str(tables[0]["RouteTableId"])


def check_vpc_endpoints(emulator: Emulator, data: dict[str, Any], route_table: str) -> None:
    """The endpoints the emulator recorded match the template (docs/moto-notes.md)."""
    ec2 = emulator.client("ec2")
    recorded = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    region = REGION
    want = {
        r["Properties"]["ServiceName"]["Fn::Sub"].replace("${AWS::Region}", region): r[
            "Properties"
        ]["VpcEndpointType"]
        for r in data["Resources"].values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
    }
    by_service = {e["ServiceName"]: e for e in recorded if e["ServiceName"] in want}
    assert {k: v["VpcEndpointType"] for k, v in by_service.items()} == want
    gateway = by_service[f"com.amazonaws.{region}.s3"]
    assert gateway["RouteTableIds"] == [route_table]
    assert "starport-layer-bucket" in gateway["PolicyDocument"]
    # The emulator adds the S3 prefix-list route to the route table, like AWS.
    routes = ec2.describe_route_tables(RouteTableIds=[route_table])["RouteTables"][0]["Routes"]
    assert any(r.get("GatewayId") == gateway["VpcEndpointId"] for r in routes)
    for name, endpoint in by_service.items():
        if endpoint["VpcEndpointType"] == "Interface":
            assert endpoint["PrivateDnsEnabled"] is True, name
            assert len(endpoint["Groups"]) == 1, name


def check_dashboard(emulator: Emulator, queue_name: str, log_group: str) -> None:
    """The emulator resolved the dashboard's Fn::Sub into JSON naming this stack's
    queue (what follows "/" in its ARN) and log group (docs/dashboard.md)."""
    cloudwatch = emulator.client("cloudwatch")
    bodies = [
        json.loads(cloudwatch.get_dashboard(DashboardName=d["DashboardName"])["DashboardBody"])
        for d in cloudwatch.list_dashboards()["DashboardEntries"]
    ]
    mine = [b for b in bodies if f"SOURCE '{log_group}'|" in json.dumps(b)]
    assert len(mine) == 1, [json.dumps(b)[:200] for b in bodies]
    queues = {
        line[3]
        for w in mine[0]["widgets"]
        if w["type"] == "metric"
        for line in w["properties"]["metrics"]
        if not isinstance(line[0], dict)
    }
    assert queues == {queue_name}
    assert {w["properties"]["region"] for w in mine[0]["widgets"] if w["type"] != "text"} == {
        REGION
    }


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_deploys_runs_a_job_and_is_destroyed(
    profile: str, emulator: Emulator, batch_service_role: str, tmp_path: Path
) -> None:
    template = REPO / "build" / f"{profile}.yaml"
    data = load_template(template)
    stack = f"cfgen-e2e-{profile}"
    params = {
        **explicit_parameters(data),
        "ServiceRoleArn": batch_service_role,
        "RepositoryName": f"{stack}-worker",
    }
    if "RouteTableIds" in data["Parameters"]:
        # network_mode endpoints: the S3 gateway endpoint goes on the route
        # table of the subnets deploy.sh picks (the default VPC's main table).
        params["RouteTableIds"] = default_route_table(emulator)
    env = emulator.env
    proc = script(
        "deploy.sh",
        *("--stack-name", stack, "--template", str(template)),
        *(f"{k}={v}" for k, v in params.items()),
        env=env,
    )
    assert proc.returncode == 0, explain(proc)
    assert "CREATE_COMPLETE" in proc.stderr
    outputs = outputs_from(proc.stdout)

    # The compute environments the emulator recorded, in the template's queue order.
    batch = emulator.client("batch")
    expected = queue_environments(data)
    arns = [outputs[f"{logical}Arn"] for logical, _ in expected]
    recorded = {
        ce["computeEnvironmentArn"]: ce
        for ce in batch.describe_compute_environments(computeEnvironments=arns)[
            "computeEnvironments"
        ]
    }
    assert [recorded[a]["computeResources"]["type"] for a in arns] == [k for _, k in expected]
    queue = batch.describe_job_queues(jobQueues=[outputs["JobQueueArn"]])["jobQueues"][0]
    order = sorted(queue["computeEnvironmentOrder"], key=lambda o: o["order"])
    assert [o["computeEnvironment"] for o in order] == arns
    first = recorded[arns[0]]["computeResources"]
    if first["type"] == "SPOT":
        spot = data["Resources"]["SpotComputeEnvironment"]["Properties"]["ComputeResources"]
        assert first["allocationStrategy"] == spot["AllocationStrategy"]
        assert first["instanceTypes"] == params["InstanceTypes"].split(",")
        assert first["ec2Configuration"][0]["imageType"] == spot["Ec2Configuration"][0]["ImageType"]
    definition = batch.describe_job_definitions(jobDefinitions=[outputs["JobDefinitionArn"]])[
        "jobDefinitions"
    ][0]
    platform = data["Resources"]["WorkerJobDefinition"]["Properties"]["PlatformCapabilities"]
    # moto does not record PlatformCapabilities from CloudFormation (the key is
    # absent); the template's value is pinned by tests/test_profiles.py.
    assert definition.get("platformCapabilities", platform) == platform
    reclaim = "Your Spot Task was interrupted*" if platform == ["FARGATE"] else "Host EC2*"
    rules = definition["retryStrategy"]["evaluateOnExit"]
    assert rules[0]["onStatusReason"] == reclaim
    assert rules[1]["onStatusReason"] == "Task failed to start*"

    if "RouteTableIds" in data["Parameters"]:
        check_vpc_endpoints(emulator, data, params["RouteTableIds"])
    if "Dashboard" in data["Resources"]:
        check_dashboard(emulator, queue["jobQueueName"], outputs["LogGroupName"])

    proc = script("submit-job.sh", "--stack-name", stack, "--wait", env=env)
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.splitlines()[-1].endswith(" SUCCEEDED")

    # push-image.sh builds for the stack's platform (its ImagePlatform output):
    # linux/arm64 on the arm64 profile. No Docker engine here: a stand-in docker
    # records its calls; the ECR and CloudFormation calls go to the emulator.
    # After the job: moto's update of the job definition drops the stack's
    # JobDefinitionArn output (docs/moto-notes.md).
    expected_platform = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}[
        load_profile(profile).compute.architecture
    ]
    assert outputs["ImagePlatform"] == expected_platform
    docker_log = tmp_path / "docker.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER, encoding="utf-8")
    (bin_dir / "docker").chmod(0o755)
    push_env = {**env, "PATH": f"{bin_dir}:{env['PATH']}", "FAKE_DOCKER_LOG": str(docker_log)}
    proc = script("push-image.sh", "--stack-name", stack, "--tag", "v1", env=push_env, timeout=300)
    assert proc.returncode == 0, explain(proc)
    image = f"{outputs['RepositoryUri']}:v1"
    assert proc.stdout == f"{image}\n"
    calls = docker_log.read_text(encoding="utf-8").splitlines()
    registry = outputs["RepositoryUri"].split("/")[0]
    assert calls == [
        f"login --username AWS --password-stdin {registry}",
        f"build --platform {expected_platform} --tag {image} {REPO / 'worker'}",
        f"push {image}",
    ]
    stack_params = emulator.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack_params["Parameters"]}[
        "ImageTag"
    ] == "v1"
    # --platform overrides the output, and says so.
    other = "linux/amd64" if expected_platform == "linux/arm64" else "linux/arm64"
    proc = script(
        "push-image.sh", "--stack-name", stack, "--tag", "v2", "--platform", other,
        "--dry-run", env=push_env,
    )  # fmt: skip
    assert proc.returncode == 0, explain(proc)
    assert f"+ docker build --platform {other} --tag {outputs['RepositoryUri']}:v2 " in proc.stdout
    assert f"building for {other} (--platform), but stack {stack} runs {expected_platform}" in (
        proc.stderr
    )

    proc = script("destroy.sh", "--stack-name", stack, env=env)
    assert proc.returncode == 0, explain(proc)
    assert "DELETE_COMPLETE" in proc.stderr
    assert proc.stdout == f"retained data bucket: {outputs['DataBucketName']}\n"
