"""``cfgen preflight`` and ``cfgen doctor``: argument parsing and exit codes only.

    cfgen preflight --template FILE [Key=Value ...] [--online] [--region R] [--format text|json]
    cfgen preflight --stack NAME [--region R] [--format text|json]
    cfgen doctor --stack NAME [--job ID] [--region R] [--format text|json]

Exit codes: 0 jobs can run, 1 a check says they cannot, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from cfgen.preflight.offline import (
    TemplateError,
    apply_parameters,
    load_template,
    offline_checks,
    parameter_values,
    parse_assignments,
)
from cfgen.preflight.report import Report

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", help="AWS region (default: the SDK's, else us-east-1)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _region(arg: str | None) -> str:
    return (
        arg or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ("us-east-1")
    )


def _session() -> Any:
    import boto3

    return boto3.Session()


def _emit(report: Report, fmt: str) -> int:
    sys.stdout.write(report.json() if fmt == "json" else report.text())
    return EXIT_OK if report.can_run else EXIT_FINDINGS


def _usage(prog: str, message: str) -> int:
    print(f"cfgen {prog}: error: {message}".replace("\n", " "), file=sys.stderr)
    return EXIT_USAGE


# --------------------------------------------------------------------------- preflight
def preflight_main(argv: list[str]) -> int:
    p = _Parser(
        prog="cfgen preflight",
        description=(
            "Will jobs run? Offline fit checks on a template (with Key=Value parameter values),"
            " and with --online or --stack read-only checks against the AWS account."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--template", metavar="FILE", help="a rendered template (YAML or JSON)")
    src.add_argument("--stack", metavar="NAME", help="a deployed stack: its template and values")
    p.add_argument("--online", action="store_true", help="with --template: also check the account")
    p.add_argument("parameters", nargs="*", metavar="Key=Value", help="parameter values")
    _common(p)
    try:
        args = p.parse_args(argv)
        if args.stack and args.parameters:
            raise _UsageError("Key=Value parameters go with --template; a stack has its own values")
        region = _region(args.region)
        if args.template:
            template = apply_parameters(
                load_template(args.template), parse_assignments(args.parameters)
            )
            title = f"cfgen preflight: {args.template} ({region})"
            stack_resources: dict[str, str] = {}
        else:
            template, stack_resources = _stack_template(args.stack, region)
            title = f"cfgen preflight: stack {args.stack} ({region})"
    except (_UsageError, TemplateError) as err:
        return _usage("preflight", str(err))
    report = Report(title)
    report.extend(offline_checks(template, region))
    if args.online or args.stack:
        from cfgen.preflight.online import run_checks

        report.extend(run_checks(plan_of(template, region, stack_resources), _session()))
    return _emit(report, args.format)


def _stack_template(name: str, region: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The stack's template with its deployed parameter values, and logical -> physical ids."""
    from botocore.exceptions import BotoCoreError, ClientError
    from cfnlint.decode import decode_str

    cfn = _session().client("cloudformation", region_name=region)
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        body = cfn.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
        resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
    except (BotoCoreError, ClientError) as err:
        raise _UsageError(f"stack={name!r}: {err}") from None
    if isinstance(body, str):
        template, _ = decode_str(body)
    else:
        template = body
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    known = {k: v for k, v in values.items() if k in (template.get("Parameters") or {})}
    physical = {
        str(r["LogicalResourceId"]): str(r.get("PhysicalResourceId", ""))
        for r in resources
        if r.get("LogicalResourceId")
    }
    return apply_parameters(template, known), physical


