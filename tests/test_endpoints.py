"""network_mode: the VPC endpoints of private subnets, rendered and inspected (cfgen.endpoints)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from cfgen.config import ConfigError, NetworkMode, load_profile
from cfgen.render import to_data

Data = dict[str, Any]

EC2_SERVICES = {
    "EcrApiEndpoint": "ecr.api",
    "EcrDkrEndpoint": "ecr.dkr",
    "LogsEndpoint": "logs",
    "EcsEndpoint": "ecs",
    "EcsAgentEndpoint": "ecs-agent",
    "EcsTelemetryEndpoint": "ecs-telemetry",
}
FARGATE_SERVICES = {
    k: EC2_SERVICES[k] for k in ("EcrApiEndpoint", "EcrDkrEndpoint", "LogsEndpoint")
}


@cache
def data(name: str) -> Data:
    return to_data(load_profile(name))


def profile_file(tmp_path: Path, body: str, name: str = "private") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def endpoints_of(d: Data) -> dict[str, Data]:
    return {k: v for k, v in d["Resources"].items() if v["Type"] == "AWS::EC2::VPCEndpoint"}


def test_default_profile_is_public_and_has_no_endpoints() -> None:
    assert load_profile("default").compute.network_mode is NetworkMode.PUBLIC
    d = data("default")
    assert endpoints_of(d) == {}
    assert "RouteTableIds" not in d["Parameters"]
    assert "EndpointSecurityGroup" not in d["Resources"]


def test_endpoints_profile_has_the_interface_endpoints_ecs_on_ec2_needs() -> None:
    d = data("endpoints")
    eps = endpoints_of(d)
    interfaces = {k: v for k, v in eps.items() if v["Properties"]["VpcEndpointType"] == "Interface"}
    assert {k: v["Properties"]["ServiceName"]["Fn::Sub"] for k, v in interfaces.items()} == {
        k: "com.amazonaws.${AWS::Region}." + s for k, s in EC2_SERVICES.items()
    }
    for ep in interfaces.values():
        p = ep["Properties"]
        assert p["PrivateDnsEnabled"] is True
        assert p["SubnetIds"] == {"Ref": "SubnetIds"}
        assert p["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
        assert p["VpcId"] == {"Ref": "VpcId"}


def test_endpoint_security_group_admits_443_from_the_compute_group_only() -> None:
    sg = data("endpoints")["Resources"]["EndpointSecurityGroup"]["Properties"]
    assert sg["SecurityGroupIngress"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "SourceSecurityGroupId": {"Ref": "ComputeSecurityGroup"},
            "Description": "From Batch compute",
        }
    ]
    # No egress: one rule to the loopback address replaces the default allow-all.
    assert sg["SecurityGroupEgress"] == [
        {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "No egress"}
    ]


def test_s3_gateway_endpoint_on_the_route_table_parameter() -> None:
    d = data("endpoints")
    gw = d["Resources"]["S3GatewayEndpoint"]["Properties"]
    assert gw["VpcEndpointType"] == "Gateway"
    assert gw["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    assert gw["RouteTableIds"] == {"Ref": "RouteTableIds"}
    param = d["Parameters"]["RouteTableIds"]
    assert param["Type"] == "CommaDelimitedList" and "Default" not in param
    groups = d["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert (
        "RouteTableIds"
        in next(g for g in groups if g["Label"]["default"] == "Network")["Parameters"]
    )


def test_s3_gateway_policy_reaches_only_the_stack_bucket_and_ecr_layers() -> None:
    policy = data("endpoints")["Resources"]["S3GatewayEndpoint"]["Properties"]["PolicyDocument"]
    resources = [r for s in policy["Statement"] for r in s["Resource"]]
    assert resources == [
        {"Fn::GetAtt": ["DataBucket", "Arn"]},
        {"Fn::Sub": "${DataBucket.Arn}/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::prod-${AWS::Region}-starport-layer-bucket/*"},
    ]
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    layers = policy["Statement"][1]
    assert layers["Action"] == ["s3:GetObject"]
    assert not any("*" in a for s in policy["Statement"] for a in s["Action"])
    conditions = [s["Condition"]["StringEquals"] for s in policy["Statement"]]
    assert conditions == [
        {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}},
        {"aws:SourceVpc": {"Ref": "VpcId"}},
    ]


def test_interface_endpoints_keep_the_default_policy() -> None:
    # With private DNS they serve the whole VPC: a narrow policy would break
    # other workloads there (cfgen.endpoints); S3 is the data path.
    for name, ep in endpoints_of(data("endpoints")).items():
        if ep["Properties"]["VpcEndpointType"] == "Interface":
            assert "PolicyDocument" not in ep["Properties"], name


def test_fargate_outside_public_mode_assigns_no_public_ip(tmp_path: Path) -> None:
    for mode in ("nat", "endpoints"):
        path = profile_file(
            tmp_path,
            f'description = "x"\n[compute]\nplatform = "FARGATE"\nnetwork_mode = "{mode}"\n',
            name=f"fargate-{mode}",
        )
        d = to_data(load_profile(path))
        assert "AssignPublicIp" not in d["Parameters"]
        cp = d["Resources"]["WorkerJobDefinition"]["Properties"]["ContainerProperties"]
        assert cp["NetworkConfiguration"] == {"AssignPublicIp": "DISABLED"}
        interfaces = {
            k
            for k, v in endpoints_of(d).items()
            if v["Properties"]["VpcEndpointType"] == "Interface"
        }
        # Fargate has no container instances: no ECS agent endpoints.
        assert interfaces == (set(FARGATE_SERVICES) if mode == "endpoints" else set())
    # public mode keeps today's parameter.
    assert "AssignPublicIp" in data("fargate-spot")["Parameters"]


def test_nat_mode_renders_no_endpoints(tmp_path: Path) -> None:
    path = profile_file(tmp_path, 'description = "x"\n[compute]\nnetwork_mode = "nat"\n')
    d = to_data(load_profile(path))
    assert endpoints_of(d) == {}
    assert "RouteTableIds" not in d["Parameters"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[compute]\nnetwork_mode = "private"\n',
            "compute.network_mode='private': must be one of public, nat, endpoints",
        ),
        (
            '[compute]\nplatform = "FARGATE"\nnetwork_mode = "nat"\nassign_public_ip = true\n',
            "compute.assign_public_ip=True: only with compute.network_mode = 'public'",
        ),
    ],
)
def test_bad_network_mode_is_one_line_naming_the_field(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_profile(profile_file(tmp_path, body))
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
