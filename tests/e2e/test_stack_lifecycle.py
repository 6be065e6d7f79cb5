"""End to end: build/cloudformation.yaml through the scripts and the real AWS CLI.

Against a moto server on 127.0.0.1 (scripts/local-aws.sh), with dummy
credentials and AWS_ENDPOINT_URL: deploy into the default VPC, read back what
the emulator recorded, run a job and an array job, update, destroy, and check
that what is left is exactly what docs/deploy.md documents.

Where moto differs from AWS the test asserts moto's documented behaviour (so a
moto upgrade that changes it fails here and the docs get updated), and says why.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import REPO, Emulator, explain, script

pytestmark = pytest.mark.e2e

TEMPLATE = REPO / "build" / "cloudformation.yaml"
STACK = "cfgen-e2e"

#: Resource types moto's CloudFormation does not implement: it creates nothing
#: and shows a blank row (LogicalResourceId/ResourceType None). A type not in
#: this list that goes missing fails the test: document it first.
KNOWN_IGNORED_TYPES = {
    "AWS::S3::BucketPolicy": "no moto CloudFormation model; the bucket has no policy",
    "AWS::SNS::TopicPolicy": "no moto CloudFormation model; the topic has no policy",
    "AWS::SNS::Subscription": "no moto CloudFormation model (only with AlertEmail set)",
    "AWS::CloudWatch::Alarm": "no moto CloudFormation model",
    "AWS::Budgets::Budget": "no moto CloudFormation model",
}

#: What moto leaves behind after a successful delete-stack, by kind: always.
LEFT_BEHIND = {
    "s3:bucket": "DeletionPolicy Retain: kept on AWS too; destroy.sh --delete-data-bucket deletes it",
    "batch:compute-environment": "moto never deletes Batch resources on delete-stack",
    "batch:job-queue": "moto never deletes Batch resources on delete-stack",
    "batch:job-definition": "moto never deregisters a job definition on delete-stack",
}
#: ...and kinds moto may re-create while it deletes: it resolves the properties
#: of each resource it deletes, and a Ref to an already deleted resource creates
#: that resource again (which ones depends on moto's set order).
MAY_BE_RECREATED = {
    "ec2:security-group",
    "ec2:launch-template",
    "iam:role",
    "iam:instance-profile",
}
#: Named after the stack by CloudFormation (or by moto's generated names).
STACK_NAMED_KINDS = {
    "s3:bucket",
    "batch:compute-environment",
    "batch:job-queue",
    "batch:job-definition",
    "iam:role",
    "iam:instance-profile",
    "ec2:security-group",
}

CONTRACT_OUTPUTS = {
    "JobQueueArn",
    "JobDefinitionArn",
    "DataBucketName",
    "RepositoryUri",
    "RepositoryName",
    "LogGroupName",
    "AlertTopicArn",
    "SpotComputeEnvironmentArn",
    "OnDemandComputeEnvironmentArn",
    "JobRoleArn",
    "ImagePlatform",
}


# --- the template ----------------------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    version = data.get("AWSTemplateFormatVersion")
    if isinstance(version, dt.date):  # unquoted in YAML: keep it a string
        data["AWSTemplateFormatVersion"] = version.isoformat()
    return data


def deployable_template(tmp: Path) -> tuple[Path, dict[str, str]]:
    """The template to deploy, and parameters the emulator needs on top of the defaults.

    moto names an ECR repository `<stack>-Repository-<UPPER CASE SUFFIX>` and then
    rejects that name (docs/moto-notes.md). A RepositoryName parameter, if the
    template has one, is used; otherwise a copy of the template with
    `Repository.Properties.RepositoryName` set is deployed -- the only change.
    """
    data = load_template(TEMPLATE)
    name = f"{STACK}-worker"
    if "RepositoryName" in data.get("Parameters", {}):
        return TEMPLATE, {"RepositoryName": name}
    data["Resources"]["Repository"].setdefault("Properties", {})["RepositoryName"] = name
    path = tmp / "cloudformation-named-repository.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, {}


def explicit_parameters(data: dict[str, Any]) -> dict[str, str]:
    """Every defaulted parameter, passed explicitly.

    moto does not split a CommaDelimitedList default, and answers HTTP 500 to
    UsePreviousValue for a parameter that was not passed at creation
    (docs/moto-notes.md); on AWS the defaults would do.
    """
    out = {}
    for key, spec in data.get("Parameters", {}).items():
        if "Default" in spec:
            out[key] = str(spec["Default"])
    return out


def condition_value(expr: Any, params: dict[str, str], conditions: dict[str, Any]) -> Any:
    """Evaluate a Conditions expression (Fn::Equals/Not/And/Or, Ref, Condition)."""
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, arg), *_ = expr.items()
        if fn == "Ref":
            return params[arg]
        if fn == "Condition":
            return condition_value(conditions[arg], params, conditions)
        values = [condition_value(a, params, conditions) for a in arg]
        if fn == "Fn::Equals":
            return str(values[0]) == str(values[1])
        if fn == "Fn::Not":
            return not values[0]
        if fn == "Fn::And":
            return all(values)
        if fn == "Fn::Or":
            return any(values)
        raise AssertionError(f"condition function {fn} not understood by the test")
    return expr


def parameter_list(value: str) -> list[str]:
    """A List parameter as moto shows it: "['a', 'b']" (a Python repr) or "a,b"."""
    return [v.strip(" '\"") for v in value.strip("[]").split(",") if v.strip(" '\"")]


# --- what the emulator holds ----------------------------------------------------


def inventory(emu: Emulator) -> set[tuple[str, str]]:
    """(kind, id) of everything in the emulator's account that a stack could leave.

    Read with boto3 (one process, no CLI start-up per call): this is the test's
    own bookkeeping, not part of the flow under test.
    """
    client = emu.client
    batch, iam, ec2 = client("batch"), client("iam"), client("ec2")
    items: dict[str, list[str]] = {
        "s3:bucket": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
        "batch:compute-environment": [
            c["computeEnvironmentName"]
            for c in batch.describe_compute_environments()["computeEnvironments"]
        ],
        "batch:job-queue": [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]],
        "batch:job-definition": [
            d["jobDefinitionArn"]
            for d in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
        ],
        "ecr:repository": [
            r["repositoryName"] for r in client("ecr").describe_repositories()["repositories"]
        ],
        "iam:role": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "iam:instance-profile": [
            p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
        ],
        "iam:policy": [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]],
        "ec2:security-group": [
            f"{g['GroupId']} {g['GroupName']}"
            for g in ec2.describe_security_groups()["SecurityGroups"]
        ],
        "ec2:launch-template": [
            t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]
        ],
        "logs:log-group": [
            g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]
        ],
        "sns:topic": [t["TopicArn"] for t in client("sns").list_topics()["Topics"]],
        "sns:subscription": [
            x["SubscriptionArn"] for x in client("sns").list_subscriptions()["Subscriptions"]
        ],
        "events:rule": [r["Name"] for r in client("events").list_rules()["Rules"]],
    }
    return {(kind, name) for kind, names in items.items() for name in names}


def stack_resources(emu: Emulator, stack: str) -> list[dict[str, Any]]:
    rows = emu.client("cloudformation").describe_stack_resources(StackName=stack)
    return list(rows["StackResources"])


def outputs_from(stdout: str) -> dict[str, str]:
    pairs = (line.split("\t", 1) for line in stdout.splitlines() if "\t" in line)
    return dict(pairs)


# --- the test -------------------------------------------------------------------


@pytest.mark.slow
def test_deploy_run_update_destroy(
    emulator: Emulator, batch_service_role: str, tmp_path: Path
) -> None:
    assert TEMPLATE.is_file(), f"{TEMPLATE} is missing: render it with `python -m cfgen build`"
    template_path, extra = deployable_template(tmp_path)
    data = load_template(TEMPLATE)
    params = {**explicit_parameters(data), **extra, "ServiceRoleArn": batch_service_role}
    before = inventory(emulator)
    env = emulator.env

    # 1. deploy.sh into the default VPC (it finds the VPC and subnets itself).
    proc = script(
        "deploy.sh",
        "--stack-name",
        STACK,
        "--template",
        str(template_path),
        *(f"{k}={v}" for k, v in params.items()),
        env=env,
    )
    assert proc.returncode == 0, explain(proc)
    ec2, batch = emulator.client("ec2"), emulator.client("batch")
    cfn = emulator.client("cloudformation")
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][
        0
    ]["VpcId"]
    default_subnets = [
        subnet["SubnetId"]
        for subnet in ec2.describe_subnets(
            Filters=[
                {"Name": "vpc-id", "Values": [default_vpc]},
                {"Name": "default-for-az", "Values": ["true"]},
            ]
        )["Subnets"]
    ]
    assert f"using the default VPC {default_vpc}" in proc.stderr
    assert "CREATE_COMPLETE" in proc.stderr
    outputs = outputs_from(proc.stdout)
    assert set(outputs) == CONTRACT_OUTPUTS, proc.stdout
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    stack_id = stack["StackId"]
    deployed = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert deployed["VpcId"] == default_vpc
    assert sorted(parameter_list(deployed["SubnetIds"])) == sorted(default_subnets)

    # 2. Every resource was created, or is a known gap of the emulator.
    resources = stack_resources(emulator, STACK)
    present = {r["LogicalResourceId"]: r for r in resources if r.get("LogicalResourceId")}
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources)
    conditions = data.get("Conditions", {})
    values = {**params, "VpcId": default_vpc}
    missing = {k: v for k, v in data["Resources"].items() if k not in present}
    skipped_by_condition = {
        k for k, v in missing.items()
        if "Condition" in v and not condition_value(conditions[v["Condition"]], values, conditions)
    }  # fmt: skip
    unsupported = {k: v["Type"] for k, v in missing.items() if k not in skipped_by_condition}
    new_gaps = {k: t for k, t in unsupported.items() if t not in KNOWN_IGNORED_TYPES}
    assert not new_gaps, (
        f"moto ignored resource type(s) not known to be unsupported: {new_gaps}; "
        "document them in docs/deploy.md and KNOWN_IGNORED_TYPES"
    )
    assert len(resources) - len(present) == len(missing)  # each shows as a blank row
    for logical, kind in (
        ("SpotComputeEnvironment", "SPOT"),
        ("OnDemandComputeEnvironment", "EC2"),
    ):
        assert logical in present, f"{logical} ({kind}) was not created"

    # 3. What the emulator recorded for the compute environments.
    spot_props = data["Resources"]["SpotComputeEnvironment"]["Properties"]["ComputeResources"]
    ces = {
        ce["computeEnvironmentArn"]: ce
        for ce in emulator.aws("batch", "describe-compute-environments")["computeEnvironments"]
    }
    spot = ces[outputs["SpotComputeEnvironmentArn"]]["computeResources"]
    on_demand = ces[outputs["OnDemandComputeEnvironmentArn"]]["computeResources"]
    launch_template_id = present["ComputeLaunchTemplate"]["PhysicalResourceId"]
    security_group = present["ComputeSecurityGroup"]["PhysicalResourceId"]
    instance_types = params["InstanceTypes"].split(",")
    assert spot["type"] == "SPOT"
    assert spot["allocationStrategy"] == spot_props["AllocationStrategy"]
    assert spot["allocationStrategy"] in {
        "SPOT_PRICE_CAPACITY_OPTIMIZED",
        "SPOT_CAPACITY_OPTIMIZED",
    }
    assert spot["instanceTypes"] == instance_types
    assert spot["minvCpus"] == 0
    assert spot["maxvCpus"] == int(params["MaxvCpus"])
    assert spot["launchTemplate"]["launchTemplateId"] == launch_template_id
    assert sorted(spot["subnets"]) == sorted(default_subnets)
    assert spot["securityGroupIds"] == [security_group]
    assert spot["instanceRole"].endswith(present["InstanceProfile"]["PhysicalResourceId"])
    # BidPercentage 100 means "unset" (HasBidCap false -> AWS::NoValue) on AWS. moto
    # turns an explicitly passed Number parameter into an int, and its Fn::Equals
    # then compares 100 with the template's string "100": HasBidCap comes out
    # true and the CE records bidPercentage 100 -- the same cap, 100 % of On-Demand.
    assert spot["bidPercentage"] == 100
    assert on_demand["type"] == "EC2"
    assert on_demand["maxvCpus"] == int(params["OnDemandMaxvCpus"])
    assert on_demand["launchTemplate"]["launchTemplateId"] == launch_template_id
    for ce in (
        ces[outputs["SpotComputeEnvironmentArn"]],
        ces[outputs["OnDemandComputeEnvironmentArn"]],
    ):
        assert ce["serviceRole"] == batch_service_role
        assert ce["state"] == "ENABLED"

    # The launch template: IMDSv2 only, MIME multipart user data.
    version = ec2.describe_launch_template_versions(LaunchTemplateId=launch_template_id)[
        "LaunchTemplateVersions"
    ][-1]["LaunchTemplateData"]
    assert version["MetadataOptions"]["HttpTokens"] == "required"
    user_data = base64.b64decode(version["UserData"]).decode()
    assert "Content-Type: multipart/mixed" in user_data
    assert "ECS_CONTAINER_STOP_TIMEOUT" in user_data

    # The queue: Spot first, On-Demand fallback second.
    queue = batch.describe_job_queues(jobQueues=[outputs["JobQueueArn"]])["jobQueues"][0]
    order = sorted(queue["computeEnvironmentOrder"], key=lambda o: o["order"])
    assert [o["computeEnvironment"] for o in order] == [
        outputs["SpotComputeEnvironmentArn"],
        outputs["OnDemandComputeEnvironmentArn"],
    ]
    # moto drops JobStateTimeLimitActions (docs/moto-notes.md); it is in the template:
    assert data["Resources"]["JobQueue"]["Properties"]["JobStateTimeLimitActions"]
    # The retry alarm's JobQueueName dimension is Fn::Select 1 of Fn::Split "/" of
    # the queue's ARN (Ref) with "/" appended. moto ignores AWS::CloudWatch::Alarm,
    # so check the derivation against the queue it really created:
    dims = data["Resources"]["RetryRateAlarm"]["Properties"]["Metrics"][0]["MetricStat"]
    assert dims["Metric"]["Dimensions"][0]["Value"] == {
        "Fn::Select": [
            1,
            {"Fn::Split": ["/", {"Fn::Sub": ["${QueueArn}/", {"QueueArn": {"Ref": "JobQueue"}}]}]},
        ]
    }
    assert (outputs["JobQueueArn"] + "/").split("/")[1] == queue["jobQueueName"]

    # The job definition: the contract's retry rules, environment and image.
    definition = batch.describe_job_definitions(jobDefinitions=[outputs["JobDefinitionArn"]])[
        "jobDefinitions"
    ][0]
    rules = definition["retryStrategy"]["evaluateOnExit"]
    assert [(r.get("onStatusReason"), r.get("onExitCode"), r.get("onReason"), r["action"].upper())
            for r in rules] == [
        ("Host EC2*", None, None, "RETRY"),
        ("Task failed to start*", None, None, "RETRY"),
        (None, "75", None, "RETRY"),
        (None, "143", None, "RETRY"),
        (None, None, "*", "EXIT"),
    ]  # fmt: skip
    container = definition["containerProperties"]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["CFGEN_DATA_BUCKET"] == outputs["DataBucketName"]
    assert environment["TMPDIR"] == "/scratch"
    assert container["readonlyRootFilesystem"] is True
    assert container["image"] == f"{outputs['RepositoryUri']}:{params['ImageTag']}"

    # 4. A job and an array job of 5 through submit-job.sh --wait.
    proc = script("submit-job.sh", "--stack-name", STACK, "--wait", env=env)
    assert proc.returncode == 0, explain(proc)
    job_id = proc.stdout.splitlines()[0]
    assert proc.stdout.splitlines()[-1] == f"{job_id} SUCCEEDED"
    proc = script("submit-job.sh", "--stack-name", STACK, "--array-size", "5", "--wait", env=env)
    assert proc.returncode == 0, explain(proc)
    array_id = proc.stdout.splitlines()[0]
    assert proc.stdout.splitlines()[-1] == f"{array_id} SUCCEEDED"
    assert "succeeded=5 failed=0" in proc.stderr
    jobs = batch.describe_jobs(jobs=[array_id, *(f"{array_id}:{i}" for i in range(5))])["jobs"]
    by_id = {j["jobId"]: j for j in jobs}
    assert by_id[array_id]["arrayProperties"]["size"] == 5
    assert by_id[array_id]["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 5
    assert {by_id[f"{array_id}:{i}"]["status"] for i in range(5)} == {"SUCCEEDED"}
    child_env = {e["name"]: e["value"] for e in by_id[f"{array_id}:0"]["container"]["environment"]}
    assert child_env["CFGEN_ARRAY_SIZE"] == "5"

    # 5. push-image.sh --dry-run: the commands, and nothing changed.
    context = REPO / "worker"
    if not (context / "Dockerfile").is_file():
        context = tmp_path / "context"
        context.mkdir()
        (context / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    proc = script(
        "push-image.sh", "--stack-name", STACK, "--context", str(context), "--dry-run", env=env
    )
    assert proc.returncode == 0, explain(proc)
    match = re.search(
        r"^\+ docker build --platform linux/amd64 --tag (\S+):(\S+) ", proc.stdout, re.M
    )
    assert match, proc.stdout
    assert match.group(1) == outputs["RepositoryUri"]
    tag = match.group(2)
    assert re.fullmatch(r"(git|src)-[0-9a-f]{12}", tag)
    assert f"+ docker push {outputs['RepositoryUri']}:{tag}\n" in proc.stdout
    update_line = proc.stdout.splitlines()[-1]
    assert (
        "cloudformation update-stack --stack-name cfgen-e2e --use-previous-template" in update_line
    )
    assert f'"ParameterKey": "ImageTag", "ParameterValue": "{tag}"' in update_line
    assert '"ParameterKey": "MaxvCpus", "UsePreviousValue": true' in update_line
    images = emulator.client("ecr").list_images(repositoryName=outputs["RepositoryName"])
    assert images["imageIds"] == []
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["ImageTag"] == (
        params["ImageTag"]
    )

    # 6. Update MaxvCpus and InstanceTypes; everything else keeps its value.
    # Without --template, deploy.sh renders the default profile (python -m cfgen),
    # which is build/cloudformation.yaml (the golden test keeps them equal).
    update_args = ["--template", str(template_path)] if template_path != TEMPLATE else []
    proc = script(
        "deploy.sh", "--stack-name", STACK, *update_args,
        "--param", "MaxvCpus=512", "--param", "InstanceTypes=c7i.large,m7i.large", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, explain(proc)
    if not update_args:
        assert "rendering the 'default' profile" in proc.stderr
    assert "UPDATE_COMPLETE" in proc.stderr
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    updated = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert updated["MaxvCpus"] == "512"
    assert parameter_list(updated["InstanceTypes"]) == ["c7i.large", "m7i.large"]
    assert updated["ServiceRoleArn"] == batch_service_role
    assert updated["VpcId"] == default_vpc
    # moto treats updates of Batch resources as no-ops (docs/moto-notes.md): the
    # compute environment still records the values it was created with.
    spot_after = batch.describe_compute_environments(
        computeEnvironments=[outputs["SpotComputeEnvironmentArn"]]
    )["computeEnvironments"][0]["computeResources"]
    assert (spot_after["maxvCpus"], spot_after["instanceTypes"]) == (256, instance_types)

    # 7. destroy.sh: DELETE_COMPLETE, the data bucket reported and kept.
    stack_physical = {
        (r["ResourceType"], r["PhysicalResourceId"]) for r in stack_resources(emulator, STACK)
        if r.get("ResourceType")
    }  # fmt: skip
    proc = script("destroy.sh", "--stack-name", STACK, env=env)
    assert proc.returncode == 0, explain(proc)
    assert "DELETE_COMPLETE" in proc.stderr
    assert proc.stdout == f"retained data bucket: {outputs['DataBucketName']}\n"
    # list-stacks, not describe-stacks: describing a deleted stack makes moto
    # evaluate its outputs, which re-creates resources (docs/moto-notes.md).
    listed = emulator.aws("cloudformation", "list-stacks")["StackSummaries"]
    assert [s["StackStatus"] for s in listed if s["StackId"] == stack_id] == ["DELETE_COMPLETE"]

    # 8. What is left is exactly what is documented.
    left = inventory(emulator) - before
    print("left after destroy.sh:", *sorted(left), sep="\n  ")  # shown on failure / with -s
    kinds = {kind for kind, _ in left}
    undocumented = {item for item in left if item[0] not in set(LEFT_BEHIND) | MAY_BE_RECREATED}
    assert not undocumented, f"left behind and not documented: {sorted(undocumented)}"
    assert {name for kind, name in left if kind == "s3:bucket"} == {outputs["DataBucketName"]}
    assert set(LEFT_BEHIND) <= kinds
    for kind, name in left:
        if kind in STACK_NAMED_KINDS:
            assert STACK in name, f"{kind} {name} left behind does not belong to {STACK}"
    # The stack's own Batch resources are among them (moto never deletes them).
    batch_left = {name for kind, name in left if kind.startswith("batch:")}
    for rtype, physical in stack_physical:
        if rtype.startswith("AWS::Batch::"):
            assert any(name in physical for name in batch_left), physical
