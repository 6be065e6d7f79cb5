"""Network: an egress-only security group, and the launch template for instances.

Emits ComputeSecurityGroup (AWS::EC2::SecurityGroup) and, on EC2 profiles,
ComputeLaunchTemplate (AWS::EC2::LaunchTemplate).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

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


# The host-side Spot notice watcher: the script ships in the package
# (src/cfgen/data/spot-notice-watcher.sh, its header says why it exists) and the
# user data installs it as a systemd unit.
SPOT_WATCHER_SCRIPT = "data/spot-notice-watcher.sh"
SPOT_WATCHER_PATH = "/usr/local/bin/cfgen-spot-notice-watcher"
SPOT_WATCHER_UNIT_PATH = "/etc/systemd/system/cfgen-spot-notice-watcher.service"
# Restart=always with RestartSec=5 and no start limit: the watcher never stays
# down, and never restarts in a tight loop.
SPOT_WATCHER_UNIT = f"""\
[Unit]
Description=cfgen: forward an EC2 Spot interruption notice to ECS task containers as SIGTERM
After=docker.service
StartLimitIntervalSec=0

[Service]
ExecStart={SPOT_WATCHER_PATH}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
"""

# MIME multipart, because Batch merges its own user data with ours
# (https://docs.aws.amazon.com/batch/latest/userguide/launch-templates.html).
# The ECS agent reads /etc/ecs/ecs.config when it starts, after cloud-init ran
# this. {watcher} and {unit} are heredocs, written byte for byte. On a Spot
# notice ECS draining only stops new placements: the watcher SIGTERMs the
# running jobs; ECS_CONTAINER_STOP_TIMEOUT (SIGTERM to SIGKILL, default 30 s)
# applies to the stops Batch starts. systemctl --no-block: cloud-init runs this
# script from a unit of its own, which must not wait for ours.
_USER_DATA = """\
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==CFGEN-BOUNDARY=="

--==CFGEN-BOUNDARY==
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
# cfgen: ECS agent settings, and the Spot notice watcher (ECS draining does not stop jobs)
set -euo pipefail
cat >> /etc/ecs/ecs.config <<'ECSCONFIG'
ECS_ENABLE_SPOT_INSTANCE_DRAINING=true
ECS_CONTAINER_STOP_TIMEOUT={stop_timeout}s
ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
ECSCONFIG
cat > {watcher_path} <<'CFGEN_WATCHER'
{watcher}CFGEN_WATCHER
chmod 0755 {watcher_path}
cat > {unit_path} <<'CFGEN_UNIT'
{unit}CFGEN_UNIT
systemctl daemon-reload
systemctl enable --now --no-block cfgen-spot-notice-watcher.service

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


def packaged_spot_watcher_script() -> str:
    """The watcher script as it ships in the package, with its comments."""
    return resources.files("cfgen").joinpath(SPOT_WATCHER_SCRIPT).read_text(encoding="utf-8")


def spot_watcher_script() -> str:
    """The watcher script, exactly as the user data writes it to the instance.

    The packaged script without its comment-only and blank lines: the user
    data counts against the template's 51,200-byte ``--template-body`` limit,
    and the commented source is in the package (and the tests run this form).
    """
    return compact_shell(packaged_spot_watcher_script())


def compact_shell(script: str) -> str:
    """``script`` without comment-only and blank lines (the ``#!`` line stays).

    Only for scripts without heredocs, whose bodies such a cut would change.
    """
    lines = script.splitlines(keepends=True)
    if any("<<" in line.replace("<<<", "") for line in lines):
        raise ValueError("compact_shell: the script has a heredoc")
    kept = [ln for ln in lines[1:] if ln.strip() and not ln.lstrip().startswith("#")]
    return "".join(lines[:1] + kept)


def user_data_text(cfg: Profile) -> str:
    """The launch template's user data before Base64: MIME multipart, one shell part."""
    script = spot_watcher_script()
    for body, end in ((script, "CFGEN_WATCHER"), (SPOT_WATCHER_UNIT, "CFGEN_UNIT")):
        # A heredoc ends at its delimiter line: the body must not hold one.
        if not body.endswith("\n") or end in body.splitlines():
            raise ValueError(f"{end}: cannot be written with a heredoc")
    values = {
        "{stop_timeout}": str(cfg.job.stop_timeout_seconds),
        "{watcher_path}": SPOT_WATCHER_PATH,
        "{unit_path}": SPOT_WATCHER_UNIT_PATH,
        "{unit}": SPOT_WATCHER_UNIT,
    }
    text = _USER_DATA
    for key, value in values.items():
        text = text.replace(key, value)
    # Last, so that nothing in the script is taken for a placeholder.
    return text.replace("{watcher}", script)


def _user_data(cfg: Profile) -> Base64:
    return Base64(user_data_text(cfg))
