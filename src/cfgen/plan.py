"""``cfgen plan --stack NAME``: what deploying a template to a live stack would do.

Creates a CloudFormation change set for the new template (never executes it),
and prints one Batch-aware summary that reconciles two views of the update:

* CloudFormation's: each ResourceChange of the change set (Action, Replacement,
  Details), which sees parameter values and the live stack;
* cfgen diff's (cfgen.diff): the create-only properties of the resource schemas
  and the Batch update rules (infrastructure updates, job interruptions), run
  on the deployed and the new template with the parameter values substituted.

Where the two disagree (one says replace, the other in place; a change only one
of them sees), the plan says so. For every compute environment or job queue
that is replaced, removed or interrupted it shows the live count of RUNNING and
RUNNABLE jobs, and it lists IAM and security-group changes as broadened
(permissions or traffic added) or narrowed (removed).

    cfgen plan --stack NAME [--profile P | --template FILE] [Key=Value ...]
               [--format text|json|markdown] [--json-out PATH] [--keep]
    cfgen plan --stack NAME --change-set ID [--template FILE]   (describe only)

The change set plan creates is deleted when the plan is printed (with a new
stack, the REVIEW_IN_PROGRESS stack that holds it too) unless ``--keep``;
``--change-set`` describes one somebody else created (scripts/deploy.sh) and
leaves it alone.

Exit codes: 0 nothing risky (no change, or changes in place / additions only);
1 a resource is replaced (or may be) or removed, or running jobs are
interrupted; 2 bad input (one line on stderr); 3 an AWS call failed or the
change set could not be created (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from cfgen import diff as cfgen_diff

EXIT_OK = 0
EXIT_RISKY = 1
EXIT_USAGE = 2
EXIT_AWS = 3

#: --require-approval levels, from never asking to asking on every change
#: (scripts/deploy.sh): each level asks in every case the level before it asks.
LEVELS = ("never", "replacement", "broadening", "any-change")

# TemplateBody accepts at most 51,200 bytes.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
TEMPLATE_BODY_MAX = 51200

# The reason a change set FAILS when the update changes nothing (AWS and moto
# both answer with one of these); it is a no-op plan, not an error.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")

# Resource policies whose statements grant access to a resource.
RESOURCE_POLICIES = {
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
}
SG = "AWS::EC2::SecurityGroup"
SG_RULES = {"AWS::EC2::SecurityGroupIngress": "ingress", "AWS::EC2::SecurityGroupEgress": "egress"}


class UsageError(Exception):
    """Bad input: one line, exit 2."""


class AwsError(Exception):
    """An AWS call failed or the change set could not be created: one line, exit 3."""


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class ResourcePlan:
    """One resource, both views and the reconciled verdict."""

    logical_id: str
    resource_type: str
    action: str  # add | modify | replace | conditional-replace | remove | dynamic
    cloudformation: str  # what the change set says, "-" when it does not list it
    cfgen: str  # what cfgen diff says, "-" when it reports nothing
    interrupts: str = ""  # why running jobs are disturbed, "" when they are not
    disagreement: str = ""
    physical_id: str = ""


@dataclass(frozen=True)
class JobCount:
    logical_id: str
    resource_type: str
    queue: str  # the queue counted (a CE's jobs are counted on the queues that use it)
    running: int | None
    runnable: int | None
    note: str = ""


@dataclass(frozen=True)
class PermissionChange:
    change: str  # broadened | narrowed
    resource: str  # logical ID and which policy
    effect: str
    action: str
    target: str  # resource (identity policy) or principal (trust / resource policy)
    condition: str = ""


@dataclass(frozen=True)
class RuleChange:
    change: str  # broadened | narrowed
    group: str
    direction: str  # ingress | egress
    protocol: str
    ports: str
    peer: str


@dataclass(frozen=True)
class Plan:
    stack: str
    change_set: str
    change_set_type: str  # CREATE | UPDATE
    status: str  # changes | no-changes
    resources: tuple[ResourcePlan, ...] = ()
    jobs: tuple[JobCount, ...] = ()
    iam: tuple[PermissionChange, ...] = ()
    security_groups: tuple[RuleChange, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def risky(self) -> bool:
        return any(
            r.action in {"replace", "conditional-replace", "remove"} or r.interrupts
            for r in self.resources
        )

    @property
    def broadening(self) -> bool:
        return any(c.change == "broadened" for c in self.iam) or any(
            c.change == "broadened" for c in self.security_groups
        )

    def approval_required(self, level: str) -> bool:
        """Does ``--require-approval LEVEL`` ask before executing this plan?"""
        if level == "never" or self.status == "no-changes":
            return False
        if level == "replacement":
            return self.risky
        if level == "broadening":
            return self.risky or self.broadening
        return bool(self.resources)

    def exit_code(self) -> int:
        return EXIT_RISKY if self.risky else EXIT_OK

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("add", "modify", "replace", "remove"), 0)
        for r in self.resources:
            key = "replace" if r.action == "conditional-replace" else r.action
            out[key] = out.get(key, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = {
            **self.counts(),
            "interrupts_jobs": any(r.interrupts for r in self.resources),
            "risky": self.risky,
            "broadening": self.broadening,
        }
        data["approval_required"] = {level: self.approval_required(level) for level in LEVELS}
        data["exit_code"] = self.exit_code()
        return data


# --------------------------------------------------------------------------- reconciling


_SEVERITY = {
    "add": 1,
    "modify": 2,
    "dynamic": 3,
    "conditional-replace": 4,
    "replace": 5,
    "remove": 6,
}


def _cfn_verdict(rc: dict[str, Any]) -> tuple[str, str]:
    """(verdict, description) of one ResourceChange.

    Replacement True/False/Conditional is CloudFormation's answer for Modify.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html
    """
    action = str(rc.get("Action", ""))
    if action in _ACTION_VERDICTS:
        return _ACTION_VERDICTS[action]
    return _REPLACEMENT_VERDICTS.get(
        str(rc.get("Replacement")), ("modify", "Modify, Replacement not reported")
    )


_ACTION_VERDICTS = {
    "Add": ("add", "Add"),
    "Remove": ("remove", "Remove"),
    "Dynamic": ("dynamic", "Dynamic (decided during the update)"),
    "Import": ("add", "Import"),
}
_REPLACEMENT_VERDICTS = {
    "True": ("replace", "Modify, Replacement: True"),
    "Conditional": ("conditional-replace", "Modify, Replacement: Conditional"),
    "False": ("modify", "Modify, Replacement: False"),
}


def _causes(rc: dict[str, Any]) -> str:
    """The changed properties of a ResourceChange, with what caused them and recreation."""
    names = []
    for detail in rc.get("Details") or []:
        target = detail.get("Target") or {}
        name = target.get("Path") or target.get("Name") or target.get("Attribute")
        if not name:
            continue
        if detail.get("CausingEntity"):
            name += f" <- {detail['CausingEntity']}"
        if target.get("RequiresRecreation") in {"Always", "Conditionally"}:
            name += f" (RequiresRecreation {target['RequiresRecreation']})"
        names.append(name)
    return ", ".join(dict.fromkeys(names))


def reconcile(
    cfn_changes: Sequence[dict[str, Any]],
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    change_set_type: str,
) -> tuple[list[ResourcePlan], list[str]]:
    """The reconciled resource list, and notes about the views (in logical-ID order)."""
    cfn = {str(rc.get("LogicalResourceId")): rc for rc in cfn_changes}
    ours: dict[str, list[cfgen_diff.Change]] = {}
    for change in cfgen_diff.diff(old, new):
        ours.setdefault(change.logical_id, []).append(change)
    notes: list[str] = []
    if any(rc.get("Action") == "Modify" and "Replacement" not in rc for rc in cfn_changes):
        notes.append(
            "CloudFormation did not say whether modified resources are replaced (an emulator's "
            "change set); their verdict is cfgen diff's"
        )
    out: list[ResourcePlan] = []
    for lid in sorted(set(cfn) | set(ours)):
        rc = cfn.get(lid)
        mine = ours.get(lid, [])
        kinds = [c.kind for c in mine]
        rtype = str(rc.get("ResourceType")) if rc else mine[0].resource_type
        cg_verdict = (
            "remove"
            if "REMOVE" in kinds
            else "replace"
            if "REPLACE" in kinds
            else "add"
            if "ADD" in kinds
            else "modify"
            if "INTERRUPT" in kinds
            else ""
        )
        # Its own words for replacements and removals; interruptions have their section.
        cg_parts = [f"{c.kind} {c.reason}" for c in mine if c.kind in {"REPLACE", "REMOVE"}]
        cg_parts += ["INTERRUPT"] if "INTERRUPT" in kinds else []
        cg_text = "; ".join(cg_parts) or ("ADD" if kinds else "-")
        if rc is None:
            verdict, cfn_text = cg_verdict, "-"
            disagreement = (
                f"cfgen diff reports {cg_verdict}, but the change set does not list it"
                if change_set_type == "UPDATE" and cg_verdict
                else ""
            )
        else:
            verdict, cfn_text = _cfn_verdict(rc)
            if causes := _causes(rc):
                cfn_text += f" ({causes})"
            disagreement = _disagreement(verdict, cg_verdict, "Replacement" in rc)
            if cg_verdict and _SEVERITY.get(cg_verdict, 0) > _SEVERITY.get(verdict, 0):
                verdict = cg_verdict
        interrupts = "; ".join(c.reason for c in mine if c.kind == "INTERRUPT")
        if not interrupts and rtype == cfgen_diff.CE and verdict in {"replace", "remove"}:
            interrupts = "the old compute environment is deleted and its instances terminated"
        if rtype == cfgen_diff.JQ and verdict in {"replace", "remove"}:
            # https://docs.aws.amazon.com/batch/latest/APIReference/API_DeleteJobQueue.html
            interrupts = "deleting the old job queue terminates the jobs in it"
        out.append(
            ResourcePlan(
                logical_id=lid,
                resource_type=rtype,
                action=verdict or "modify",
                cloudformation=cfn_text,
                cfgen=cg_text,
                interrupts=interrupts,
                disagreement=disagreement,
                physical_id=str(rc.get("PhysicalResourceId") or "") if rc else "",
            )
        )
    return out, notes


def _disagreement(cfn: str, ours: str, reported: bool) -> str:
    replacing = {"replace", "conditional-replace"}
    if cfn in replacing and ours not in replacing and ours != "remove":
        return (
            "CloudFormation replaces it; cfgen diff sees no create-only change (a property "
            "cfgen does not model, or a value known only to CloudFormation)"
        )
    if ours == "replace" and cfn == "modify" and reported:
        return "cfgen diff expects a replacement; CloudFormation says Replacement: False"
    if ours in {"add", "remove"} and cfn not in {ours, "dynamic"}:
        return f"cfgen diff reports {ours}; CloudFormation reports {cfn}"
    return ""


# --------------------------------------------------------------------------- parameters


def resolve_parameters(template: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A copy of TEMPLATE with ``Ref: Param`` replaced by the parameter's value.

    cfgen diff compares templates; substituting the deployed and the new values
    lets it see a parameter-driven change (InstanceTypes, MaxvCpus) too. Lists
    (CommaDelimitedList, List<...>) become YAML lists; unknown values (NoEcho)
    stay references.
    """
    params = template.get("Parameters")
    params = params if isinstance(params, dict) else {}
    typed: dict[str, Any] = {}
    for key, spec in params.items():
        value = values.get(key)
        if value is None and isinstance(spec, dict) and "Default" in spec:
            value = str(spec["Default"])
        if value is None or value == "****":
            continue
        ptype = str(spec.get("Type", "String")) if isinstance(spec, dict) else "String"
        if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
            # "a,b" from AWS; moto shows a list parameter as "['a', 'b']".
            items = value.strip("[]").split(",") if value else []
            typed[key] = [v.strip().strip("'\"") for v in items if v.strip()]
        else:
            typed[key] = value

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in typed:
                return typed[node["Ref"]]
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = dict(template)
    if isinstance(template.get("Resources"), dict):
        out["Resources"] = walk(template["Resources"])
    return out


