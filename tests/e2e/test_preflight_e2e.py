"""`cfgen preflight --online / --stack` against the emulator, plus a scripted endpoint.

moto provides what it really implements and the checks read: subnets,
route tables, internet gateways, VPC endpoints, security groups,
DescribeInstanceTypeOfferings (moto's bundled per-AZ offerings), ECR images
and manifests, IAM roles, CloudFormation stacks. Service Quotas and
GetSpotPlacementScores are answered by tests/e2e/scripted_aws.Proxy, which
forwards every other request to moto. The real `cfgen` command runs in a
subprocess with dummy credentials.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import REPO, Emulator, base_env, explain
from scripted_aws import Proxy, serve

from cfgen.config import load_profile
from cfgen.render import to_data

pytestmark = pytest.mark.e2e

GOLDEN = Path(__file__).resolve().parents[1] / "preflight" / "golden"
UPDATE = os.environ.get("CFGEN_UPDATE_GOLDEN") == "1"
TEMPLATE = "build/cloudformation.yaml"  # relative to REPO, the command's working directory
SPOT, ON_DEMAND = "L-34B43A08", "L-1216C47A"
READ_ONLY = re.compile(r"^(Describe|Get|List|BatchGet)")


def normalize(text: str) -> str:
    """Emulator ids and ports vary per run; the golden files hold placeholders."""
    text = re.sub(r"\b(vpc|subnet|sg|rtb|igw|vpce)-[0-9a-f]{8,17}\b", r"\1-ID", text)
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    want = path.read_text(encoding="utf-8")
    assert text == want, (
        f"{name} differs from the golden file; if the change is intended, regenerate with:"
        " CFGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/e2e/test_preflight_e2e.py"
        " tests/preflight"
    )


@pytest.fixture(scope="module")
def network(emulator: Emulator) -> dict[str, str]:
    """A VPC with a public subnet (IGW, public IPs) and a private one (no route, no endpoints)."""
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone="us-east-1a")
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.2.0/24", AvailabilityZone="us-east-1b")
    pub, priv = public["Subnet"]["SubnetId"], private["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=pub, MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=pub)
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="arm-only")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "a" * 64,
                "size": 100,
                "platform": {"architecture": "arm64", "os": "linux"},
            }
        ],
    }
    ecr.put_image(
        repositoryName="arm-only",
        imageManifest=json.dumps(index),
        imageManifestMediaType="application/vnd.oci.image.index.v1+json",
        imageTag="v1",
    )
    return {"vpc": vpc, "public": pub, "private": priv}


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[type[Proxy]]:
    class Scripted(Proxy):
        calls: list[str] = []  # noqa: RUF012 - per-test state of a handler class
        quotas: dict[str, float] = {SPOT: 512.0, ON_DEMAND: 256.0}  # noqa: RUF012

    Scripted.upstream = emulator.endpoint
    Scripted.spot_score = 9
    with serve(Scripted) as url:
        Scripted.url = url  # type: ignore[attr-defined]
        yield Scripted


def preflight(tmp_path: Path, proxy: type[Proxy], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**base_env(tmp_path), "AWS_ENDPOINT_URL": proxy.url}  # type: ignore[attr-defined]
    return subprocess.run(
        [sys.executable, "-m", "cfgen", "preflight", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_online_preflight_names_every_blocker_and_its_fix(
    tmp_path: Path, network: dict[str, str], proxy: type[Proxy]
) -> None:
    """Quota 0, a private subnet without routes, an arm64-only image, a low score, no SLR."""
    proxy.quotas = {SPOT: 0.0, ON_DEMAND: 8.0}
    proxy.spot_score = 3
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/arm-only:v1"
    proc = preflight(
        tmp_path,
        proxy,
        "--template",
        TEMPLATE,
        "--online",
        f"VpcId={network['vpc']}",
        f"SubnetIds={network['public']},{network['private']}",
        "InstanceTypes=c6i.large,m6i.large,hpc7a.12xlarge",
        f"ContainerImage={image}",
    )
    assert proc.returncode == 1, explain(proc)
    out = proc.stdout
    # MaxvCpus above the account's vCPU quota: Spot quota 0 -> not one instance.
    assert re.search(r"FAIL\s+vcpu-quota\s+Spot vCPU quota L-34B43A08 \(standard\) is 0 vCPU", out)
    assert "request an increase of L-34B43A08 to at least 256" in out
    assert re.search(r"WARN\s+vcpu-quota\s+On-Demand vCPU quota L-1216C47A .* is 8 vCPU", out)
    # A subnet with no route to ECR.
    assert re.search(
        r"FAIL\s+subnet-routes\s+subnet-\w+ \(us-east-1b\): no route to the internet", out
    )
    assert "route 0.0.0.0/0 to a NAT gateway, or add VPC endpoints for ecr.api, ecr.dkr" in out
    assert re.search(r"PASS\s+subnet-routes\s+subnet-\w+ \(us-east-1a\): internet gateway", out)
    # An image built for the wrong architecture.
    assert "arm-only:v1 is built for arm64, the instances are x86_64" in out
    assert "rebuild with docker buildx build --platform linux/amd64" in out
    # Instance types not offered in the subnets' Availability Zones.
    assert re.search(
        r"WARN\s+offerings\s+not offered in any subnet's Availability Zone: hpc7a", out
    )
    assert re.search(r"WARN\s+spot-score\s+Spot placement score 3/10", out)
    assert re.search(r"WARN\s+service-role\s+AWSServiceRoleForBatch does not exist yet", out)
    assert out.rstrip().endswith("jobs cannot run until the failures are fixed")
    check_golden("preflight-online.txt", normalize(out))
    # Read-only: only Describe/Get/List calls reached the endpoints.
    assert proxy.calls and all(READ_ONLY.match(c) for c in proxy.calls), proxy.calls


def test_endpoints_template_in_a_private_subnet_counts_its_own_endpoints(
    tmp_path: Path, emulator: Emulator, network: dict[str, str], proxy: type[Proxy]
) -> None:
    """build/endpoints.yaml creates the VPC endpoints: no NAT needed (issue 20 item 4)."""
    ec2 = emulator.client("ec2")
    (main,) = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [network["vpc"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    proc = preflight(
        tmp_path,
        proxy,
        "--template",
        "build/endpoints.yaml",
        "--online",
        "--format",
        "json",
        f"VpcId={network['vpc']}",
        f"SubnetIds={network['private']}",
        f"RouteTableIds={main['RouteTableId']}",
    )
    report = json.loads(proc.stdout)
    (routes,) = [c for c in report["checks"] if c["check"] == "subnet-routes"]
    assert routes["status"] == "pass", explain(proc)
    assert routes["message"].endswith(
        "VPC endpoints for ECR, ECS, S3, Logs (all created by this template)"
    )


def test_instance_types_offered_nowhere_fail(
    tmp_path: Path, network: dict[str, str], proxy: type[Proxy]
) -> None:
    proc = preflight(
        tmp_path,
        proxy,
        "--template",
        TEMPLATE,
        "--online",
        "--format",
        "json",
        f"VpcId={network['vpc']}",
        f"SubnetIds={network['public']}",
        "InstanceTypes=hpc7a.12xlarge",
    )
    assert proc.returncode == 1, explain(proc)
    report = json.loads(proc.stdout)
    (offer,) = [c for c in report["checks"] if c["check"] == "offerings"]
    assert offer["status"] == "fail"
    assert offer["message"] == "not offered in any subnet's Availability Zone: hpc7a.12xlarge"
    assert "describe-instance-type-offerings" in offer["fix"]
    assert report["can_run"] is False
    statuses = {c["check"]: c["status"] for c in report["checks"] if c["check"] != "offerings"}
    assert statuses["subnet-routes"] == "pass"
    assert statuses["egress-443"] == "pass"  # the template's own security group


def test_stack_preflight_reads_the_deployed_stack(
    tmp_path: Path,
    emulator: Emulator,
    network: dict[str, str],
    proxy: type[Proxy],
    batch_service_role: str,
) -> None:
    """A deployed stack whose security group lost its egress and whose repository is empty."""
    cfn = emulator.client("cloudformation")
    stack = "cfgen-preflight"
    # Every default passed explicitly: moto does not split a CommaDelimitedList
    # default (docs/moto-notes.md); moto needs a ServiceRole (ibid.).
    defaults = to_data(load_profile("default"))["Parameters"]
    params = {
        k: ",".join(map(str, d)) if isinstance(d := v["Default"], list) else str(d)
        for k, v in defaults.items()
        if "Default" in v
    }
    params |= {
        "VpcId": network["vpc"],
        "SubnetIds": network["public"],
        "ServiceRoleArn": batch_service_role,
        # moto names the repository from the stack name in upper case, which ECR rejects.
        "RepositoryName": f"{stack}-worker",
    }
    cfn.create_stack(
        StackName=stack,
        TemplateBody=(REPO / TEMPLATE).read_text(encoding="utf-8"),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    resources = {  # moto leaves a blank row for resources it ignores (docs/moto-notes.md)
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        if r.get("LogicalResourceId")
    }
    ec2 = emulator.client("ec2")
    sg = resources["ComputeSecurityGroup"]
    perms = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissionsEgress"]
    ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=perms)
    try:
        proc = preflight(tmp_path, proxy, "--stack", stack)
        assert proc.returncode == 1, explain(proc)
        out = proc.stdout
        # A security group with no egress.
        assert f"FAIL  egress-443         {sg} allows no egress on TCP 443" in out
        assert "allow outbound TCP 443 to 0.0.0.0/0" in out
        # The stack's (empty) repository: no image pushed yet.
        assert re.search(r"FAIL\s+image\s+\S+:initial is not in ECR: every job fails with", out)
        assert re.search(r"PASS\s+service-role\s+AWSBatchServiceRole exists", out)
        check_golden("preflight-stack.txt", normalize(out.replace(stack, "STACK")))
    finally:
        cfn.delete_stack(StackName=stack)


def test_stack_preflight_of_a_missing_stack_is_a_usage_error(
    tmp_path: Path, proxy: type[Proxy]
) -> None:
    proc = preflight(tmp_path, proxy, "--stack", "no-such-stack")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "stack='no-such-stack'" in proc.stderr


def test_refresh_script_rebuilds_the_bundled_table_from_describe_instance_types(
    tmp_path: Path, emulator: Emulator
) -> None:
    """scripts/refresh_instance_types.py against moto's DescribeInstanceTypes."""
    out = tmp_path / "types.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "refresh_instance_types.py"), "-o", str(out)],
        env=emulator.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, explain(proc)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["fields"] == ["vcpus", "memory_mib", "gpus", "architecture"]
    assert data["types"]["c7g.large"] == [2, 4096, 0, "arm64"]
    assert data["types"]["g4dn.xlarge"] == [4, 16384, 1, "x86_64"]
    # The bundled table was made by the same call: same types, same specs.
    bundled = json.loads(
        (REPO / "src" / "cfgen" / "data" / "ec2_instance_types.json").read_text(encoding="utf-8")
    )
    assert data["types"] == bundled["types"]
    assert "DescribeInstanceTypes" in bundled["source"]