def plan_of(template: dict[str, Any], region: str, physical: dict[str, str]) -> Any:
    """What the template asks of the account, from cfgen's parameter names."""
    from cfgen import ec2, naming
    from cfgen.preflight.online import Plan

    values = parameter_values(template)
    resources = template.get("Resources") or {}
    kinds = {
        str((r.get("Properties") or {}).get("ComputeResources", {}).get("Type", "")).upper()
        for r in resources.values()
        if isinstance(r, dict) and r.get("Type") == "AWS::Batch::ComputeEnvironment"
    }
    platform = "FARGATE" if kinds and kinds <= {"FARGATE", "FARGATE_SPOT"} else "EC2"
    types = [t.strip() for t in values.get("InstanceTypes", "").split(",") if t.strip()]
    arch = next((a.value for t in types if (a := ec2.architecture(t))), "x86_64")
    sg = resources.get(naming.SECURITY_GROUP, {})
    egress = None
    security_groups: list[str] = []
    if physical.get(naming.SECURITY_GROUP):
        security_groups = [physical[naming.SECURITY_GROUP]]
    elif isinstance(sg, dict):
        egress = list((sg.get("Properties") or {}).get("SecurityGroupEgress") or [])

    def number(key: str) -> float:
        try:
            return float(values.get(key, "0") or 0)
        except ValueError:
            return 0.0

    return Plan(
        region=region,
        platform=platform,
        subnets=[s.strip() for s in values.get("SubnetIds", "").split(",") if s.strip()],
        instance_types=types,
        spot_max_vcpus=int(number("MaxvCpus")),
        on_demand_max_vcpus=int(number("OnDemandMaxvCpus")),
        job_vcpus=number("JobVcpus") or 1.0,
        architecture=arch,
        assign_public_ip=values.get("AssignPublicIp", "ENABLED") == "ENABLED",
        security_groups=security_groups,
        template_egress=egress,
        service_role_arn=values.get("ServiceRoleArn", ""),
        image=values.get("ContainerImage", ""),
        repository=physical.get(naming.REPOSITORY, "") or values.get("RepositoryName", ""),
        tag=values.get("ImageTag", "") or "latest",
        fargate_spot="FARGATE_SPOT" in kinds,
        # A deployed stack's endpoints are in the VPC already (DescribeVpcEndpoints);
        # a template's will be, once it is deployed.
        template_endpoints=[] if physical else template_endpoints(template, region, values),
        private_dns=any(
            isinstance(r, dict)
            and r.get("Type") == "AWS::EC2::VPCEndpoint"
            and (r.get("Properties") or {}).get("PrivateDnsEnabled") in (True, "true")
            for r in resources.values()
        ),
    )


def template_endpoints(template: dict[str, Any], region: str, values: dict[str, str]) -> list[Any]:
    """The AWS::EC2::VPCEndpoint resources of a template, as the route check reads them.

    ServiceName is a string or ``!Sub`` with ``${AWS::Region}`` (what cfgen
    renders); VpcEndpointType defaults to Gateway, as in CloudFormation; a
    gateway's RouteTableIds are a list or ``!Ref`` to a list parameter.
    Conditional endpoints, and names cfgen cannot resolve, are left out: the
    check then reports them missing rather than assume them.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-vpcendpoint.html
    """
    from cfgen.preflight.online import Endpoint

    prefix = f"com.amazonaws.{region}."
    out = []
    for res in (template.get("Resources") or {}).values():
        if not isinstance(res, dict) or res.get("Type") != "AWS::EC2::VPCEndpoint":
            continue
        if res.get("Condition"):
            continue
        props = res.get("Properties") or {}
        name = props.get("ServiceName")
        if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
            name = name["Fn::Sub"].replace("${AWS::Region}", region)
        if not isinstance(name, str) or not name.startswith(prefix):
            continue
        tables = None
        if str(props.get("VpcEndpointType", "Gateway")) == "Gateway":
            raw = props.get("RouteTableIds") or []
            if isinstance(raw, dict) and isinstance(raw.get("Ref"), str):
                raw = values.get(raw["Ref"], "").split(",")
            tables = frozenset(t.strip() for t in raw if isinstance(t, str) and t.strip())
        out.append(Endpoint(name[len(prefix) :], tables))
    return out


# --------------------------------------------------------------------------- doctor
def doctor_main(argv: list[str]) -> int:
    p = _Parser(
        prog="cfgen doctor",
        description=(
            "Why are jobs stuck or failing? A live stack's compute environments and queue, its"
            " RUNNABLE jobs with cause and fix, recent failed attempts with their last log lines."
        ),
    )
    p.add_argument("--stack", metavar="NAME", required=True)
    p.add_argument("--job", metavar="ID", help="look at one job only")
    p.add_argument("--log-lines", type=int, default=5, metavar="N", help="log lines per attempt")
    _common(p)
    try:
        args = p.parse_args(argv)
        if args.log_lines < 0:
            raise _UsageError(f"log-lines={args.log_lines}: must be 0 or more")
    except _UsageError as err:
        return _usage("doctor", str(err))
    from cfgen.preflight.doctor import DoctorError, diagnose

    region = _region(args.region)
    try:
        report = diagnose(
            _session(), args.stack, region=region, job_id=args.job, log_lines=args.log_lines
        )
    except DoctorError as err:
        return _usage("doctor", str(err))
    return _emit(report, args.format)