# --------------------------------------------------------------------------- IAM, security groups


def _compact(value: Any) -> str:
    """A short, stable spelling of a (possibly intrinsic) value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"!Ref {arg}"
        if key == "Fn::GetAtt":
            return "!GetAtt " + (".".join(map(str, arg)) if isinstance(arg, list) else str(arg))
        if key == "Fn::Sub":
            return f"!Sub {arg[0] if isinstance(arg, list) else arg}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principals(value: Any) -> list[str]:
    if isinstance(value, dict) and not any(k.startswith("Fn::") or k == "Ref" for k in value):
        return [f"{kind}:{_compact(p)}" for kind, ps in sorted(value.items()) for p in _as_list(ps)]
    return [_compact(value)] if value is not None else []


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _grants(where: str, document: Any, *, trust: bool = False) -> set[tuple[str, ...]]:
    """(where, effect, action, target, condition) for every action x resource/principal."""
    out: set[tuple[str, ...]] = set()
    for st in _statements(document):
        effect = str(st.get("Effect", "Allow"))
        condition = _compact(st["Condition"]) if "Condition" in st else ""
        actions = [_compact(a) for a in _as_list(st.get("Action") or st.get("NotAction"))]
        if "NotAction" in st:
            actions = [f"NOT {a}" for a in actions]
        targets = _principals(st.get("Principal")) if ("Principal" in st or trust) else []
        if not targets:
            targets = [_compact(r) for r in _as_list(st.get("Resource") or st.get("NotResource"))]
        for action in actions or ["-"]:
            for target in targets or ["-"]:
                out.add((where, effect, action, target, condition))
    return out


def iam_grants(template: dict[str, Any]) -> set[tuple[str, ...]]:
    """Every IAM grant of a template: role trust, inline, managed, resource policies."""
    out: set[tuple[str, ...]] = set()
    resources = template.get("Resources")
    for lid, res in (resources if isinstance(resources, dict) else {}).items():
        if not isinstance(res, dict):
            continue
        rtype, props = res.get("Type"), cfgen_diff._props(res)
        if rtype == "AWS::IAM::Role":
            out |= _grants(f"{lid} trust policy", props.get("AssumeRolePolicyDocument"), trust=True)
            for policy in _as_list(props.get("Policies")):
                if isinstance(policy, dict):
                    name = _compact(policy.get("PolicyName"))
                    out |= _grants(f"{lid} policy {name}", policy.get("PolicyDocument"))
            for arn in _as_list(props.get("ManagedPolicyArns")):
                out.add((f"{lid} managed policies", "Allow", "(managed policy)", _compact(arn), ""))
        elif rtype in RESOURCE_POLICIES:
            for prop in RESOURCE_POLICIES[str(rtype)]:
                out |= _grants(f"{lid} {prop}", props.get(prop))
            if rtype in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
                for kind in ("Roles", "Users", "Groups"):
                    for who in _as_list(props.get(kind)):
                        out.add((f"{lid} attachment", "Allow", "(attach)", _compact(who), ""))
    return out


def iam_changes(old: dict[str, Any], new: dict[str, Any]) -> list[PermissionChange]:
    """Grants added (Allow: broadened, Deny: narrowed) and removed (the opposite)."""
    before, after = iam_grants(old), iam_grants(new)
    out = []
    for grant, added in [(g, True) for g in after - before] + [(g, False) for g in before - after]:
        where, effect, action, target, condition = grant
        broadened = added == (effect == "Allow")
        out.append(
            PermissionChange(
                "broadened" if broadened else "narrowed", where, effect, action, target, condition
            )
        )
    return sorted(out, key=lambda c: (c.change, c.resource, c.action, c.target))


def _rule(direction: str, rule: dict[str, Any]) -> tuple[str, str, str, str]:
    protocol = _compact(rule.get("IpProtocol", "-1"))
    protocol = "all" if protocol == "-1" else protocol
    lo, hi = rule.get("FromPort"), rule.get("ToPort")
    ports = (
        "all"
        if lo is None or protocol == "all"
        else (_compact(lo) if lo == hi else f"{_compact(lo)}-{_compact(hi)}")
    )
    peer = next(
        (
            _compact(rule[key])
            for key in (
                "CidrIp",
                "CidrIpv6",
                "SourceSecurityGroupId",
                "DestinationSecurityGroupId",
                "SourcePrefixListId",
                "DestinationPrefixListId",
            )
            if key in rule
        ),
        "-",
    )
    return direction, protocol, str(ports), peer


def sg_rules(template: dict[str, Any]) -> set[tuple[str, ...]]:
    """(group, direction, protocol, ports, peer) of every security-group rule.

    A VPC security group without SecurityGroupEgress gets AWS's default rule
    allowing all outbound traffic; naming any egress rule removes that default.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html
    """
    out: set[tuple[str, ...]] = set()
    resources = template.get("Resources")
    for lid, res in (resources if isinstance(resources, dict) else {}).items():
        if not isinstance(res, dict):
            continue
        rtype, props = res.get("Type"), cfgen_diff._props(res)
        if rtype == SG:
            for direction, key in (
                ("ingress", "SecurityGroupIngress"),
                ("egress", "SecurityGroupEgress"),
            ):
                for rule in _as_list(props.get(key)):
                    if isinstance(rule, dict):
                        out.add((lid, *_rule(direction, rule)))
            if "SecurityGroupEgress" not in props and "VpcId" in props:
                out.add((lid, "egress", "all", "all", "0.0.0.0/0 (AWS default rule)"))
        elif rtype in SG_RULES:
            group = props.get("GroupId")
            name = group["Ref"] if isinstance(group, dict) and "Ref" in group else _compact(group)
            out.add((str(name), *_rule(SG_RULES[str(rtype)], props)))
    return out


def sg_changes(old: dict[str, Any], new: dict[str, Any]) -> list[RuleChange]:
    before, after = sg_rules(old), sg_rules(new)
    out = [RuleChange("broadened", *rule) for rule in after - before]
    out += [RuleChange("narrowed", *rule) for rule in before - after]
    return sorted(out, key=lambda c: (c.change, c.group, c.direction, c.peer, c.ports))


# --------------------------------------------------------------------------- AWS


def _clients() -> tuple[Any, Any]:
    """CloudFormation and Batch clients; AWS_ENDPOINT_URL, AWS_REGION are honoured by boto3."""
    import boto3
    from botocore.exceptions import NoRegionError

    session = boto3.Session(region_name=os.environ.get("AWS_REGION") or None)
    try:
        return session.client("cloudformation"), session.client("batch")
    except NoRegionError:
        raise UsageError(
            "AWS_REGION: not set (and no region in the AWS profile); set AWS_REGION or"
            " AWS_DEFAULT_REGION"
        ) from None


def _call(what: str, func: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return func(**kwargs)
    except ClientError as err:
        message = err.response.get("Error", {}).get("Message") or str(err)
        raise AwsError(f"{what} failed: {message}") from None
    except BotoCoreError as err:
        raise AwsError(f"{what} failed: {err}") from None


def _decode(body: Any, what: str, error: type[Exception] = AwsError) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    from cfnlint.decode import decode_str

    template, errors = decode_str(str(body))
    if errors or not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        detail = f" ({errors[0].message})" if errors else ""
        raise error(f"{what}: not a CloudFormation template with Resources{detail}")
    return template


def _stack(cfn: Any, stack: str) -> dict[str, Any] | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return dict(cfn.describe_stacks(StackName=stack)["Stacks"][0])
    except ClientError as err:
        if "does not exist" in str(err):
            return None
        raise AwsError(f"describe-stacks {stack} failed: {err}") from None
    except BotoCoreError as err:
        raise AwsError(f"describe-stacks {stack} failed: {err}") from None


def _wait_for_change_set(cfn: Any, stack: str, change_set: str, timeout: float) -> dict[str, Any]:
    poll = float(os.environ.get("CFGEN_POLL_SECONDS", "2"))
    start = time.monotonic()
    while True:
        desc = _call(
            "describe-change-set",
            cfn.describe_change_set,
            StackName=stack,
            ChangeSetName=change_set,
        )
        if desc.get("Status") not in {"CREATE_PENDING", "CREATE_IN_PROGRESS"}:
            break
        if time.monotonic() - start > timeout:
            raise AwsError(
                f"change set {change_set} still {desc.get('Status')} after {timeout:.0f}s"
            )
        time.sleep(poll)
    changes = list(desc.get("Changes") or [])
    token = desc.get("NextToken")
    while token:
        page = _call(
            "describe-change-set",
            cfn.describe_change_set,
            StackName=stack,
            ChangeSetName=change_set,
            NextToken=token,
        )
        changes += page.get("Changes") or []
        token = page.get("NextToken")
    return {**desc, "Changes": changes}


def _count(batch: Any, queue: str, status: str, cap: int = 1000) -> int | None:
    from botocore.exceptions import BotoCoreError, ClientError

    total, token = 0, None
    try:
        while True:
            kwargs: dict[str, Any] = {"jobQueue": queue, "jobStatus": status, "maxResults": 100}
            if token:
                kwargs["nextToken"] = token
            page = batch.list_jobs(**kwargs)
            total += len(page.get("jobSummaryList") or [])
            token = page.get("nextToken")
            if not token or total >= cap:
                return total
    except (ClientError, BotoCoreError):
        return None


def live_jobs(cfn: Any, batch: Any, stack: str, affected: Sequence[ResourcePlan]) -> list[JobCount]:
    """RUNNING / RUNNABLE jobs on each affected queue, and on the queues of each affected CE.

    ListJobs filters by queue, so a compute environment's jobs are counted on
    every queue of this stack whose ComputeEnvironmentOrder names it.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html
    """
    from botocore.exceptions import BotoCoreError, ClientError

    wanted = [r for r in affected if r.resource_type in {cfgen_diff.CE, cfgen_diff.JQ}]
    if not wanted:
        return []
    try:
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    except (ClientError, BotoCoreError):
        resources = []
    physical = {
        str(r.get("LogicalResourceId")): str(r.get("PhysicalResourceId") or "") for r in resources
    }
    queues = {
        str(r.get("LogicalResourceId")): str(r.get("PhysicalResourceId"))
        for r in resources
        if r.get("ResourceType") == cfgen_diff.JQ and r.get("PhysicalResourceId")
    }

    order: dict[str, list[str]] = {}
    if queues:
        try:
            described = batch.describe_job_queues(jobQueues=list(queues.values()))["jobQueues"]
        except (ClientError, BotoCoreError):
            described = []
        for q in described:
            for ce in q.get("computeEnvironmentOrder") or []:
                order.setdefault(str(ce.get("computeEnvironment")), []).append(
                    str(q["jobQueueArn"])
                )
    out: list[JobCount] = []
    cache: dict[str, tuple[int | None, int | None]] = {}

    def counts(queue: str) -> tuple[int | None, int | None]:
        if queue not in cache:
            cache[queue] = (_count(batch, queue, "RUNNING"), _count(batch, queue, "RUNNABLE"))
        return cache[queue]

    for r in wanted:
        pid = physical.get(r.logical_id) or r.physical_id
        if not pid:
            out.append(JobCount(r.logical_id, r.resource_type, "-", None, None, "not deployed yet"))
        elif r.resource_type == cfgen_diff.JQ:
            out.append(JobCount(r.logical_id, r.resource_type, pid, *counts(pid)))
        else:
            using = order.get(pid) or [
                arn for ce, arns in order.items() if ce.endswith("/" + pid) for arn in arns
            ]
            if not using:
                out.append(
                    JobCount(r.logical_id, r.resource_type, "-", None, None, "no queue found")
                )
            for queue in using:
                out.append(JobCount(r.logical_id, r.resource_type, queue, *counts(queue)))
    return out


def _template_text(args: argparse.Namespace) -> str:
    if args.template:
        path = Path(args.template)
        if not path.is_file():
            raise UsageError(f"--template: {args.template!r} is not a readable file")
        return path.read_text(encoding="utf-8")
    from cfgen.config import ConfigError, load_profile
    from cfgen.render import render

    try:
        return render(load_profile(args.profile or "default"))
    except ConfigError as err:
        raise UsageError(str(err)) from None


def _check_given(new: dict[str, Any], given: dict[str, str]) -> None:
    raw = new.get("Parameters")
    declared: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for key in given:
        if key not in declared:
            raise UsageError(
                f"parameter {key!r}: not a parameter of the template "
                f"(it has: {', '.join(declared)})"
            )


def _parameters(
    new: dict[str, Any], stack: dict[str, Any] | None, given: dict[str, str]
) -> list[dict[str, Any]]:
    """Given values; every other parameter the stack has keeps its previous value."""
    raw = new.get("Parameters")
    declared: dict[str, Any] = raw if isinstance(raw, dict) else {}
    _check_given(new, given)
    previous = {p["ParameterKey"] for p in (stack or {}).get("Parameters") or []}
    out: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]
    out += [
        {"ParameterKey": k, "UsePreviousValue": True}
        for k in declared
        if k not in given and k in previous
    ]
    return out


def make_plan(args: argparse.Namespace) -> Plan:
    # The new template first: bad input fails before any AWS call.
    text = _template_text(args) if (args.template or args.change_set is None) else ""
    if len(text.encode("utf-8")) > TEMPLATE_BODY_MAX:
        raise UsageError(
            f"template: {len(text.encode())} bytes; a change set's TemplateBody takes at most "
            f"{TEMPLATE_BODY_MAX}"
        )
    new = _decode(text, "template", UsageError) if text else {"Resources": {}}
    _check_given(new, dict(args.parameters))
    cfn, batch = _clients()
    stack = _stack(cfn, args.stack)
    exists = stack is not None and stack.get("StackStatus") != "REVIEW_IN_PROGRESS"
    old: dict[str, Any] = {"Resources": {}}
    old_values: dict[str, str] = {}
    if exists:
        body = _call(
            "get-template",
            cfn.get_template,
            StackName=args.stack,
            TemplateStage="Original",
        )["TemplateBody"]
        old = _decode(body, f"the template of stack {args.stack}")
        old_values = {
            p["ParameterKey"]: str(p.get("ParameterValue", ""))
            for p in (stack or {}).get("Parameters") or []
        }
    created = args.change_set is None
    if created:
        cs_type = "UPDATE" if exists else "CREATE"
        name = f"cfgen-plan-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        # CAPABILITY_IAM: the templates create IAM roles without names.
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
        try:
            made = _call(
                "create-change-set",
                cfn.create_change_set,
                StackName=args.stack,
                ChangeSetName=name,
                ChangeSetType=cs_type,
                TemplateBody=text,
                Parameters=_parameters(new, stack if exists else None, dict(args.parameters)),
                Capabilities=["CAPABILITY_IAM"],
                Description="cfgen plan (never executed by cfgen plan)",
            )
        except AwsError as err:
            # moto refuses an unchanged update in CreateChangeSet itself (AWS
            # creates the change set and FAILS it): the same no-op plan.
            if any(marker in str(err) for marker in NO_CHANGES):
                return Plan(args.stack, name, cs_type, "no-changes", notes=(str(err),))
            raise
        change_set = str(made["Id"])
    else:
        change_set = str(args.change_set)
        cs_type = "UPDATE" if exists else "CREATE"
        if not text:
            new = _decode(
                _call(
                    "get-template",
                    cfn.get_template,
                    StackName=args.stack,
                    ChangeSetName=change_set,
                    TemplateStage="Original",
                )["TemplateBody"],
                f"the template of change set {change_set}",
            )
    try:
        desc = _wait_for_change_set(cfn, args.stack, change_set, args.timeout)
        given = dict(args.parameters) if created else {}
        plan = _plan_from(args.stack, cs_type, desc, old, new, old_values, given, cfn, batch)
    finally:
        if created and not args.keep:
            # A new stack's REVIEW_IN_PROGRESS stack goes too, but only if plan made it.
            _discard(cfn, args.stack, change_set, delete_stack=stack is None)
    return plan


def _discard(cfn: Any, stack: str, change_set: str, *, delete_stack: bool) -> None:
    """Delete the plan's change set; with DELETE_STACK, the REVIEW_IN_PROGRESS stack too."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
        if delete_stack:
            # A CREATE change set makes a stack in REVIEW_IN_PROGRESS that holds
            # it; it stays (empty) until it is deleted.
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
            cfn.delete_stack(StackName=stack)
    except (ClientError, BotoCoreError) as err:
        print(
            f"cfgen plan: warning: could not delete change set {change_set}: {err}", file=sys.stderr
        )


