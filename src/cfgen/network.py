"""Network: an egress-only security group, and the launch template for instances.

Emits ComputeSecurityGroup (AWS::EC2::SecurityGroup) and, on EC2 profiles,
ComputeLaunchTemplate (AWS::EC2::LaunchTemplate).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Base64, GetAtt, Ref, Template
from troposphere.ec2 import (
    EBSBlockDevice,
    LaunchTemplate,
    LaunchTemplateBlockDeviceMapping,
    LaunchTemplateData,
    MetadataOptions,
    SecurityGroup,
    SecurityGroupRule,
    TagSpecifications,
)

from cfgen import naming
from cfgen.config import Profile
from cfgen.parameters import Params
from cfgen.tags import stack_tags


@dataclass(frozen=True)
class Network:
    security_group: Ref
    launch_template_id: Ref | None
    launch_template_version: GetAtt | None


# MIME multipart, because Batch merges its own user data with ours. The ECS
# agent reads /etc/ecs/ecs.config when it starts, after cloud-init ran this.
_USER_DATA = """\
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==CFGEN-BOUNDARY=="

--==CFGEN-BOUNDARY==
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
# Written by cfgen. Spot draining: on a Spot interruption notice the ECS agent
# stops placing tasks on this instance and stops its containers with SIGTERM,
# then waits ECS_CONTAINER_STOP_TIMEOUT before SIGKILL (the default 30 s is too
# short to checkpoint; the notice comes 120 s before the reclaim).
set -euo pipefail
cat >> /etc/ecs/ecs.config <<'ECSCONFIG'
ECS_ENABLE_SPOT_INSTANCE_DRAINING=true
ECS_CONTAINER_STOP_TIMEOUT={stop_timeout}s
ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
ECSCONFIG

--==CFGEN-BOUNDARY==--
"""


def add_network(t: Template, cfg: Profile, *, params: Params, ec2: bool) -> Network:
    sg = t.add_resource(
        SecurityGroup(
            naming.SECURITY_GROUP,
            GroupDescription="AWS Batch compute: no inbound; outbound HTTPS only",
            VpcId=params.vpc_id,
            # Egress only to 443: ECR, ECS, S3, CloudWatch Logs and STS are all
            # HTTPS. DNS and NTP use the VPC resolver and link-local addresses,
            # which security groups do not filter.
            SecurityGroupEgress=[
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS to AWS APIs, ECR and S3",
                )
            ],
            Tags=stack_tags(cfg, component="network"),
        )
    )
    if not ec2:
        return Network(
            security_group=Ref(sg), launch_template_id=None, launch_template_version=None
        )

    assert params.root_volume is not None
    lt = t.add_resource(
        LaunchTemplate(
            naming.LAUNCH_TEMPLATE,
            LaunchTemplateData=LaunchTemplateData(
                # IMDSv2 only (no unauthenticated GETs, e.g. through an SSRF).
                # The hop limit of 1 does NOT keep job containers out: Batch
                # runs single-node EC2 jobs in host network mode, so a container
                # reaches IMDS like the host and can read the instance role's
                # credentials. That role is kept to the ECS agent's needs (iam.py).
                # https://docs.aws.amazon.com/batch/latest/userguide/networking-modes.html
                MetadataOptions=MetadataOptions(
                    HttpEndpoint="enabled",
                    HttpTokens="required",
                    HttpPutResponseHopLimit=1,
                ),
                BlockDeviceMappings=[
                    LaunchTemplateBlockDeviceMapping(
                        DeviceName="/dev/xvda",  # root device of the AL2023 ECS AMIs
                        Ebs=EBSBlockDevice(
                            VolumeSize=params.root_volume,
                            VolumeType="gp3",
                            Encrypted=True,
                            DeleteOnTermination=True,
                        ),
                    )
                ],
                UserData=_user_data(cfg),
            ),
            TagSpecifications=[
                TagSpecifications(
                    ResourceType="launch-template",
                    Tags=stack_tags(cfg, component="network"),
                )
            ],
        )
    )
    return Network(
        security_group=Ref(sg),
        launch_template_id=Ref(lt),
        # LatestVersionNumber: a launch-template change reaches the compute
        # environment through an in-place infrastructure update.
        launch_template_version=GetAtt(lt, "LatestVersionNumber"),
    )


def _user_data(cfg: Profile) -> Base64:
    return Base64(_USER_DATA.replace("{stop_timeout}", str(cfg.job.stop_timeout_seconds)))
