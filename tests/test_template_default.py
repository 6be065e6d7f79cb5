"""One test per AWS fact the default template must respect (rendered, then inspected)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from cfgen.config import list_profiles, load_profile
from cfgen.render import to_data

Data = dict[str, Any]


def res(data: Data, logical_id: str) -> Data:
    resource: Data = data["Resources"][logical_id]
    return resource


def props(data: Data, logical_id: str) -> Data:
    p: Data = res(data, logical_id)["Properties"]
    return p


def of_type(data: Data, type_: str) -> dict[str, Data]:
    return {k: v for k, v in data["Resources"].items() if v["Type"] == type_}


# --------------------------------------------------------------------------- parameters


def test_parameters_have_aws_types_and_constraints(default_data: Data) -> None:
    p = default_data["Parameters"]
    assert p["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    assert p["SubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    assert p["InstanceTypes"]["Type"] == "CommaDelimitedList"
    assert (p["BidPercentage"]["MinValue"], p["BidPercentage"]["MaxValue"]) == ("1", "100")
    assert p["BidPercentage"]["Default"] == "100"
    assert p["OnDemandMaxvCpus"]["MinValue"] == "0"
    for name, spec in p.items():
        assert spec.get("Description"), name
        if spec["Type"] in ("String", "Number", "CommaDelimitedList"):
            constrained = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue"} & set(spec)
            assert constrained, f"{name} has no constraint"


def test_every_parameter_is_in_a_console_group_with_a_label(default_data: Data) -> None:
    interface = default_data["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [n for g in interface["ParameterGroups"] for n in g["Parameters"]]
    assert sorted(grouped) == sorted(default_data["Parameters"])
    assert set(interface["ParameterLabels"]) == set(default_data["Parameters"])


def test_rules_assert_subnets_belong_to_vpc(default_data: Data) -> None:
    assertion = default_data["Rules"]["SubnetsInVpc"]["Assertions"][0]["Assert"]
    assert assertion == {
        "Fn::EachMemberEquals": [
            {"Fn::ValueOfAll": ["AWS::EC2::Subnet::Id", "VpcId"]},
            {"Ref": "VpcId"},
        ]
    }


def test_instance_type_parameter_pattern_accepts_types_and_families(default_data: Data) -> None:
    pattern = re.compile(default_data["Parameters"]["InstanceTypes"]["AllowedPattern"])
    default = default_data["Parameters"]["InstanceTypes"]["Default"].split(",")
    for ok in [*default, "c6i", "m7i-flex.large", "g4dn.xlarge"]:
        assert pattern.match(ok), ok
    for bad in ["", "C6I.large", "c6i large", "optimal;rm"]:
        assert not pattern.match(bad), bad


# --------------------------------------------------------------------------- launch template


def user_data(data: Data) -> str:
    value = props(data, "ComputeLaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    assert isinstance(value, str)
    return value


def test_launch_template_requires_imdsv2_with_hop_limit_1(default_data: Data) -> None:
    md = props(default_data, "ComputeLaunchTemplate")["LaunchTemplateData"]["MetadataOptions"]
    assert md == {"HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 1}


def test_launch_template_root_volume_is_encrypted_gp3(default_data: Data) -> None:
    (bdm,) = props(default_data, "ComputeLaunchTemplate")["LaunchTemplateData"][
        "BlockDeviceMappings"
    ]
    assert bdm["DeviceName"] == "/dev/xvda"
    assert bdm["Ebs"]["VolumeType"] == "gp3"
    assert bdm["Ebs"]["Encrypted"] is True
    assert bdm["Ebs"]["VolumeSize"] == {"Ref": "RootVolumeGiB"}


def test_user_data_is_mime_multipart_with_spot_draining_and_stop_timeout(
    default_data: Data,
) -> None:
    text = user_data(default_data)
    assert text.startswith("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=")
    boundary = re.search(r'boundary="([^"]+)"', text)
    assert boundary is not None
    assert text.rstrip().endswith(f"--{boundary.group(1)}--")
    assert "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true" in text
    stop = re.search(r"ECS_CONTAINER_STOP_TIMEOUT=(\d+)s", text)
    assert stop is not None
    # Long enough to checkpoint, shorter than the 120 s Spot notice.
    assert 90 <= int(stop.group(1)) < 120
    # It must survive base64 as ASCII (user data is bytes on the instance).
    base64.b64encode(text.encode("ascii"))


# --------------------------------------------------------------------------- compute


def test_spot_compute_environment_really_uses_spot(default_data: Data) -> None:
    ce = props(default_data, "SpotComputeEnvironment")
    cr = ce["ComputeResources"]
    assert ce["Type"] == "MANAGED"
    assert cr["Type"] == "SPOT"
    assert cr["AllocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert cr["Ec2Configuration"] == [{"ImageType": "ECS_AL2023"}]
    assert cr["MinvCpus"] == 0
    assert "DesiredvCpus" not in cr
    assert "SpotIamFleetRole" not in cr  # only SPOT + BEST_FIT needs one
    assert cr["InstanceTypes"] == {"Ref": "InstanceTypes"}
    assert cr["MaxvCpus"] == {"Ref": "MaxvCpus"}


def test_bid_percentage_is_unset_unless_below_100(default_data: Data) -> None:
    cr = props(default_data, "SpotComputeEnvironment")["ComputeResources"]
    assert cr["BidPercentage"] == {
        "Fn::If": ["HasBidCap", {"Ref": "BidPercentage"}, {"Ref": "AWS::NoValue"}]
    }
    assert default_data["Conditions"]["HasBidCap"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "BidPercentage"}, "100"]}]
    }


def test_compute_environments_use_the_launch_template_and_instance_profile(
    default_data: Data,
) -> None:
    for ce_id in ("SpotComputeEnvironment", "OnDemandComputeEnvironment"):
        cr = props(default_data, ce_id)["ComputeResources"]
        assert cr["LaunchTemplate"] == {
            "LaunchTemplateId": {"Ref": "ComputeLaunchTemplate"},
            "Version": {"Fn::GetAtt": ["ComputeLaunchTemplate", "LatestVersionNumber"]},
        }
        # InstanceRole takes an instance profile ARN.
        assert cr["InstanceRole"] == {"Fn::GetAtt": ["InstanceProfile", "Arn"]}
        assert cr["SecurityGroupIds"] == [{"Ref": "ComputeSecurityGroup"}]


def test_no_service_role_unless_the_parameter_is_set(default_data: Data) -> None:
    for ce in of_type(default_data, "AWS::Batch::ComputeEnvironment").values():
        assert ce["Properties"]["ServiceRole"] == {
            "Fn::If": ["HasServiceRole", {"Ref": "ServiceRoleArn"}, {"Ref": "AWS::NoValue"}]
        }


def test_compute_environments_have_update_policy_and_update_in_place(default_data: Data) -> None:
    for ce in of_type(default_data, "AWS::Batch::ComputeEnvironment").values():
        p = ce["Properties"]
        assert p["UpdatePolicy"] == {
            "JobExecutionTimeoutMinutes": {"Ref": "UpdateTimeoutMinutes"},
            "TerminateJobsOnUpdate": False,
        }
        assert p["ReplaceComputeEnvironment"] is False
        # Without it the CE keeps its creation-day AMI through every update.
        assert p["ComputeResources"]["UpdateToLatestImageVersion"] is True
        assert "UpdatePolicy" not in ce  # the property, not the resource attribute


def test_compute_resource_tags_are_static(default_data: Data) -> None:
    for ce in of_type(default_data, "AWS::Batch::ComputeEnvironment").values():
        tags = ce["Properties"]["ComputeResources"]["Tags"]
        refs = json.dumps(tags).split('"Ref": ')[1:]
        assert not refs, "compute-resource tags must not depend on parameters"
        assert tags["project"] == "cfgen"


def test_on_demand_fallback_is_conditional_order_2_best_fit_progressive(default_data: Data) -> None:
    od = res(default_data, "OnDemandComputeEnvironment")
    assert od["Condition"] == "HasOnDemandFallback"
    cr = od["Properties"]["ComputeResources"]
    assert cr["Type"] == "EC2"
    assert cr["AllocationStrategy"] == "BEST_FIT_PROGRESSIVE"
    assert cr["MaxvCpus"] == {"Ref": "OnDemandMaxvCpus"}
    assert default_data["Conditions"]["HasOnDemandFallback"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OnDemandMaxvCpus"}, "0"]}]
    }
    order = props(default_data, "JobQueue")["ComputeEnvironmentOrder"]
    assert order[0] == {"ComputeEnvironment": {"Ref": "SpotComputeEnvironment"}, "Order": 1}
    assert order[1] == {
        "Fn::If": [
            "HasOnDemandFallback",
            {"ComputeEnvironment": {"Ref": "OnDemandComputeEnvironment"}, "Order": 2},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_queue_cancels_jobs_stuck_runnable(default_data: Data) -> None:
    actions = props(default_data, "JobQueue")["JobStateTimeLimitActions"]
    capacity = [a for a in actions if a["Reason"] == "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"]
    assert capacity == [
        {
            "Action": "CANCEL",
            "State": "RUNNABLE",
            "Reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
            "MaxTimeSeconds": {"Ref": "RunnableTimeoutSeconds"},
        }
    ]
    for a in actions:
        assert a["Action"] == "CANCEL" and a["State"] == "RUNNABLE"
        assert isinstance(a["MaxTimeSeconds"], dict) or 600 <= a["MaxTimeSeconds"] <= 86400


# --------------------------------------------------------------------------- job definition


def test_job_definition_uses_resource_requirements(default_data: Data) -> None:
    cp = props(default_data, "WorkerJobDefinition")["ContainerProperties"]
    assert "Vcpus" not in cp and "Memory" not in cp
    assert cp["ResourceRequirements"] == [
        {"Type": "VCPU", "Value": {"Ref": "JobVcpus"}},
        {"Type": "MEMORY", "Value": {"Ref": "JobMemoryMiB"}},
    ]


def test_job_and_execution_roles_are_separate(default_data: Data) -> None:
    cp = props(default_data, "WorkerJobDefinition")["ContainerProperties"]
    assert cp["JobRoleArn"] == {"Fn::GetAtt": ["JobRole", "Arn"]}
    assert cp["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}


def test_retry_strategy_matches_the_exit_code_contract(default_data: Data) -> None:
    rs = props(default_data, "WorkerJobDefinition")["RetryStrategy"]
    assert rs["Attempts"] == {"Ref": "JobAttempts"}
    assert rs["EvaluateOnExit"] == [
        {"OnStatusReason": "Host EC2*", "Action": "RETRY"},
        {"OnStatusReason": "Task failed to start*", "Action": "RETRY"},
        {"OnExitCode": "75", "Action": "RETRY"},
        {"OnExitCode": "143", "Action": "RETRY"},
        {"OnReason": "*", "Action": "EXIT"},
    ]


def test_job_definition_logs_timeout_tags_and_no_privilege(default_data: Data) -> None:
    jd = props(default_data, "WorkerJobDefinition")
    cp = jd["ContainerProperties"]
    assert cp["LogConfiguration"]["LogDriver"] == "awslogs"
    assert cp["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "LogGroup"}
    assert jd["Timeout"] == {"AttemptDurationSeconds": {"Ref": "JobTimeoutSeconds"}}
    assert jd["PropagateTags"] is True
    assert cp["Privileged"] is False
    assert cp["ReadonlyRootFilesystem"] is True
    assert {"SourceVolume": "scratch", "ContainerPath": "/scratch", "ReadOnly": False} in cp[
        "MountPoints"
    ]
    env = {e["Name"]: e["Value"] for e in cp["Environment"]}
    assert env["TMPDIR"] == "/scratch"
    # The worker's own deadline stays under the 110 s stop timeout.
    assert env["CFGEN_GRACE_SECONDS"] == "95"
    assert env["CFGEN_DATA_BUCKET"] == {"Ref": "DataBucket"}


def test_image_defaults_to_this_stacks_repository(default_data: Data) -> None:
    image = props(default_data, "WorkerJobDefinition")["ContainerProperties"]["Image"]
    assert image["Fn::If"][0] == "UseStackRepository"
    assert image["Fn::If"][1] == {
        "Fn::Sub": [
            "${Uri}:${Tag}",
            {"Uri": {"Fn::GetAtt": ["Repository", "RepositoryUri"]}, "Tag": {"Ref": "ImageTag"}},
        ]
    }
    assert image["Fn::If"][2] == {"Ref": "ContainerImage"}


# --------------------------------------------------------------------------- IAM


def statements(role: Data) -> list[Data]:
    return [
        s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]
    ]


def actions(stmts: list[Data]) -> set[str]:
    return {a for s in stmts for a in s["Action"]}


def test_job_role_reaches_only_its_bucket_prefixes(default_data: Data) -> None:
    role = res(default_data, "JobRole")
    assert "ManagedPolicyArns" not in role["Properties"]
    stmts = {s["Sid"]: s for s in statements(role)}
    # Nothing the worker does not do: no DeleteObject, no scratch/ prefix.
    assert actions(list(stmts.values())) == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "batch:DescribeJobs",
    }
    for sid, s in stmts.items():
        assert s["Effect"] == "Allow"
        if sid == "ReadArraySize":
            # DescribeJobs has no resource-level permissions: "*" is the only form.
            assert s == {
                "Sid": sid,
                "Effect": "Allow",
                "Action": ["batch:DescribeJobs"],
                "Resource": ["*"],
            }
            continue
        assert "*" not in json.dumps(s["Resource"]).replace("/*", "")
        assert "DataBucket" in json.dumps(s["Resource"])
        assert "Condition" not in s
    assert "scratch/" not in json.dumps(role)


def test_execution_role_pulls_from_this_repository_and_writes_this_log_group(
    default_data: Data,
) -> None:
    stmts = {s["Sid"]: s for s in statements(res(default_data, "ExecutionRole"))}
    assert stmts["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert stmts["PullStackImages"]["Resource"] == [{"Fn::GetAtt": ["Repository", "Arn"]}]
    # Fargate pulls with the execution role: other repositories only when listed.
    assert stmts["PullListedImages"]["Resource"] == {
        "Fn::If": [
            "HasPullRepositories",
            {"Ref": "PullRepositoryArns"},
            [{"Fn::GetAtt": ["Repository", "Arn"]}],
        ]
    }
    assert stmts["WriteStackLogs"]["Resource"] == [{"Fn::GetAtt": ["LogGroup", "Arn"]}]
    assert not actions(list(stmts.values())) & {"s3:GetObject", "s3:PutObject"}


def test_task_roles_trust_only_ecs_tasks_of_this_account(default_data: Data) -> None:
    for role_id in ("JobRole", "ExecutionRole"):
        (stmt,) = props(default_data, role_id)["AssumeRolePolicyDocument"]["Statement"]
        assert stmt["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
        assert stmt["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_instance_role_is_the_ecs_agent_scoped_to_this_stack(default_data: Data) -> None:
    """Job containers run in host network mode and can read these credentials:
    no managed policy with "*" on every repository and log group."""
    role = props(default_data, "InstanceRole")
    assert "ManagedPolicyArns" not in role
    stmts = {s["Sid"]: s for s in statements(res(default_data, "InstanceRole"))}
    assert stmts["PullStackImages"]["Resource"] == [{"Fn::GetAtt": ["Repository", "Arn"]}]
    assert stmts["WriteStackLogs"]["Resource"] == [{"Fn::GetAtt": ["LogGroup", "Arn"]}]
    assert stmts["EcsAgentDiscovery"]["Resource"] == ["*"]
    assert set(stmts["EcsAgentDiscovery"]["Action"]) == {
        "ec2:DescribeTags",
        "ecs:DiscoverPollEndpoint",
    }
    assert stmts["EcsAgentCluster"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/*"}
    ]
    wildcard = [sid for sid, s in stmts.items() if s["Resource"] == ["*"]]
    assert sorted(wildcard) == ["EcrLogin", "EcsAgentDiscovery"]
    assert not [a for s in stmts.values() for a in s["Action"] if "*" in a]
    assert props(default_data, "InstanceProfile")["Roles"] == [{"Ref": "InstanceRole"}]


def test_security_group_is_egress_only_https(default_data: Data) -> None:
    sg = props(default_data, "ComputeSecurityGroup")
    assert "SecurityGroupIngress" not in sg
    (rule,) = sg["SecurityGroupEgress"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)


# --------------------------------------------------------------------------- storage


def test_data_bucket_is_private_encrypted_versioned_retained(default_data: Data) -> None:
    bucket = res(default_data, "DataBucket")
    p = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert p["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    sse = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    rules = {r["Id"]: r for r in p["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-checkpoints"]["Prefix"] == "checkpoints/"
    assert rules["expire-checkpoints"]["ExpirationInDays"] == 30
    assert "NoncurrentVersionExpiration" in rules["expire-noncurrent-versions-and-uploads"]


def test_bucket_policy_denies_insecure_transport(default_data: Data) -> None:
    (stmt,) = props(default_data, "DataBucketPolicy")["PolicyDocument"]["Statement"]
    assert stmt["Effect"] == "Deny"
    assert stmt["Principal"] == "*"
    assert stmt["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    assert stmt["Action"] == ["s3:*"]


def test_ecr_repository_settings(default_data: Data) -> None:
    repo = res(default_data, "Repository")
    p = repo["Properties"]
    assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert p["ImageTagMutability"] == "IMMUTABLE"
    assert p["EmptyOnDelete"] is True
    policy = json.loads(p["LifecyclePolicy"]["LifecyclePolicyText"])
    # Only untagged images expire: a rule over tagged ones could expire ImageTag.
    assert [r["selection"]["tagStatus"] for r in policy["rules"]] == ["untagged"]


def test_log_group_retention_is_the_parameter(default_data: Data) -> None:
    assert props(default_data, "LogGroup")["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "LogGroupName" not in props(default_data, "LogGroup")


# --------------------------------------------------------------------------- monitoring


def test_failure_rule_filters_detail_status_of_this_queue(default_data: Data) -> None:
    pattern = props(default_data, "JobFailedRule")["EventPattern"]
    assert pattern["source"] == ["aws.batch"]
    assert pattern["detail-type"] == ["Batch Job State Change"]
    assert pattern["detail"] == {
        "status": ["FAILED"],
        "jobQueue": [{"Ref": "JobQueue"}],
        # Array children are left out: the parent's event stands for the array.
        "arrayProperties": {"index": [{"exists": False}]},
    }
    assert "jobStatus" not in json.dumps(pattern)
    (target,) = props(default_data, "JobFailedRule")["Targets"]
    assert target["Arn"] == {"Ref": "AlertTopic"}
    for path in target["InputTransformer"]["InputPathsMap"].values():
        assert path.startswith("$.detail.")


def test_topic_policy_lets_eventbridge_publish_scoped_to_the_rule(default_data: Data) -> None:
    policy = props(default_data, "AlertTopicPolicy")
    assert policy["Topics"] == [{"Ref": "AlertTopic"}]
    stmt = policy["PolicyDocument"]["Statement"][0]
    assert stmt["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert stmt["Action"] == ["sns:Publish"]
    assert stmt["Condition"] == {
        "ArnEquals": {
            "aws:SourceArn": [
                {"Fn::GetAtt": ["JobFailedRule", "Arn"]},
                {"Fn::GetAtt": ["JobQueueBlockedRule", "Arn"]},
            ]
        }
    }
    # An SNS topic encrypted with the AWS-managed key would refuse EventBridge.
    assert "KmsMasterKeyId" not in props(default_data, "AlertTopic")


def test_retry_alarm_watches_only_metrics_aws_batch_publishes(default_data: Data) -> None:
    from cfgen.lint.support.monitoring import BATCH_METRIC_NAMES

    (alarm_id,) = of_type(default_data, "AWS::CloudWatch::Alarm")
    assert alarm_id == "RetryRateAlarm"
    p = props(default_data, alarm_id)
    queries = {q["Id"]: q for q in p["Metrics"]}
    stats = {i: q["MetricStat"] for i, q in queries.items() if "MetricStat" in q}
    assert {i: s["Metric"]["MetricName"] for i, s in stats.items()} == {
        "retried": "JobsRetried",
        "started": "JobsMovedToStarting",
    }
    # The name after the ARN's "/", split with a "/" appended (cfripper --resolve parses it).
    arn_slash = {"Fn::Sub": ["${QueueArn}/", {"QueueArn": {"Ref": "JobQueue"}}]}
    queue_name = {"Fn::Select": [1, {"Fn::Split": ["/", arn_slash]}]}
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == "AWS/Batch"
        assert stat["Metric"]["MetricName"] in BATCH_METRIC_NAMES
        assert stat["Metric"]["Dimensions"] == [{"Name": "JobQueueName", "Value": queue_name}]
        assert (stat["Stat"], stat["Period"]) == ("Sum", 3600)
    (returned,) = [q for q in p["Metrics"] if q["ReturnData"]]
    assert returned["Expression"] == "IF(started >= 10, 100 * FILL(retried, 0) / started, 0)"
    assert set(re.findall(r"\b[a-z]\w*\b", returned["Expression"])) <= set(queries)
    assert p["Threshold"] == {"Ref": "RetryAlarmPercent"}
    assert p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # Batch emits these only on state transitions: an idle hour is not an alarm.
    assert p["TreatMissingData"] == "notBreaching"
    assert p["AlarmActions"] == [{"Ref": "AlertTopic"}]
    assert "OKActions" not in p  # no "OK" mail right after every deployment
    param = default_data["Parameters"]["RetryAlarmPercent"]
    assert (param["MinValue"], param["MaxValue"], param["Default"]) == ("1", "100", "30")


def test_topic_policy_lets_the_retry_alarm_publish_scoped_to_it(default_data: Data) -> None:
    # A topic policy replaces SNS's default one: without this statement CloudWatch
    # is "not authorized to perform: SNS:Publish" and the alarm tells nobody.
    statements = props(default_data, "AlertTopicPolicy")["PolicyDocument"]["Statement"]
    (stmt,) = [s for s in statements if s["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}]
    assert stmt["Effect"] == "Allow"
    assert stmt["Action"] == ["sns:Publish"]
    assert stmt["Resource"] == [{"Ref": "AlertTopic"}]
    assert stmt["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["RetryRateAlarm", "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_email_subscription_is_optional(default_data: Data) -> None:
    sub = res(default_data, "AlertEmailSubscription")
    assert sub["Condition"] == "HasAlertEmail"
    assert sub["Properties"]["Protocol"] == "email"


# --------------------------------------------------------------------------- template-wide


def test_no_literal_partition_anywhere(default_data: Data) -> None:
    text = json.dumps(default_data)
    assert "arn:aws:" not in text
    assert "arn:${AWS::Partition}" in text


@pytest.mark.parametrize(
    ("type_", "name_property"),
    [
        ("AWS::Batch::ComputeEnvironment", "ComputeEnvironmentName"),
        ("AWS::Batch::JobQueue", "JobQueueName"),
        ("AWS::Batch::JobDefinition", "JobDefinitionName"),
        ("AWS::IAM::Role", "RoleName"),
        ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
        ("AWS::S3::Bucket", "BucketName"),
        ("AWS::SNS::Topic", "TopicName"),
        ("AWS::Events::Rule", "Name"),
        ("AWS::EC2::LaunchTemplate", "LaunchTemplateName"),
        ("AWS::EC2::SecurityGroup", "GroupName"),
    ],
)
def test_no_physical_names(default_data: Data, type_: str, name_property: str) -> None:
    found = of_type(default_data, type_)
    assert found, type_
    for logical_id, resource in found.items():
        assert name_property not in resource["Properties"], logical_id


def test_outputs_are_exported_per_stack(default_data: Data) -> None:
    outputs = default_data["Outputs"]
    for name in (
        "JobQueueArn",
        "JobDefinitionArn",
        "DataBucketName",
        "RepositoryUri",
        "LogGroupName",
        "AlertTopicArn",
        "SpotComputeEnvironmentArn",
    ):
        assert outputs[name]["Export"] == {"Name": {"Fn::Sub": "${AWS::StackName}-" + name}}
    assert outputs["OnDemandComputeEnvironmentArn"]["Condition"] == "HasOnDemandFallback"
    assert outputs["ImagePlatform"]["Value"] == "linux/amd64"


def test_image_platform_output_follows_the_architecture() -> None:
    want = {"arm64": "linux/arm64"}
    for name in list_profiles():
        data = to_data(load_profile(name))
        assert data["Outputs"]["ImagePlatform"]["Value"] == want.get(name, "linux/amd64"), name