def _plan_from(  # noqa: PLR0917
    stack: str,
    cs_type: str,
    desc: dict[str, Any],
    old: dict[str, Any],
    new: dict[str, Any],
    old_values: dict[str, str],
    given: dict[str, str],
    cfn: Any,
    batch: Any,
) -> Plan:
    name = str(desc.get("ChangeSetName") or desc.get("ChangeSetId") or "")
    if desc.get("Status") == "FAILED":
        reason = str(desc.get("StatusReason") or "")
        if any(marker in reason for marker in NO_CHANGES):
            return Plan(stack, name, cs_type, "no-changes", notes=(reason,))
        raise AwsError(f"change set {name} failed: {reason or 'no reason given'}")
    cfn_changes = [
        c["ResourceChange"] for c in desc.get("Changes") or [] if c.get("ResourceChange")
    ]
    # The change set's parameters (AWS lists every one, resolved), then the values
    # plan was given; the rest keep their deployed values.
    new_values = dict(old_values)
    for p in desc.get("Parameters") or []:
        if "ParameterValue" in p:
            new_values[str(p["ParameterKey"])] = str(p["ParameterValue"])
    new_values.update(given)
    resources, notes = reconcile(
        cfn_changes,
        resolve_parameters(old, old_values),
        resolve_parameters(new, new_values),
        change_set_type=cs_type,
    )
    affected = [r for r in resources if r.interrupts or r.action in {"replace", "remove"}]
    jobs = live_jobs(cfn, batch, stack, affected) if cs_type == "UPDATE" else []
    if any(j.running is None and j.note == "" for j in jobs):
        notes.append("some job counts are unknown: ListJobs failed (permissions or endpoint)")
    return Plan(
        stack=stack,
        change_set=name,
        change_set_type=cs_type,
        status="changes" if resources else "no-changes",
        resources=tuple(resources),
        jobs=tuple(jobs),
        iam=tuple(iam_changes(old, new)),
        security_groups=tuple(sg_changes(old, new)),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- output


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], indent: str = "  ") -> list[str]:
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]
    return lines


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def _summary(plan: Plan) -> str:
    if plan.status == "no-changes":
        return "no changes: executing would change nothing"
    c = plan.counts()
    parts = [f"{c['add']} to add", f"{c['modify']} to change in place"]
    parts += [f"{c['replace']} to replace", f"{c['remove']} to remove"]
    line = ", ".join(parts)
    if any(r.interrupts for r in plan.resources):
        line += "; interrupts running jobs"
    if plan.broadening:
        line += "; broadens IAM or security-group access"
    return line


