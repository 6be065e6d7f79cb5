"""Online preflight: read-only AWS calls with the caller's credentials.

Every call here is a Describe/Get/List; nothing is created or changed.

- instance types offered in each subnet's Availability Zone
  (DescribeInstanceTypeOfferings, location-type availability-zone)
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html
- MaxvCpus against the account's vCPU quotas (Service Quotas, service code ec2):
  L-34B43A08 "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
  L-1216C47A "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
  L-3819A6DF / L-DB2E81BA the G and VT families (Spot / On-Demand),
  L-7212CCBC / L-417A185B the P families (Spot / On-Demand); all in vCPUs.
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-on-demand-instances.html#ec2-on-demand-instances-limits
  https://docs.aws.amazon.com/cli/latest/userguide/cli_service-quotas_code_examples.html
- a route out of each subnet: 0.0.0.0/0 to an internet gateway with public IPs
  on launch, or to a NAT gateway, or else VPC endpoints for every service of
  :func:`endpoint_services` (cfgen.endpoints' interface list of the platform,
  plus S3): those in the VPC, and those the template itself declares (in
  network_mode endpoints the stack creates them). An interface endpoint with
  private DNS serves the whole VPC; a gateway endpoint only the subnets whose
  route table it is associated with.
  https://docs.aws.amazon.com/batch/latest/userguide/create-public-private-vpc.html
  https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html
  https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
- the security group allows egress on TCP 443
- the Batch service-linked role AWSServiceRoleForBatch (or ServiceRoleArn) exists;
  Batch creates the service-linked role with the first compute environment when
  the caller may (iam:CreateServiceLinkedRole)
  https://docs.aws.amazon.com/batch/latest/userguide/using-service-linked-roles.html
- the image tag exists in ECR and its manifest list names the right platform
  https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchGetImage.html
- Spot placement scores (GetSpotPlacementScores): 1-10, "10 = highly likely to
  succeed, 1 = not likely". cfgen warns below SPOT_SCORE_THRESHOLD (5, the middle
  of the scale: AWS gives no cut-off, so this one is ours and documented here).
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SpotPlacementScore.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cfgen import ec2
from cfgen.preflight.report import Check, Status

SPOT_SCORE_THRESHOLD = 5
SLR_NAME = "AWSServiceRoleForBatch"


def endpoint_services(platform: str) -> tuple[str, ...]:
    """Endpoints (service suffixes) a subnet without internet access needs, sorted:
    the interface endpoints of cfgen.endpoints for the platform, and S3."""
    from cfgen.config import Platform
    from cfgen.endpoints import interface_services

    names = {svc.service for svc in interface_services(Platform(platform))}
    return tuple(sorted(names | {"s3"}))


@dataclass(frozen=True)
class Endpoint:
    """A VPC endpoint (in the VPC, or declared by the template) as the route check reads it."""

    service: str  #: the suffix after com.amazonaws.<region>.
    #: Route tables of a gateway endpoint; None for an interface endpoint (the whole VPC).
    route_tables: frozenset[str] | None = None

    def serves(self, route_table: str) -> bool:
        return self.route_tables is None or route_table in self.route_tables


_OFFERINGS = (
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html"
)
_SPOT_QUOTA = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html"
_OD_QUOTA = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-on-demand-instances.html"
    "#ec2-on-demand-instances-limits"
)
_VPC = "https://docs.aws.amazon.com/batch/latest/userguide/create-public-private-vpc.html"
_SG = "https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html"
_SLR = "https://docs.aws.amazon.com/batch/latest/userguide/using-service-linked-roles.html"
_ECR = "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchGetImage.html"
_SCORE = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SpotPlacementScore.html"

#: (quota group, Spot quota code, On-Demand quota code); a family's group is its letters.
QUOTAS: dict[str, tuple[str, str]] = {
    "standard": ("L-34B43A08", "L-1216C47A"),
    "g": ("L-3819A6DF", "L-DB2E81BA"),
    "p": ("L-7212CCBC", "L-417A185B"),
}
_STANDARD_LETTERS = set("acdhimrtz")


def quota_group(instance_type: str) -> str | None:
    """standard / g / p for a type or family; None for groups cfgen does not check."""
    head = ""
    for ch in ec2.family(instance_type):
        if ch.isdigit():
            break
        head += ch
    if head in ("g", "vt"):
        return "g"
    if head == "p":
        return "p"
    if head and head[0] in _STANDARD_LETTERS and head not in ("inf", "trn", "dl", "hpc"):
        return "standard"
    return None


@dataclass
class Plan:
    """What a stack or template will ask of the account (parameter values resolved)."""

    region: str
    platform: str  #: EC2 | FARGATE
    subnets: list[str]
    instance_types: list[str]
    spot_max_vcpus: int
    on_demand_max_vcpus: int
    job_vcpus: float
    architecture: str  #: x86_64 | arm64
    assign_public_ip: bool = False
    security_groups: list[str] = field(default_factory=list)  #: physical ids (live stack)
    template_egress: list[dict[str, Any]] | None = None  #: the template's rules (not deployed)
    service_role_arn: str = ""
    image: str = ""  #: full image reference, or "" when the stack's repository is used
    repository: str = ""  #: ECR repository name (the stack's, when it exists)
    tag: str = ""
    fargate_spot: bool = False
    #: VPC endpoints the template declares (not deployed yet: --template).
    template_endpoints: list[Endpoint] = field(default_factory=list)
    #: The template has interface endpoints with private DNS (network_mode endpoints).
    private_dns: bool = False


def _client_error() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _error_code(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def run_checks(plan: Plan, session: Any) -> list[Check]:
    """Every online check, each isolated: a failing call becomes a warning line, not a crash."""
    ec2c = session.client("ec2", region_name=plan.region)
    steps: list[tuple[str, Callable[[], list[Check]]]] = [
        ("offerings", lambda: check_offerings(plan, ec2c)),
        (
            "vcpu-quota",
            lambda: check_quotas(plan, session.client("service-quotas", region_name=plan.region)),
        ),
        ("subnet-routes", lambda: check_routes(plan, ec2c)),
        ("vpc-dns", lambda: check_vpc_dns(plan, ec2c)),
        ("egress-443", lambda: check_egress(plan, ec2c)),
        ("service-role", lambda: check_service_role(plan, session.client("iam"))),
        ("image", lambda: check_image(plan, session.client("ecr", region_name=plan.region))),
        ("spot-score", lambda: check_spot_scores(plan, ec2c)),
    ]
    out: list[Check] = []
    for name, step in steps:
        try:
            out.extend(step())
        except _client_error() as err:
            out.append(
                Check(
                    name,
                    Status.WARN,
                    f"could not check: {err}",
                    "run with credentials that may call the read-only API named above",
                )
            )
    return out


# --------------------------------------------------------------------------- offerings
def _subnet_info(plan: Plan, client: Any) -> list[dict[str, Any]]:
    if not plan.subnets:
        return []
    resp = client.describe_subnets(SubnetIds=plan.subnets)
    subnets: list[dict[str, Any]] = resp.get("Subnets", [])
    return sorted(subnets, key=lambda s: plan.subnets.index(s["SubnetId"]))


def _concrete_types(plan: Plan) -> tuple[list[str], list[str]]:
    """(instance types to ask about, entries left out: pseudo types)."""
    types: list[str] = []
    skipped: list[str] = []
    for entry in plan.instance_types:
        if entry in ec2.PSEUDO_TYPES:
            skipped.append(entry)
        elif "." in entry:
            types.append(entry)
        else:
            types.extend(s.name for s in ec2.expand([entry]) or [])
    return sorted(set(types)), skipped


def check_offerings(plan: Plan, client: Any) -> list[Check]:
    if plan.platform != "EC2":
        return []
    types, _ = _concrete_types(plan)
    subnets = _subnet_info(plan, client)
    if not subnets:
        return [Check("offerings", Status.FAIL, "no subnets to launch into", "set SubnetIds")]
    offered: dict[str, set[str]] = {}
    for az in sorted({s["AvailabilityZone"] for s in subnets}):
        found: set[str] = set()
        for i in range(0, len(types), 100):
            paginator = client.get_paginator("describe_instance_type_offerings")
            filters = [
                {"Name": "location", "Values": [az]},
                {"Name": "instance-type", "Values": types[i : i + 100]},
            ]
            for page in paginator.paginate(LocationType="availability-zone", Filters=filters):
                found.update(o["InstanceType"] for o in page.get("InstanceTypeOfferings", []))
        offered[az] = found
    out: list[Check] = []
    nowhere = [t for t in types if not any(t in f for f in offered.values())]
    if nowhere:
        out.append(
            Check(
                "offerings",
                Status.FAIL if len(nowhere) == len(types) else Status.WARN,
                f"not offered in any subnet's Availability Zone: {', '.join(nowhere)}",
                "pick instance types offered in "
                + ", ".join(sorted(offered))
                + " (aws ec2 describe-instance-type-offerings --location-type availability-zone)",
                _OFFERINGS,
            )
        )
    for az, found in sorted(offered.items()):
        missing = [t for t in types if t not in found and t not in nowhere]
        if not found and len(nowhere) < len(types):
            out.append(
                Check(
                    "offerings",
                    Status.WARN,
                    f"{az}: none of the instance types is offered; its subnets get no instances",
                    f"use subnets in other Availability Zones or other types for {az}",
                    _OFFERINGS,
                )
            )
        elif missing:
            out.append(
                Check(
                    "offerings",
                    Status.WARN,
                    f"{az}: not offered: {', '.join(missing)} (fewer Spot pools there)",
                    "fine if other types cover the zone; else add types offered there",
                    _OFFERINGS,
                )
            )
    if not out:
        out.append(
            Check(
                "offerings",
                Status.PASS,
                f"all {len(types)} instance types are offered in {', '.join(sorted(offered))}",
            )
        )
    return out


# --------------------------------------------------------------------------- quotas
def _quota(client: Any, code: str) -> float | None:
    try:
        return float(client.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"])
    except _client_error() as err:
        if _error_code(err) != "NoSuchResourceException":
            raise
    try:
        resp = client.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)
        return float(resp["Quota"]["Value"])
    except _client_error() as err:
        if _error_code(err) == "NoSuchResourceException":
            return None
        raise


def check_quotas(plan: Plan, client: Any) -> list[Check]:
    if plan.platform != "EC2":
        return []
    types, _ = _concrete_types(plan)
    groups = sorted({g for t in types if (g := quota_group(t)) is not None})
    out: list[Check] = []
    smallest = min((s.vcpus for t in types if (s := ec2.instance_spec(t))), default=1)
    need_one = max(float(smallest), plan.job_vcpus)
    for group in groups:
        spot_code, od_code = QUOTAS[group]
        for market, code, wanted, url in (
            ("Spot", spot_code, plan.spot_max_vcpus, _SPOT_QUOTA),
            ("On-Demand", od_code, plan.on_demand_max_vcpus, _OD_QUOTA),
        ):
            if wanted <= 0:
                continue
            value = _quota(client, code)
            label = f"{market} vCPU quota {code} ({group})"
            if value is None:
                out.append(Check("vcpu-quota", Status.WARN, f"{label}: not found", "", url))
            elif value < need_one:
                out.append(
                    Check(
                        "vcpu-quota",
                        Status.FAIL,
                        f"{label} is {value:g} vCPU: not even one instance ({need_one:g} vCPU) "
                        "can start; jobs stay RUNNABLE",
                        f"request an increase of {code} to at least {wanted} in Service Quotas",
                        url,
                    )
                )
            elif value < wanted:
                out.append(
                    Check(
                        "vcpu-quota",
                        Status.WARN,
                        f"{label} is {value:g} vCPU, below MaxvCpus {wanted}: the compute "
                        f"environment stops growing at {value:g}",
                        f"request an increase of {code} to {wanted}, or lower MaxvCpus",
                        url,
                    )
                )
            else:
                out.append(
                    Check("vcpu-quota", Status.PASS, f"{label} is {value:g} vCPU >= {wanted}")
                )
    return out


# --------------------------------------------------------------------------- routes
def _route_tables(client: Any, vpc_id: str) -> list[dict[str, Any]]:
    resp = client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    tables: list[dict[str, Any]] = resp.get("RouteTables", [])
    return tables


def _table_for(subnet_id: str, tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    main = None
    for t in tables:
        for assoc in t.get("Associations", []):
            if assoc.get("SubnetId") == subnet_id:
                return t
            if assoc.get("Main"):
                main = t
    return main


def _default_route(table: dict[str, Any] | None) -> str:
    """igw / nat / "" : where 0.0.0.0/0 goes."""
    for route in (table or {}).get("Routes", []):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
            continue
        gateway = str(route.get("GatewayId", ""))
        if gateway.startswith("igw-"):
            return "igw"
        if route.get("NatGatewayId") or route.get("InstanceId") or route.get("TransitGatewayId"):
            return "nat"
    return ""


def _endpoints(client: Any, vpc_id: str, region: str) -> list[Endpoint]:
    resp = client.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    prefix = f"com.amazonaws.{region}."
    found = []
    for ep in resp.get("VpcEndpoints", []):
        if ep.get("State", "available").lower() in ("deleted", "deleting", "failed", "rejected"):
            continue
        name = str(ep.get("ServiceName", ""))
        if not name.startswith(prefix):
            continue
        tables = None
        if str(ep.get("VpcEndpointType", "Interface")).lower() == "gateway":
            tables = frozenset(str(t) for t in ep.get("RouteTableIds", []))
        found.append(Endpoint(name[len(prefix) :], tables))
    return found


def _served(endpoints: Iterable[Endpoint], route_table: str) -> set[str]:
    return {e.service for e in endpoints if e.serves(route_table)}


def check_routes(plan: Plan, client: Any) -> list[Check]:
    subnets = _subnet_info(plan, client)
    if not subnets:
        return []
    out: list[Check] = []
    vpcs = sorted({s["VpcId"] for s in subnets})
    tables = {v: _route_tables(client, v) for v in vpcs}
    endpoints = {v: _endpoints(client, v, plan.region) for v in vpcs}
    needed = endpoint_services(plan.platform)
    for s in subnets:
        sid, az = s["SubnetId"], s["AvailabilityZone"]
        table = _table_for(sid, tables[s["VpcId"]])
        table_id = str((table or {}).get("RouteTableId", ""))
        route = _default_route(table)
        public_ip = (
            plan.assign_public_ip if plan.platform == "FARGATE" else s.get("MapPublicIpOnLaunch")
        )
        in_vpc = _served(endpoints[s["VpcId"]], table_id)
        from_template = _served(plan.template_endpoints, table_id) - in_vpc
        missing = [e for e in needed if e not in in_vpc | from_template]
        where = f"{sid} ({az})"
        if route == "nat":
            out.append(Check("subnet-routes", Status.PASS, f"{where}: 0.0.0.0/0 via NAT"))
        elif route == "igw" and public_ip:
            out.append(
                Check("subnet-routes", Status.PASS, f"{where}: internet gateway and public IPs")
            )
        elif not missing:
            by = ""
            if from_template:
                by = (
                    f" ({', '.join(sorted(from_template))} created by this template)"
                    if in_vpc & set(needed)
                    else " (all created by this template)"
                )
            out.append(
                Check(
                    "subnet-routes",
                    Status.PASS,
                    f"{where}: VPC endpoints for ECR, ECS, S3, Logs{by}"
                    if plan.platform == "EC2"
                    else f"{where}: VPC endpoints for ECR, S3, Logs{by}",
                )
            )
        elif route == "igw":
            fix = (
                "set the AssignPublicIp parameter to ENABLED"
                if plan.platform == "FARGATE"
                else "enable auto-assign public IPv4 on the subnet, or route 0.0.0.0/0 to a NAT"
            )
            out.append(
                Check(
                    "subnet-routes",
                    Status.FAIL,
                    f"{where}: internet gateway, but instances get no public IP: they cannot "
                    "reach ECS or ECR and jobs stay RUNNABLE",
                    fix,
                    _VPC,
                )
            )
        else:
            gateway_elsewhere = "s3" in missing and any(
                e.service == "s3" and e.route_tables is not None
                for e in [*endpoints[s["VpcId"]], *plan.template_endpoints]
            )
            note = (
                f" (the S3 gateway endpoint is not on its route table {table_id})"
                if gateway_elsewhere
                else ""
            )
            out.append(
                Check(
                    "subnet-routes",
                    Status.FAIL,
                    f"{where}: no route to the internet and no VPC endpoints for "
                    f"{', '.join(missing)}{note}: instances never register and jobs stay "
                    "RUNNABLE",
                    "route 0.0.0.0/0 to a NAT gateway, or add VPC endpoints for "
                    + ", ".join(missing),
                    _VPC,
                )
            )
    return out


_PRIVATE_DNS = "https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html"


def check_vpc_dns(plan: Plan, client: Any) -> list[Check]:
    """Private DNS on an interface endpoint needs the VPC's enableDnsSupport and
    enableDnsHostnames: without them CloudFormation cannot create the template's
    endpoints, and the services' names do not resolve to them. The emulator does
    not enforce it (docs/moto-notes.md).
    https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html"""
    if not plan.private_dns:
        return []
    out = []
    for vpc in sorted({s["VpcId"] for s in _subnet_info(plan, client)}):
        off = [
            attr
            for attr, key in (
                ("enableDnsSupport", "EnableDnsSupport"),
                ("enableDnsHostnames", "EnableDnsHostnames"),
            )
            if not client.describe_vpc_attribute(VpcId=vpc, Attribute=attr)
            .get(key, {})
            .get("Value", False)
        ]
        if off:
            out.append(
                Check(
                    "vpc-dns",
                    Status.FAIL,
                    f"{vpc}: {' and '.join(off)} off: the interface endpoints' private DNS "
                    "cannot be enabled, so the stack's endpoints fail to create",
                    # One attribute per call; DNS hostnames need DNS support first.
                    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcAttribute.html
                    " && ".join(
                        f"aws ec2 modify-vpc-attribute --vpc-id {vpc} --{_kebab(a)}"
                        " '{\"Value\":true}'"
                        for a in off
                    ),
                    _PRIVATE_DNS,
                )
            )
        else:
            out.append(
                Check("vpc-dns", Status.PASS, f"{vpc}: DNS support and DNS hostnames are on")
            )
    return out


def _kebab(attr: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in attr)


# --------------------------------------------------------------------------- security group
def _allows_443(rules: Iterable[dict[str, Any]]) -> bool:
    for r in rules:
        proto = str(r.get("IpProtocol", ""))
        if proto not in ("-1", "tcp", "6"):
            continue
        lo, hi = r.get("FromPort"), r.get("ToPort")
        if proto != "-1" and not (lo is not None and hi is not None and lo <= 443 <= hi):
            continue
        if (
            r.get("CidrIp") == "0.0.0.0/0"
            or any(x.get("CidrIp") == "0.0.0.0/0" for x in r.get("IpRanges", []))
            or r.get("PrefixListIds")
            or r.get("DestinationPrefixListId")
        ):
            return True
    return False


def check_egress(plan: Plan, client: Any) -> list[Check]:
    fix = "allow outbound TCP 443 to 0.0.0.0/0 (or to the VPC endpoints' prefix lists)"
    if plan.template_egress is not None:
        # No SecurityGroupEgress: CloudFormation keeps EC2's default allow-all egress rule.
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html
        ok = not plan.template_egress or _allows_443(plan.template_egress)
        where = "the template's security group"
        groups: list[tuple[str, bool]] = [(where, ok)]
    else:
        if not plan.security_groups:
            return []
        resp = client.describe_security_groups(GroupIds=plan.security_groups)
        groups = [
            (g["GroupId"], _allows_443(g.get("IpPermissionsEgress", [])))
            for g in resp.get("SecurityGroups", [])
        ]
    out = []
    for name, ok in groups:
        if ok:
            out.append(Check("egress-443", Status.PASS, f"{name} allows egress on 443"))
        else:
            out.append(
                Check(
                    "egress-443",
                    Status.FAIL,
                    f"{name} allows no egress on TCP 443: instances cannot reach ECS, ECR or S3 "
                    "and jobs stay RUNNABLE",
                    fix,
                    _SG,
                )
            )
    return out


# --------------------------------------------------------------------------- service role
def check_service_role(plan: Plan, client: Any) -> list[Check]:
    name = plan.service_role_arn.rsplit("/", 1)[-1] if plan.service_role_arn else SLR_NAME
    try:
        client.get_role(RoleName=name)
    except _client_error() as err:
        if _error_code(err) != "NoSuchEntity":
            raise
        if plan.service_role_arn:
            return [
                Check(
                    "service-role",
                    Status.FAIL,
                    f"ServiceRoleArn {plan.service_role_arn} does not exist: the compute "
                    "environment goes INVALID",
                    "leave ServiceRoleArn empty (the service-linked role) or create the role",
                    _SLR,
                )
            ]
        return [
            Check(
                "service-role",
                Status.WARN,
                f"{SLR_NAME} does not exist yet; Batch creates it with the first compute "
                "environment if the deployer may call iam:CreateServiceLinkedRole",
                "deploy with iam:CreateServiceLinkedRole, or run: aws iam "
                "create-service-linked-role --aws-service-name batch.amazonaws.com",
                _SLR,
            )
        ]
    return [Check("service-role", Status.PASS, f"{name} exists")]


# --------------------------------------------------------------------------- image
def _ecr_repository(image: str) -> tuple[str, str] | None:
    """(repository, tag) of an ECR image reference, None for other registries."""
    host, _, rest = image.partition("/")
    if ".dkr.ecr." not in host or not rest:
        return None
    repo, _, tag = rest.partition(":")
    return repo, tag or "latest"


def _platforms(manifest: dict[str, Any]) -> list[str]:
    return [
        str(m.get("platform", {}).get("architecture", ""))
        for m in manifest.get("manifests", [])
        if isinstance(m, dict)
    ]


def check_image(plan: Plan, client: Any) -> list[Check]:
    if plan.image:
        ref = _ecr_repository(plan.image)
        if ref is None:
            return [
                Check(
                    "image",
                    Status.PASS,
                    f"{plan.image} is not in ECR; not checked (pulls need a route to its registry)",
                )
            ]
        repo, tag = ref
    elif plan.repository:
        repo, tag = plan.repository, plan.tag
    else:
        return [
            Check(
                "image",
                Status.WARN,
                "the stack's repository does not exist before the deploy",
                f"push the image with scripts/push-image.sh (tag {plan.tag!r}) before "
                "submitting jobs",
            )
        ]
    want = "amd64" if plan.architecture == "x86_64" else "arm64"
    try:
        resp = client.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": tag}])
    except _client_error() as err:
        if _error_code(err) != "RepositoryNotFoundException":
            raise
        return [
            Check(
                "image",
                Status.FAIL,
                f"ECR repository {repo} does not exist: CannotPullContainerError",
                "create the repository and push the image (scripts/push-image.sh)",
                _ECR,
            )
        ]
    images = resp.get("images", [])
    if not images:
        return [
            Check(
                "image",
                Status.FAIL,
                f"{repo}:{tag} is not in ECR: every job fails with CannotPullContainerError",
                f"push the image: scripts/push-image.sh (it builds for linux/{want})",
                _ECR,
            )
        ]
    manifest = json.loads(images[0].get("imageManifest") or "{}")
    platforms = _platforms(manifest)
    if platforms and want not in platforms:
        return [
            Check(
                "image",
                Status.FAIL,
                f"{repo}:{tag} is built for {', '.join(platforms)}, the instances are "
                f"{plan.architecture}: jobs fail to start (exec format error / no matching "
                "manifest)",
                f"rebuild with docker buildx build --platform linux/{want}",
                _ECR,
            )
        ]
    detail = f"for linux/{want}" if platforms else "(single-platform manifest)"
    return [Check("image", Status.PASS, f"{repo}:{tag} is in ECR {detail}")]


# --------------------------------------------------------------------------- spot scores
def check_spot_scores(plan: Plan, client: Any) -> list[Check]:
    if plan.platform != "EC2" or plan.spot_max_vcpus <= 0:
        return []
    types, _ = _concrete_types(plan)
    if not types:
        return []
    resp = client.get_spot_placement_scores(
        InstanceTypes=types[:1000],
        TargetCapacity=plan.spot_max_vcpus,
        TargetCapacityUnitType="vcpu",
        SingleAvailabilityZone=False,
        RegionNames=[plan.region],
    )
    scores = [
        int(s["Score"])
        for s in resp.get("SpotPlacementScores", [])
        if s.get("Region") == plan.region
    ]
    if not scores:
        return [Check("spot-score", Status.WARN, f"no Spot placement score for {plan.region}")]
    score = max(scores)
    if score < SPOT_SCORE_THRESHOLD:
        return [
            Check(
                "spot-score",
                Status.WARN,
                f"Spot placement score {score}/10 for {plan.spot_max_vcpus} vCPU in {plan.region} "
                f"(below {SPOT_SCORE_THRESHOLD}): Spot capacity is likely short "
                "(CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY)",
                "add instance types and families, use more Availability Zones, or keep the "
                "On-Demand fallback",
                _SCORE,
            )
        ]
    return [
        Check(
            "spot-score",
            Status.PASS,
            f"Spot placement score {score}/10 for {plan.spot_max_vcpus} vCPU in {plan.region}",
        )
    ]
