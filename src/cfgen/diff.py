"""``python -m cfgen diff OLD NEW``: what updating a stack from OLD to NEW would do.

Reports, per resource:

* ``REPLACE``   CloudFormation would replace it: a create-only property changed
  (from the resource schemas cfn-lint bundles), its Type changed, or, for a
  Batch compute environment, a property that needs an infrastructure update
  changed while the CE cannot do one (custom ServiceRole, or an allocation
  strategy other than BEST_FIT_PROGRESSIVE / SPOT_*), or a Fargate CE changed
  anything but its subnets and security groups, so Batch replaces it;
* ``REMOVE``    it is gone from NEW (deleted with the update);
* ``INTERRUPT`` the update disturbs running jobs: a compute environment is
  replaced or removed (its instances terminate), or an infrastructure update
  replaces its instances (jobs are stopped when TerminateJobsOnUpdate is true,
  or after JobExecutionTimeoutMinutes, 30 by default);
* ``ADD``       new in NEW (for information).

Exit codes: 0 nothing risky, 1 a compute environment or job queue would be
replaced or removed, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cfgen import clikit, ec2
from cfgen.clikit import EXIT_OK, EXIT_USAGE, Parser, UsageError

EXIT_RISKY = 1
__all__ = ["EXIT_OK", "EXIT_RISKY", "EXIT_USAGE", "Change", "UsageError", "diff", "load", "main"]

CE = "AWS::Batch::ComputeEnvironment"
JQ = "AWS::Batch::JobQueue"
LT = "AWS::EC2::LaunchTemplate"

# ComputeResources properties whose change needs an infrastructure update:
# in place (instances replaced) when the CE supports it, replacement otherwise.
# https://docs.aws.amazon.com/batch/latest/userguide/infrastructure-updates.html
INFRA_UPDATE_PROPERTIES = (
    "Type",  # EC2 <-> SPOT; anything involving Fargate is a replacement
    "AllocationStrategy",
    "BidPercentage",
    "Ec2Configuration",
    "Ec2KeyPair",
    "ImageId",
    "InstanceRole",
    "InstanceTypes",
    "LaunchTemplate",
    "PlacementGroup",
    "SecurityGroupIds",
    "Subnets",
    "Tags",
    "UpdateToLatestImageVersion",
)
# What a Fargate compute environment can change in place (no instances to replace).
# https://docs.aws.amazon.com/batch/latest/userguide/updating-compute-environments.html
FARGATE_IN_PLACE = frozenset({"SecurityGroupIds", "Subnets"})
FARGATE_TYPES = frozenset({"FARGATE", "FARGATE_SPOT"})
INFRA_UPDATE_STRATEGIES = ec2.INFRA_UPDATE_STRATEGIES


@dataclass(frozen=True)
class Change:
    kind: str  # REPLACE | REMOVE | INTERRUPT | ADD
    logical_id: str
    resource_type: str
    reason: str

    def line(self) -> str:
        return f"{self.kind:<9} {self.logical_id} ({self.resource_type}): {self.reason}"


def load(path: str) -> dict[str, Any]:
    """Decode a YAML/JSON template (short-form tags allowed) or raise UsageError."""
    from cfnlint.decode import decode_str

    text = clikit.read_text(path, "template")
    # A UTF-8 byte order mark (some Windows editors write one) is not part of
    # YAML or JSON: drop it rather than fail on it.
    text = text.removeprefix("\ufeff")
    try:
        template, errors = decode_str(text)
    except Exception as err:  # any decoder failure is bad input here
        errors, template = [], None
        detail = str(err)
    else:
        detail = errors[0].message if errors else "not a mapping"
    if errors or not isinstance(template, dict):
        raise UsageError(
            f"template={path!r}: not a CloudFormation template ({clikit.one_line(detail)[:160]})"
        )
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        raise UsageError(f"template={path!r}: not a CloudFormation template (no Resources mapping)")
    return template


def create_only_paths(resource_type: str) -> list[tuple[str, ...]]:
    """Create-only property paths below Properties, cut at the first array wildcard."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type)
    except Exception:
        return []
    out: list[tuple[str, ...]] = []
    for raw in schema.schema.get("createOnlyProperties", []):
        parts: list[str] = []
        for part in str(raw).split("/")[2:]:
            if part == "*":
                break
            parts.append(part)
        if parts and tuple(parts) not in out:
            out.append(tuple(parts))
    return out