def to_text(plan: Plan) -> str:
    lines = [
        f"Plan for stack {plan.stack} ({plan.change_set_type} change set {plan.change_set}; "
        "not executed)",
        "",
    ]
    if plan.resources:
        lines.append("Resources (CloudFormation's change set and cfgen diff, reconciled):")
        lines += _table(
            ("ACTION", "RESOURCE", "TYPE", "CLOUDFORMATION", "CFGEN DIFF"),
            (
                (r.action, r.logical_id, r.resource_type, r.cloudformation, r.cfgen)
                for r in plan.resources
            ),
        )
        lines.append("")
    disagreements = [r for r in plan.resources if r.disagreement]
    if disagreements:
        lines.append("Where the views disagree:")
        lines += [f"  {r.logical_id}: {r.disagreement}" for r in disagreements]
        lines.append("")
    interrupting = [r for r in plan.resources if r.interrupts]
    if interrupting:
        lines.append("Interrupts running jobs:")
        lines += [f"  {r.logical_id}: {r.interrupts}" for r in interrupting]
        lines.append("")
    if plan.jobs:
        lines.append("Live jobs on the affected queues:")
        lines += _table(
            ("RESOURCE", "QUEUE", "RUNNING", "RUNNABLE", "NOTE"),
            ((j.logical_id, j.queue, _n(j.running), _n(j.runnable), j.note) for j in plan.jobs),
        )
        lines.append("")
    if plan.iam:
        lines.append("IAM changes:")
        lines += _table(
            ("CHANGE", "WHERE", "EFFECT", "ACTION", "RESOURCE/PRINCIPAL", "CONDITION"),
            ((c.change, c.resource, c.effect, c.action, c.target, c.condition) for c in plan.iam),
        )
        lines.append("")
    if plan.security_groups:
        lines.append("Security-group changes:")
        lines += _table(
            ("CHANGE", "GROUP", "DIRECTION", "PROTOCOL", "PORTS", "PEER"),
            (
                (c.change, c.group, c.direction, c.protocol, c.ports, c.peer)
                for c in plan.security_groups
            ),
        )
        lines.append("")
    lines += [f"Note: {n}" for n in plan.notes]
    lines.append(f"Summary: {_summary(plan)}")
    return "\n".join(lines) + "\n"


