"""The preflight route check (subnet-routes) against the emulator's VPCs.

moto's EC2 keeps real route tables (routes to internet and NAT gateways,
associations, the main table) and VPC endpoints (type, service name, route
tables of a gateway endpoint): cfgen.preflight.online.check_routes reads them
through boto3 exactly as it reads AWS. One VPC per case, since an interface
endpoint serves its whole VPC.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from e2e_support import REPO, Emulator

from cfgen.preflight.cli import plan_of
from cfgen.preflight.offline import apply_parameters, load_template
from cfgen.preflight.online import Plan, check_routes, check_vpc_dns, endpoint_services
from cfgen.preflight.report import Status

pytestmark = pytest.mark.e2e
REGION = "us-east-1"
EC2_INTERFACES = ("ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry", "logs")


def plan(subnets: list[str], platform: str = "EC2", **kwargs: Any) -> Plan:
    return Plan(
        region=REGION,
        platform=platform,
        subnets=subnets,
        instance_types=["c6i.large"],
        spot_max_vcpus=16,
        on_demand_max_vcpus=0,
        job_vcpus=1,
        architecture="x86_64",
        assign_public_ip=False,
        **kwargs,
    )


class Vpc:
    """A VPC on the emulator with one subnet and its own route table."""

    def __init__(self, ec2: Any, cidr: str) -> None:
        self.ec2 = ec2
        self.id = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=self.id, CidrBlock=f"{cidr}.1.0/24")
        self.subnet = subnet["Subnet"]["SubnetId"]
        self.table = ec2.create_route_table(VpcId=self.id)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=self.table, SubnetId=self.subnet)

    def interface(self, *services: str) -> None:
        for svc in services:
            self.ec2.create_vpc_endpoint(
                VpcId=self.id,
                ServiceName=f"com.amazonaws.{REGION}.{svc}",
                VpcEndpointType="Interface",
                SubnetIds=[self.subnet],
                PrivateDnsEnabled=True,
            )

    def s3_gateway(self, table: str | None = None) -> None:
        self.ec2.create_vpc_endpoint(
            VpcId=self.id,
            ServiceName=f"com.amazonaws.{REGION}.s3",
            VpcEndpointType="Gateway",
            RouteTableIds=[table or self.table],
        )


def only(checks: list[Any]) -> Any:
    (check,) = checks
    assert check.check == "subnet-routes"
    return check


def test_public_subnet_with_an_internet_gateway_route(emulator: Emulator) -> None:
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.61")
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc.id)
    ec2.create_route(RouteTableId=vpc.table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.modify_subnet_attribute(SubnetId=vpc.subnet, MapPublicIpOnLaunch={"Value": True})
    check = only(check_routes(plan([vpc.subnet]), ec2))
    assert check.status is Status.PASS
    assert check.message.endswith(": internet gateway and public IPs")


def test_private_subnet_with_a_nat_route(emulator: Emulator) -> None:
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.62")
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=vpc.subnet, AllocationId=alloc)["NatGateway"]
    ec2.create_route(
        RouteTableId=vpc.table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"]
    )
    check = only(check_routes(plan([vpc.subnet]), ec2))
    assert check.status is Status.PASS and check.message.endswith(": 0.0.0.0/0 via NAT")


def test_private_subnet_with_the_endpoints_in_the_vpc(emulator: Emulator) -> None:
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.63")
    vpc.interface(*EC2_INTERFACES)
    vpc.s3_gateway()
    check = only(check_routes(plan([vpc.subnet]), ec2))
    assert check.status is Status.PASS
    assert check.message.endswith(": VPC endpoints for ECR, ECS, S3, Logs"), check.message


def test_private_subnet_without_nat_or_endpoints_is_a_finding(emulator: Emulator) -> None:
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.64")
    check = only(check_routes(plan([vpc.subnet]), ec2))
    assert check.status is Status.FAIL
    assert (
        "no route to the internet and no VPC endpoints for ecr.api, ecr.dkr, ecs, ecs-agent,"
        " ecs-telemetry, logs, s3: instances never register" in check.message
    )
    assert check.fix.startswith("route 0.0.0.0/0 to a NAT gateway, or add VPC endpoints for")


def test_a_gateway_endpoint_on_another_route_table_does_not_serve_the_subnet(
    emulator: Emulator,
) -> None:
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.65")
    vpc.interface(*EC2_INTERFACES)
    other = ec2.create_route_table(VpcId=vpc.id)["RouteTable"]["RouteTableId"]
    vpc.s3_gateway(other)
    check = only(check_routes(plan([vpc.subnet]), ec2))
    assert check.status is Status.FAIL
    assert (
        f"no VPC endpoints for s3 (the S3 gateway endpoint is not on its route table {vpc.table})"
        in check.message
    )


def test_the_endpoint_list_is_cfgen_endpoints_per_platform(emulator: Emulator) -> None:
    """Fargate jobs need no ECS agent endpoints (cfgen.endpoints.interface_services)."""
    assert endpoint_services("FARGATE") == ("ecr.api", "ecr.dkr", "logs", "s3")
    assert endpoint_services("EC2") == (*EC2_INTERFACES, "s3")
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.66")
    vpc.interface("ecr.api", "ecr.dkr", "logs")
    vpc.s3_gateway()
    fargate = only(check_routes(plan([vpc.subnet], "FARGATE"), ec2))
    assert fargate.status is Status.PASS, fargate.message
    assert fargate.message.endswith(": VPC endpoints for ECR, S3, Logs")
    ec2_check = only(check_routes(plan([vpc.subnet]), ec2))
    assert ec2_check.status is Status.FAIL
    assert "no VPC endpoints for ecs, ecs-agent, ecs-telemetry:" in ec2_check.message


def _endpoints_plan(vpc: Vpc, route_tables: str) -> Any:
    template = apply_parameters(
        load_template(str(REPO / "build" / "endpoints.yaml")),
        {"VpcId": vpc.id, "SubnetIds": vpc.subnet, "RouteTableIds": route_tables},
    )
    return plan_of(template, REGION, {})


def test_the_endpoints_template_brings_its_own_endpoints(emulator: Emulator) -> None:
    """network_mode endpoints: the stack creates them, so a subnet without NAT is fine."""
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.67")
    p = _endpoints_plan(vpc, vpc.table)
    assert sorted(e.service for e in p.template_endpoints) == sorted([*EC2_INTERFACES, "s3"])
    check = only(check_routes(p, ec2))
    assert check.status is Status.PASS, check.message
    assert check.message.endswith(
        ": VPC endpoints for ECR, ECS, S3, Logs (all created by this template)"
    )
    # Some already in the VPC: the message names what the template adds.
    vpc.interface("logs")
    check = only(check_routes(p, ec2))
    assert check.status is Status.PASS
    assert "(ecr.api, ecr.dkr, ecs, ecs-agent, ecs-telemetry, s3 created by this template)" in (
        check.message
    )


def test_the_template_gateway_endpoint_counts_only_on_its_route_tables(emulator: Emulator) -> None:
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.68")
    other = ec2.create_route_table(VpcId=vpc.id)["RouteTable"]["RouteTableId"]
    check = only(check_routes(_endpoints_plan(vpc, other), ec2))
    assert check.status is Status.FAIL
    assert (
        f"no VPC endpoints for s3 (the S3 gateway endpoint is not on its route table {vpc.table})"
        in check.message
    )


def test_a_deployed_stack_is_judged_by_the_endpoints_that_exist(emulator: Emulator) -> None:
    """--stack: the template's endpoints are not assumed (they may have been deleted)."""
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.69")
    template = load_template(str(REPO / "build" / "endpoints.yaml"))
    p = plan_of(template, REGION, {"ComputeSecurityGroup": "sg-12345678"})
    assert p.template_endpoints == []
    p.subnets = [vpc.subnet]
    assert only(check_routes(p, ec2)).status is Status.FAIL