def _get(obj: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _norm(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return props if isinstance(props, dict) else {}


def _infra_update_capable(props: dict[str, Any]) -> bool:
    """Can this CE take an infrastructure update in place (service-linked role + strategy)?"""
    if props.get("ServiceRole") is not None and not _is_novalue_if(props.get("ServiceRole")):
        return False
    strategy = _get(props, ("ComputeResources", "AllocationStrategy"))
    return isinstance(strategy, str) and strategy in INFRA_UPDATE_STRATEGIES


def _is_novalue_if(value: Any) -> bool:
    """``Fn::If`` with an AWS::NoValue branch: the default deployment may omit it."""
    if isinstance(value, dict) and isinstance(value.get("Fn::If"), list):
        return any(
            isinstance(b, dict) and b.get("Ref") == "AWS::NoValue" for b in value["Fn::If"][1:]
        )
    return False


def _lt_changed(old: dict[str, Any], new: dict[str, Any], lt_id: str) -> bool:
    before = old["Resources"].get(lt_id)
    after = new["Resources"].get(lt_id)
    if not isinstance(before, dict) or not isinstance(after, dict):
        return False
    return _norm(_props(before).get("LaunchTemplateData")) != _norm(
        _props(after).get("LaunchTemplateData")
    )


def _referenced_lt(props: dict[str, Any]) -> str | None:
    lt = _get(props, ("ComputeResources", "LaunchTemplate"))
    if not isinstance(lt, dict):
        return None
    ref = lt.get("LaunchTemplateId", lt.get("LaunchTemplateName"))
    if isinstance(ref, dict):
        if isinstance(ref.get("Ref"), str):
            return str(ref["Ref"])
        att = ref.get("Fn::GetAtt")
        if isinstance(att, list) and att:
            return str(att[0])
    return None


def _ce_changes(
    lid: str,
    old: dict[str, Any],
    new: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
) -> list[Change]:
    out: list[Change] = []
    changed: list[str] = []
    replace_now: list[str] = []
    cr_old = _get(before, ("ComputeResources",))
    cr_new = _get(after, ("ComputeResources",))
    cr_old = cr_old if isinstance(cr_old, dict) else {}
    cr_new = cr_new if isinstance(cr_new, dict) else {}
    fargate = cr_old.get("Type") in FARGATE_TYPES or cr_new.get("Type") in FARGATE_TYPES
    # UpdateComputeEnvironment cannot switch between the service-linked role and a
    # custom ServiceRole, in either direction.
    if ("ServiceRole" in before) != ("ServiceRole" in after):
        replace_now.append("ServiceRole (service-linked <-> custom role)")
    for prop in INFRA_UPDATE_PROPERTIES:
        if _norm(cr_old.get(prop)) == _norm(cr_new.get(prop)):
            continue
        if fargate and prop not in FARGATE_IN_PLACE:
            replace_now.append(f"ComputeResources.{prop}")
        elif not fargate:
            changed.append(f"ComputeResources.{prop}")
    lt_id = _referenced_lt(after)
    if lt_id and _referenced_lt(before) == lt_id and _lt_changed(old, new, lt_id):
        version = _get(after, ("ComputeResources", "LaunchTemplate", "Version"))
        if isinstance(version, dict) and "Fn::GetAtt" in version:
            changed.append(f"launch template {lt_id} (new LatestVersionNumber)")
    if replace_now:
        out.append(Change("REPLACE", lid, CE, f"{', '.join(replace_now)} changed"))
    if changed and not replace_now:
        if _infra_update_capable(before) and _infra_update_capable(after):
            out.append(
                Change(
                    "INTERRUPT",
                    lid,
                    CE,
                    f"infrastructure update replaces instances ({', '.join(changed)}); running "
                    "jobs stop after UpdatePolicy.JobExecutionTimeoutMinutes (or at once with "
                    "TerminateJobsOnUpdate)",
                )
            )
        else:
            out.append(
                Change(
                    "REPLACE",
                    lid,
                    CE,
                    f"{', '.join(changed)} changed and the CE cannot take an infrastructure "
                    "update (custom ServiceRole or BEST_FIT allocation)",
                )
            )
    return out


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every REPLACE / REMOVE / INTERRUPT / ADD between two templates, in logical-ID order."""
    old_res: dict[str, Any] = old["Resources"]
    new_res: dict[str, Any] = new["Resources"]
    changes: list[Change] = []
    for lid in sorted(set(old_res) | set(new_res)):
        before, after = old_res.get(lid), new_res.get(lid)
        if not isinstance(before, dict):
            if isinstance(after, dict):
                changes.append(Change("ADD", lid, str(after.get("Type")), "new resource"))
            continue
        rtype = str(before.get("Type"))
        if not isinstance(after, dict):
            changes.append(Change("REMOVE", lid, rtype, "deleted by the update"))
            if rtype == CE:
                changes.append(
                    Change("INTERRUPT", lid, rtype, "deleting the CE terminates its instances")
                )
            continue
        if str(after.get("Type")) != rtype:
            changes.append(Change("REPLACE", lid, rtype, f"Type changes to {after.get('Type')}"))
            continue
        p_old, p_new = _props(before), _props(after)
        moved = [
            ".".join(path)
            for path in create_only_paths(rtype)
            if _norm(_get(p_old, path)) != _norm(_get(p_new, path))
        ]
        if moved:
            changes.append(Change("REPLACE", lid, rtype, f"create-only {', '.join(moved)} changed"))
        if rtype == CE:
            ce_changes = [] if moved else _ce_changes(lid, old, new, p_old, p_new)
            changes.extend(ce_changes)
            if moved or any(c.kind == "REPLACE" for c in ce_changes):
                changes.append(
                    Change(
                        "INTERRUPT",
                        lid,
                        rtype,
                        "replacing the CE deletes the old one and terminates its instances",
                    )
                )
    return changes


def is_risky(changes: Sequence[Change]) -> bool:
    return any(c.kind in {"REPLACE", "REMOVE"} and c.resource_type in {CE, JQ} for c in changes)


def _main(argv: list[str]) -> int:
    parser = Parser(
        prog="cfgen diff",
        description="List what a stack update from OLD to NEW would replace, remove or interrupt."
        " Exit 0 nothing risky, 1 a compute environment or job queue would be replaced or"
        " removed, 2 bad input.",
    )
    parser.add_argument("old", metavar="OLD", help="template deployed now")
    parser.add_argument("new", metavar="NEW", help="template to deploy")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")
    args = parser.parse_args(argv)
    old, new = load(args.old), load(args.new)
    changes = diff(old, new)
    if args.json:
        print(json.dumps([c.__dict__ for c in changes], indent=2))
    elif changes:
        print("\n".join(c.line() for c in changes))
    else:
        print("no replacements, removals or interruptions")
    return EXIT_RISKY if is_risky(changes) else EXIT_OK


def main(argv: list[str]) -> int:
    return clikit.run("cfgen diff", lambda: _main(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