def _md(value: str) -> str:
    return value.replace("|", "\\|") or " "


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(str(c)) for c in r) + " |" for r in rows]
    return [*lines, ""]


def to_markdown(plan: Plan) -> str:
    lines = [
        f"### cfgen plan: stack `{plan.stack}`",
        "",
        f"{plan.change_set_type} change set `{plan.change_set}` (not executed). "
        f"**{_summary(plan)}**",
        "",
    ]
    if plan.resources:
        lines += _md_table(
            ("Action", "Resource", "Type", "CloudFormation", "cfgen diff"),
            (
                (
                    f"**{r.action}**" if r.action != "add" else r.action,
                    f"`{r.logical_id}`",
                    r.resource_type,
                    r.cloudformation,
                    r.cfgen,
                )
                for r in plan.resources
            ),
        )
    for r in plan.resources:
        if r.disagreement:
            lines.append(f"- :warning: `{r.logical_id}`: {r.disagreement}")
    for r in plan.resources:
        if r.interrupts:
            lines.append(f"- :stop_sign: `{r.logical_id}` interrupts running jobs: {r.interrupts}")
    if any(r.disagreement or r.interrupts for r in plan.resources):
        lines.append("")
    if plan.jobs:
        lines += ["#### Live jobs on the affected queues", ""]
        lines += _md_table(
            ("Resource", "Queue", "RUNNING", "RUNNABLE", "Note"),
            (
                (f"`{j.logical_id}`", j.queue, _n(j.running), _n(j.runnable), j.note)
                for j in plan.jobs
            ),
        )
    if plan.iam:
        lines += ["#### IAM changes", ""]
        lines += _md_table(
            ("Change", "Where", "Effect", "Action", "Resource/principal", "Condition"),
            (
                (c.change, c.resource, c.effect, f"`{c.action}`", f"`{c.target}`", c.condition)
                for c in plan.iam
            ),
        )
    if plan.security_groups:
        lines += ["#### Security-group changes", ""]
        lines += _md_table(
            ("Change", "Group", "Direction", "Protocol", "Ports", "Peer"),
            (
                (c.change, c.group, c.direction, c.protocol, c.ports, c.peer)
                for c in plan.security_groups
            ),
        )
    lines += [f"> {n}" for n in plan.notes]
    return "\n".join(lines).rstrip() + "\n"


