# mypy: disable-error-code="misc"
# (cfn-lint ships no type hints, so its rule base class is Any to mypy.)
"""W9571, E9572, W9573: VPC endpoints of private Batch subnets."""

from __future__ import annotations

from typing import Any, ClassVar

from cfgen.lint import base
from cfgen.lint import model as mdl

VPC_ENDPOINT = "AWS::EC2::VPCEndpoint"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
SG_INGRESS = "AWS::EC2::SecurityGroupIngress"
_ECS_ENDPOINTS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html"
_ECR_ENDPOINTS = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html"


def _endpoint_type(m: mdl.Model, ep: mdl.Variant) -> str | Any:
    t = m.text(ep.props.get("VpcEndpointType", "Gateway"))
    return t if mdl.is_unknown(t) else t.capitalize()


def _compute_groups(m: mdl.Model) -> set[str]:
    """Logical IDs of the template's security groups that Batch compute environments use."""
    out: set[str] = set()
    for ce in m.all_variants(mdl.BATCH_CE):
        cr = ce.props.get("ComputeResources")
        if isinstance(cr, dict):
            for sg in mdl.as_list(cr.get("SecurityGroupIds")):
                lid = m.target(sg)
                if lid is not None and m.type_of(lid) == SECURITY_GROUP:
                    out.add(lid)
    return out


def _admits_443(m: mdl.Model, rule: Any) -> bool:
    if not isinstance(rule, dict):
        return False
    proto = m.text(rule.get("IpProtocol"))
    if mdl.is_unknown(proto):
        return True
    if proto in ("-1", "all"):
        return True
    if proto not in ("tcp", "6"):
        return False
    lo, hi = m.number(rule.get("FromPort")), m.number(rule.get("ToPort"))
    if mdl.is_unknown(lo) or mdl.is_unknown(hi):
        return True
    return bool(lo <= 443 <= hi)


def _source_ok(m: mdl.Model, rule: dict[str, Any], compute: set[str]) -> bool:
    """The rule admits the compute group (by group, or by an address range we cannot judge)."""
    if any(k in rule for k in ("CidrIp", "CidrIpv6", "SourcePrefixListId")):
        return True
    source = rule.get("SourceSecurityGroupId")
    if source is None:
        return False
    lid = m.target(source)
    # A group outside the template (a parameter, an ID): undecidable, accepted.
    return lid is None or lid in compute


class InterfaceEndpointWithoutPrivateDns(base.BatchRule):
    id = "W9571"
    shortdesc = "Interface VPC endpoint without private DNS"
    description = (
        "The ECS agent, Docker and the SDKs call the services' default names; without "
        "PrivateDnsEnabled (false when omitted in CloudFormation) those resolve to public "
        "addresses that private subnets cannot reach, and jobs fail to start."
    )
    source_url = _ECR_ENDPOINTS
    tags: ClassVar[list[str]] = ["resources", "ec2", "vpc-endpoints"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        for ep in m.all_variants(VPC_ENDPOINT):
            if _endpoint_type(m, ep) != "Interface":
                continue
            dns = m.resolve(ep.props.get("PrivateDnsEnabled", False))
            if mdl.is_unknown(dns):
                continue
            if dns is not True and str(dns).lower() != "true":
                out.add(
                    mdl.res_path(ep.logical_id, "PrivateDnsEnabled"),
                    "Interface endpoint without PrivateDnsEnabled: true",
                )


class EndpointGroupRejectsCompute(base.BatchRule):
    id = "E9572"
    shortdesc = "Endpoint security group does not admit the compute security group"
    description = (
        "An interface endpoint's security group must admit HTTPS (443) from the Batch "
        "compute environments' security group; otherwise image pulls, the ECS agent and "
        "logs time out in private subnets."
    )
    source_url = _ECR_ENDPOINTS
    tags: ClassVar[list[str]] = ["resources", "ec2", "vpc-endpoints"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        compute = _compute_groups(m)
        if not compute:
            return
        standalone: dict[str, list[dict[str, Any]]] = {}
        for ing in m.all_variants(SG_INGRESS):
            lid = m.target(ing.props.get("GroupId"))
            if lid is not None:
                standalone.setdefault(lid, []).append(ing.props)
        for ep in m.all_variants(VPC_ENDPOINT):
            if _endpoint_type(m, ep) != "Interface":
                continue
            groups = mdl.as_list(ep.props.get("SecurityGroupIds"))
            for i, sg in enumerate(groups):
                lid = m.target(sg)
                if lid is None or m.type_of(lid) != SECURITY_GROUP or lid in compute:
                    continue
                admitted = False
                for variant in m.linked_variants(sg, ep.scenario):
                    rules = [*mdl.as_list(variant.props.get("SecurityGroupIngress"))]
                    rules += standalone.get(lid, [])
                    if any(
                        _admits_443(m, r) and _source_ok(m, r, compute)
                        for r in rules
                        if isinstance(r, dict)
                    ):
                        admitted = True
                if not admitted:
                    out.add(
                        mdl.res_path(ep.logical_id, "SecurityGroupIds", i),
                        f"Security group {lid} does not admit TCP 443 from the compute"
                        f" security group ({', '.join(sorted(compute))})",
                    )


class FargatePublicIpInPrivateSubnets(base.BatchRule):
    id = "W9573"
    shortdesc = "Fargate jobs with public IPs in private subnets"
    description = (
        "The template adds VPC endpoints, so its subnets are private: a Fargate job "
        "definition with AssignPublicIp ENABLED gets an address that no internet gateway "
        "routes (and a public IPv4 charge). Use DISABLED."
    )
    source_url = "https://docs.aws.amazon.com/batch/latest/userguide/fargate.html"
    tags: ClassVar[list[str]] = ["resources", "batch", "fargate", "vpc-endpoints"]

    def check(self, m: mdl.Model, out: mdl.Findings) -> None:
        if not m.of_type(VPC_ENDPOINT):
            return
        for jd in m.all_variants(mdl.BATCH_JD):
            caps = m.resolve_list(jd.props.get("PlatformCapabilities"))
            if mdl.is_unknown(caps) or "FARGATE" not in caps:
                continue
            cp = jd.props.get("ContainerProperties")
            if not isinstance(cp, dict):
                continue
            nc = cp.get("NetworkConfiguration")
            value = m.text(nc.get("AssignPublicIp")) if isinstance(nc, dict) else "DISABLED"
            if not mdl.is_unknown(value) and value.upper() == "ENABLED":
                out.add(
                    mdl.res_path(
                        jd.logical_id,
                        "ContainerProperties",
                        "NetworkConfiguration",
                        "AssignPublicIp",
                    ),
                    "Fargate job definition assigns public IPs, but the subnets use VPC endpoints",
                )