def test_private_dns_needs_the_vpc_dns_attributes_and_the_fix_works(emulator: Emulator) -> None:
    """Interface endpoints with private DNS: the VPC's DNS support and hostnames must be on.
    The fix the check prints is run as written with the real AWS CLI."""
    ec2 = emulator.client("ec2")
    vpc = Vpc(ec2, "10.70")
    p = _endpoints_plan(vpc, vpc.table)
    assert p.private_dns
    # A new VPC has DNS support on and DNS hostnames off (AWS and the emulator alike).
    (check,) = check_vpc_dns(p, ec2)
    assert check.status is Status.FAIL
    assert check.message.startswith(f"{vpc.id}: enableDnsHostnames off: the interface endpoints'")
    assert check.fix == (
        f"aws ec2 modify-vpc-attribute --vpc-id {vpc.id} --enable-dns-hostnames"
        """ '{"Value":true}'"""
    )
    ec2.modify_vpc_attribute(VpcId=vpc.id, EnableDnsSupport={"Value": False})
    (check,) = check_vpc_dns(p, ec2)
    assert "enableDnsSupport and enableDnsHostnames off" in check.message
    for command in check.fix.split(" && "):
        argv = shlex.split(command)
        assert argv[:3] == ["aws", "ec2", "modify-vpc-attribute"]
        emulator.aws(*argv[1:])
    (check,) = check_vpc_dns(p, ec2)
    assert check.status is Status.PASS, check.message
    # The default template has no interface endpoints: nothing to check.
    assert check_vpc_dns(plan([vpc.subnet]), ec2) == []