def render_plan(plan: Plan, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(plan.to_json(), indent=2) + "\n"
    if fmt == "markdown":
        return to_markdown(plan)
    return to_text(plan)


# --------------------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_KEY = re.compile(r"^[A-Za-z0-9]{1,255}$")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not _KEY.match(key):
        raise argparse.ArgumentTypeError(f"parameter {text!r}: not Key=Value")
    return key, value


def parser() -> _Parser:
    p = _Parser(
        prog="cfgen plan",
        description=(
            "Create a change set for a stack (never executed), and print what it would add, "
            "change, replace or remove, which changes interrupt running jobs (with live job "
            "counts), and IAM / security-group changes. Exit 0 nothing risky, 1 a replacement, "
            "removal or job interruption, 2 bad input, 3 an AWS call failed."
        ),
    )
    p.add_argument("--stack", required=True, help="stack name (need not exist yet)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--profile", help="profile to render (default: default)")
    source.add_argument("--template", help="template file to plan instead of a profile")
    p.add_argument(
        "--change-set",
        metavar="ID",
        help="describe this existing change set instead of creating one (left as it is)",
    )
    p.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output format"
    )
    p.add_argument("--json-out", metavar="PATH", help="also write the plan as JSON to PATH")
    p.add_argument(
        "--keep", action="store_true", help="keep the change set (prints its ID); default: delete"
    )
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for the change set (600)"
    )
    p.add_argument(
        "parameters",
        nargs="*",
        type=_key_value,
        metavar="Key=Value",
        help="parameter values; others keep the stack's values (or their defaults)",
    )
    return p


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
        if not _STACK_NAME.match(args.stack):
            raise UsageError(
                f"--stack: {args.stack!r} is not a stack name (a letter, then letters, digits "
                "or -, at most 128)"
            )
        if args.change_set and args.profile:
            raise UsageError("--profile: cannot be used with --change-set (it is already made)")
        if args.change_set and args.parameters:
            raise UsageError("Key=Value: cannot be used with --change-set (it is already made)")
        if args.json_out and not Path(args.json_out).parent.is_dir():
            raise UsageError(f"--json-out: folder of {args.json_out!r} does not exist")
        cfgen_diff.check_cfn_lint()
        plan = make_plan(args)
    except (UsageError, cfgen_diff.UsageError) as err:
        print(f"cfgen plan: {err}".replace("\n", " "), file=sys.stderr)
        return EXIT_USAGE
    except AwsError as err:
        print(f"cfgen plan: {err}".replace("\n", " "), file=sys.stderr)
        return EXIT_AWS
    if args.json_out:
        Path(args.json_out).write_text(render_plan(plan, "json"), encoding="utf-8")
    sys.stdout.write(render_plan(plan, args.format))
    if args.keep and args.change_set is None:
        print(f"kept change set {plan.change_set}", file=sys.stderr)
    return plan.exit_code()
