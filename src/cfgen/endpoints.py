"""VPC endpoints for private subnets without an internet route (network_mode "endpoints").

Emits, only when ``compute.network_mode`` is ``endpoints``:

- EndpointSecurityGroup (AWS::EC2::SecurityGroup): admits TCP 443 from
  ComputeSecurityGroup only.
- S3GatewayEndpoint (AWS::EC2::VPCEndpoint, Gateway) on the RouteTableIds
  parameter, with a policy that reaches only this stack's data bucket and ECR's
  image-layer bucket.
- One interface endpoint (AWS::EC2::VPCEndpoint, Interface, private DNS on) per
  service in :func:`interface_services`: EcrApiEndpoint, EcrDkrEndpoint,
  LogsEndpoint and, on EC2, EcsEndpoint, EcsAgentEndpoint, EcsTelemetryEndpoint.

Which endpoints, and why (each service name is built with ``${AWS::Region}``,
so the template is the same in every region):

- ECS container instances (Batch on EC2) talk to ``ecs``, ``ecs-agent`` and
  ``ecs-telemetry``; without all three the agent's traffic goes to the public
  endpoints. https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html
- Pulling from ECR needs ``ecr.api``, ``ecr.dkr`` and the S3 gateway endpoint
  (layers live in S3, in ``prod-<region>-starport-layer-bucket``); the awslogs
  log driver needs ``logs``.
  https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
- Fargate (platform 1.4.0 and later) pulls through ``ecr.dkr``, ``ecr.api``
  and the S3 gateway endpoint in the task's VPC; the ECS agent endpoints are
  for container instances, which Fargate jobs do not have.
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/platform-version-migration.html
- No ``sts`` endpoint: the job role's credentials come from the ECS agent
  (EC2) or Fargate's credential endpoint, and the instance role's from IMDS;
  nothing in the stack calls STS.
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html

Private DNS makes the services' default names resolve to the endpoints for the
whole VPC: every workload there then uses them (and their policies). An
interface endpoint takes at most one subnet per Availability Zone.
https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from awacs import s3
from awacs.aws import (
    Allow,
    Condition,
    Everybody,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.ec2 import SecurityGroup, SecurityGroupRule, VPCEndpoint

from cfgen import naming
from cfgen.config import NetworkMode, Platform, Profile
from cfgen.parameters import Params
from cfgen.tags import stack_tags


@dataclass(frozen=True)
class InterfaceService:
    """One interface endpoint: its logical ID and the service after ``com.amazonaws.<region>.``."""

    logical_id: str
    service: str
    #: Why the stack needs it (shown in docs and the cost report).
    purpose: str


ECR_API: Final = InterfaceService(
    naming.ECR_API_ENDPOINT, "ecr.api", "ECR API (auth token, image manifests)"
)
ECR_DKR: Final = InterfaceService(naming.ECR_DKR_ENDPOINT, "ecr.dkr", "ECR registry (docker pull)")
LOGS: Final = InterfaceService(naming.LOGS_ENDPOINT, "logs", "CloudWatch Logs (awslogs driver)")
ECS: Final = InterfaceService(naming.ECS_ENDPOINT, "ecs", "ECS API (container instances)")
ECS_AGENT: Final = InterfaceService(
    naming.ECS_AGENT_ENDPOINT, "ecs-agent", "ECS agent (task state, credentials)"
)
ECS_TELEMETRY: Final = InterfaceService(
    naming.ECS_TELEMETRY_ENDPOINT, "ecs-telemetry", "ECS agent telemetry"
)

#: ECR keeps image layers in this AWS-owned bucket; clients fetch them from S3
#: with pre-signed URLs. "Minimum Amazon S3 bucket permissions for Amazon ECR":
#: https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
ECR_LAYER_BUCKET: Final = "prod-${AWS::Region}-starport-layer-bucket"


def interface_services(platform: Platform) -> tuple[InterfaceService, ...]:
    """The interface endpoints jobs on ``platform`` need, in template order."""
    common = (ECR_API, ECR_DKR, LOGS)
    if platform is Platform.EC2:
        return (*common, ECS, ECS_AGENT, ECS_TELEMETRY)
    return common


def service_name(service: str) -> Sub:
    return Sub("com.amazonaws.${AWS::Region}." + service)


@dataclass(frozen=True)
class Endpoints:
    security_group: Ref
    s3_gateway: Ref
    interfaces: tuple[Ref, ...]


def add_endpoints(
    t: Template,
    cfg: Profile,
    *,
    params: Params,
    compute_security_group: Ref,
    data_bucket_arn: GetAtt,
) -> Endpoints | None:
    """VPC endpoints in network_mode endpoints; nothing (None) otherwise."""
    if cfg.compute.network_mode is not NetworkMode.ENDPOINTS:
        return None
    assert params.route_table_ids is not None
    sg = t.add_resource(
        SecurityGroup(
            naming.ENDPOINT_SECURITY_GROUP,
            GroupDescription="VPC endpoints: HTTPS from Batch",
            VpcId=params.vpc_id,
            # The endpoints' ENIs only answer; 443 from the compute security
            # group is all they must admit.
            # https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
            SecurityGroupIngress=[
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    SourceSecurityGroupId=compute_security_group,
                    Description="From Batch compute",
                )
            ],
            # An endpoint never opens connections: no egress (one rule to the
            # loopback address replaces the default allow-all).
            SecurityGroupEgress=[
                SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No egress")
            ],
            Tags=stack_tags(cfg, component="network"),
        )
    )
    s3_gateway = t.add_resource(
        VPCEndpoint(
            naming.S3_GATEWAY_ENDPOINT,
            VpcEndpointType="Gateway",
            ServiceName=service_name("s3"),
            VpcId=params.vpc_id,
            RouteTableIds=params.route_table_ids,
            PolicyDocument=s3_gateway_policy(data_bucket_arn, params.vpc_id),
            Tags=stack_tags(cfg, component="network"),
        )
    )
    interfaces = []
    # Interface endpoints keep AWS's default (full access) policy: with private
    # DNS they serve every workload of the VPC, so a narrower policy would break
    # the others; the data path (S3) is held by the gateway endpoint's policy.
    for svc in interface_services(cfg.compute.platform):
        ep = t.add_resource(
            VPCEndpoint(
                svc.logical_id,
                VpcEndpointType="Interface",
                ServiceName=service_name(svc.service),
                VpcId=params.vpc_id,
                SubnetIds=params.subnet_ids,
                SecurityGroupIds=[Ref(sg)],
                # The SDKs and the ECS agent use the services' default names:
                # without private DNS they resolve to public IPs, unreachable here.
                PrivateDnsEnabled=True,
                # Cost allocation: each interface endpoint is billed per hour per AZ.
                Tags=stack_tags(cfg, component="network"),
            )
        )
        interfaces.append(Ref(ep))
    return Endpoints(
        security_group=Ref(sg), s3_gateway=Ref(s3_gateway), interfaces=tuple(interfaces)
    )


def _attribute_ref(att: GetAtt) -> str:
    """``${Logical.Attr}`` for a Sub, from the GetAtt itself (the short form keeps
    the template under the 51,200-byte --template-body limit)."""
    logical, attribute = att.to_dict()["Fn::GetAtt"]
    return "${" + f"{logical}.{attribute}" + "}"


def s3_gateway_policy(data_bucket_arn: GetAtt, vpc_id: Ref) -> PolicyDocument:
    """S3 through the endpoint: this stack's data bucket and ECR's layers, nothing else.

    The bucket statement allows what the job role may do (iam.py) and no more;
    the job role still limits which prefixes. The ECR layer bucket is read
    through pre-signed URLs (ECR's own credentials, so any principal). The
    ECS-optimized AL2023 AMI needs no S3 at boot (the agent image ships on the
    AMI, and AL2023 does not update packages at launch), so no Amazon Linux
    repository bucket is allowed.
    """
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal(Everybody),
                Action=[
                    s3.ListBucket,
                    s3.GetObject,
                    s3.PutObject,
                    s3.AbortMultipartUpload,
                ],
                Resource=[data_bucket_arn, Sub(_attribute_ref(data_bucket_arn) + "/*")],
                # This account's principals only (the job role, the instance role).
                Condition=Condition(StringEquals("aws:PrincipalAccount", Ref("AWS::AccountId"))),
            ),
            Statement(
                Effect=Allow,
                Principal=Principal(Everybody),
                Action=[s3.GetObject],
                Resource=[Sub("arn:${AWS::Partition}:s3:::" + ECR_LAYER_BUCKET + "/*")],
                # Layers come through pre-signed URLs that ECR signs, so the
                # principal is not this account's; the request still has to come
                # from this VPC (true of every request through this endpoint).
                Condition=Condition(StringEquals("aws:SourceVpc", vpc_id)),
            ),
        ],
    )
