"""The template library: what each profile's template must say (rendered, then inspected)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from cfgen.config import ConfigError, instance_architecture, list_profiles, load_profile
from cfgen.render import to_data

Data = dict[str, Any]


@cache
def data(name: str) -> Data:
    return to_data(load_profile(name))


def resources_of(d: Data, type_: str) -> dict[str, Data]:
    return {k: v for k, v in d["Resources"].items() if v["Type"] == type_}


def queue_order(d: Data) -> list[str]:
    out = []
    for entry in d["Resources"]["JobQueue"]["Properties"]["ComputeEnvironmentOrder"]:
        body = entry["Fn::If"][1] if "Fn::If" in entry else entry
        out.append(body["ComputeEnvironment"]["Ref"])
    return out


SHIPPED = {"default", "spot-only", "gpu", "arm64", "fargate-spot", "shared-team", "endpoints"}


def test_the_shipped_profiles_exist() -> None:
    # At least these: users add their own (README "Add your own"), so no count is pinned.
    assert set(list_profiles()) >= SHIPPED
    assert list_profiles()[0] == "default"


@pytest.mark.parametrize("name", list_profiles())
def test_every_profile_is_spot_first_with_the_retry_contract(name: str) -> None:
    d = data(name)
    first = d["Resources"][queue_order(d)[0]]["Properties"]["ComputeResources"]["Type"]
    assert first in ("SPOT", "FARGATE_SPOT")
    rules = d["Resources"]["WorkerJobDefinition"]["Properties"]["RetryStrategy"]["EvaluateOnExit"]
    reclaim = "Your Spot Task was interrupted*" if name == "fargate-spot" else "Host EC2*"
    assert rules[0] == {"OnStatusReason": reclaim, "Action": "RETRY"}
    assert {"OnStatusReason": "Task failed to start*", "Action": "RETRY"} in rules
    assert {"OnExitCode": "75", "Action": "RETRY"} in rules
    assert {"OnExitCode": "143", "Action": "RETRY"} in rules
    assert rules[-1] == {"OnReason": "*", "Action": "EXIT"}
    assert len(rules) <= 5
    assert "arn:aws:" not in json.dumps(d)


def test_spot_only_has_a_single_compute_environment() -> None:
    d = data("spot-only")
    assert list(resources_of(d, "AWS::Batch::ComputeEnvironment")) == ["SpotComputeEnvironment"]
    assert queue_order(d) == ["SpotComputeEnvironment"]
    assert "OnDemandMaxvCpus" not in d["Parameters"]
    assert "HasOnDemandFallback" not in d["Conditions"]


def test_gpu_profile_uses_the_nvidia_ami_and_gpu_requirements() -> None:
    d = data("gpu")
    for ce in resources_of(d, "AWS::Batch::ComputeEnvironment").values():
        assert ce["Properties"]["ComputeResources"]["Ec2Configuration"] == [
            {"ImageType": "ECS_AL2023_NVIDIA"}
        ]
    families = {t.split(".")[0] for t in d["Parameters"]["InstanceTypes"]["Default"].split(",")}
    assert {"g4dn", "g5", "g6"} <= families
    reqs = d["Resources"]["WorkerJobDefinition"]["Properties"]["ContainerProperties"][
        "ResourceRequirements"
    ]
    assert {"Type": "GPU", "Value": "1"} in reqs
    assert int(d["Parameters"]["RootVolumeGiB"]["Default"]) >= 100


def test_arm64_profile_lists_only_graviton_types() -> None:
    d = data("arm64")
    types = d["Parameters"]["InstanceTypes"]["Default"].split(",")
    assert len(types) >= 10
    assert {instance_architecture(t).value for t in types} == {"arm64"}
    assert not any(t.startswith("a1") for t in types)
    assert {t.split(".")[0] for t in types} >= {"c7g", "m7g", "r7g"}


def test_fargate_profile_has_no_instances_and_a_fargate_job_definition() -> None:
    d = data("fargate-spot")
    for absent in ("ComputeLaunchTemplate", "InstanceRole", "InstanceProfile"):
        assert absent not in d["Resources"]
    for p in ("InstanceTypes", "BidPercentage", "RootVolumeGiB"):
        assert p not in d["Parameters"]
    assert queue_order(d) == ["FargateSpotComputeEnvironment", "FargateComputeEnvironment"]
    spot = d["Resources"]["FargateSpotComputeEnvironment"]["Properties"]["ComputeResources"]
    assert spot["Type"] == "FARGATE_SPOT"
    assert set(spot) == {"Type", "MaxvCpus", "Subnets", "SecurityGroupIds"}
    fallback = d["Resources"]["FargateComputeEnvironment"]
    assert fallback["Condition"] == "HasOnDemandFallback"
    assert fallback["Properties"]["ComputeResources"]["Type"] == "FARGATE"
    jd = d["Resources"]["WorkerJobDefinition"]["Properties"]
    assert jd["PlatformCapabilities"] == ["FARGATE"]
    cp = jd["ContainerProperties"]
    assert cp["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    assert cp["NetworkConfiguration"] == {"AssignPublicIp": {"Ref": "AssignPublicIp"}}
    assert cp["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
    # Fargate stops a task 30 s after SIGTERM: the worker's deadline is shorter.
    env = {e["Name"]: e["Value"] for e in cp["Environment"]}
    assert env["CFGEN_GRACE_SECONDS"] == "15"
    assert {"OnStatusReason": "Your Spot Task was interrupted*", "Action": "RETRY"} in jd[
        "RetryStrategy"
    ]["EvaluateOnExit"]


def test_fargate_size_rules_reject_invalid_pairs() -> None:
    d = data("fargate-spot")
    rule = d["Rules"]["FargateSize1Vcpu"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "JobVcpus"}, "1"]}
    allowed = rule["Assertions"][0]["Assert"]["Fn::Contains"][0]
    assert allowed == [str(m) for m in range(2048, 8193, 1024)]
    assert d["Parameters"]["JobVcpus"]["AllowedValues"] == ["0.25", "0.5", "1", "2", "4", "8", "16"]


# --------------------------------------------------------------------------- budget and tags


@pytest.mark.parametrize("name", list_profiles())
def test_no_profile_renders_a_budget_but_its_topic_admits_the_budget_stack(name: str) -> None:
    d = data(name)
    assert not [r for r in d["Resources"].values() if r["Type"] == "AWS::Budgets::Budget"]
    assert "MonthlyBudgetUsd" not in d["Parameters"]
    statements = d["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    budgets = next(
        s for s in statements if s["Principal"] == {"Service": ["budgets.amazonaws.com"]}
    )
    assert budgets["Action"] == ["sns:Publish"]
    assert budgets["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_budget_stack_filters_on_the_batch_stack_tag_and_notifies() -> None:
    from cfgen.budget import build_budget_template

    d = build_budget_template().to_dict()
    props = d["Resources"]["MonthlyBudget"]["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": {"Ref": "MonthlyBudgetUsd"}, "Unit": "USD"}
    assert props["Budget"]["CostFilters"] == {
        "TagKeyValue": [{"Fn::Sub": "user:cfgen-stack$${BatchStackName}"}]
    }
    notes = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
        for n in props["NotificationsWithSubscribers"]
    }
    assert notes == {("ACTUAL", 80), ("FORECASTED", 100)}
    for n in props["NotificationsWithSubscribers"]:
        assert [s["Fn::If"][0] for s in n["Subscribers"]] == ["HasAlertTopic", "HasAlertEmail"]
    # Somebody must be told: a rule refuses a stack with neither e-mail nor topic.
    (assertion,) = d["Rules"]["SomebodyIsTold"]["Assertions"]
    assert assertion["Assert"]["Fn::Not"][0]["Fn::And"] == [
        {"Fn::Equals": [{"Ref": "AlertEmail"}, ""]},
        {"Fn::Equals": [{"Ref": "AlertTopicArn"}, ""]},
    ]


def test_profile_without_retry_alarm_renders_none(tmp_path: Any) -> None:
    path = tmp_path / "noalarm.toml"
    path.write_text("[monitoring]\nretry_alarm = false\n", encoding="utf-8")
    d = to_data(load_profile(str(path)))
    assert not [r for r in d["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert "RetryAlarmPercent" not in d["Parameters"]
    statements = d["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    principals = [s["Principal"]["Service"] for s in statements]
    assert ["cloudwatch.amazonaws.com"] not in principals


@pytest.mark.parametrize("value", [0, 101, -5])
def test_retry_alarm_percent_out_of_range_is_one_precise_error(tmp_path: Any, value: int) -> None:
    path = tmp_path / "badalarm.toml"
    path.write_text(f"[monitoring]\nretry_alarm_percent = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^monitoring.retry_alarm_percent={value}: "):
        load_profile(str(path))


def tags_of(resource: Data) -> dict[str, Any]:
    p = resource["Properties"]
    tags = p.get("Tags") or p.get("ResourceTags")
    if "TagSpecifications" in p:
        tags = p["TagSpecifications"][0]["Tags"]
    if isinstance(tags, list):
        return {t["Key"]: t["Value"] for t in tags}
    return dict(tags or {})


@pytest.mark.parametrize("name", list_profiles())
def test_cost_allocation_tags_reach_every_taggable_resource_instances_and_jobs(name: str) -> None:
    d = data(name)
    expected = {"project", "environment", "cost-centre", "cfgen-stack"}
    untaggable = {
        "AWS::IAM::InstanceProfile",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
    }
    for logical_id, resource in d["Resources"].items():
        if resource["Type"] in untaggable:
            continue
        if resource["Type"] == "AWS::Batch::ComputeEnvironment":
            # Resource-level tags are create-only on a compute environment:
            # none, so a tag edit never replaces it (see test below).
            assert "Tags" not in resource["Properties"], logical_id
            continue
        assert expected <= set(tags_of(resource)), logical_id
    for ce_id, ce in resources_of(d, "AWS::Batch::ComputeEnvironment").items():
        cr = ce["Properties"]["ComputeResources"]
        if cr["Type"] in ("SPOT", "EC2"):
            assert expected <= set(cr["Tags"]), ce_id  # reaches the instances
    assert d["Resources"]["WorkerJobDefinition"]["Properties"]["PropagateTags"] is True


def test_editing_tags_or_renaming_a_profile_never_replaces_compute(tmp_path: Any) -> None:
    """Tags and the profile's name reach only properties that update in place."""
    from cfgen.diff import main as diff_main
    from cfgen.render import render

    old = tmp_path / "old.yaml"
    old.write_text(render(load_profile("default")), encoding="utf-8")
    profile = tmp_path / "renamed-profile.toml"
    profile.write_text('[tags]\nenvironment = "prod"\ncost-centre = "cc-42"\n', encoding="utf-8")
    new = tmp_path / "new.yaml"
    new.write_text(render(load_profile(str(profile))), encoding="utf-8")
    assert diff_main([str(old), str(new)]) == 0  # no replacement or removal


@pytest.mark.parametrize(
    "name", [n for n in list_profiles() if load_profile(n).monitoring.retry_alarm]
)
def test_retry_alarm_advice_fits_the_profile(name: str) -> None:
    profile = load_profile(name)
    if not profile.monitoring.retry_alarm:  # e.g. endpoints (template size)
        assert "RetryRateAlarm" not in to_data(profile)["Resources"]
        return
    text = to_data(profile)["Resources"]["RetryRateAlarm"]["Properties"]["AlarmDescription"]
    fargate = profile.compute.platform.value == "FARGATE"
    assert ("instance types" in text) is not fargate
    assert ("Fargate Spot" in text) is fargate
    assert ("fallback" in text) is profile.compute.on_demand_fallback
