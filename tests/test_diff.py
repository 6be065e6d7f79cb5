"""cfgen diff on small templates: replacements, removals, interruptions, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cfgen.diff import diff, load, main

BASE = """\
Resources:
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: batch
  Lt:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        MetadataOptions: {{HttpTokens: required}}
  SpotCe:
    Type: AWS::Batch::ComputeEnvironment
    Properties:
      Type: MANAGED
{service_role}      ComputeResources:
        Type: {ce_type}
        AllocationStrategy: {strategy}
        MaxvCpus: {max_vcpus}
        InstanceTypes: [{instance_types}]
        Subnets: [subnet-1]
        SecurityGroupIds: [!Ref Sg]
        InstanceRole: arn:aws:iam::123456789012:instance-profile/x
        LaunchTemplate:
          LaunchTemplateId: !Ref Lt
          Version: !GetAtt Lt.LatestVersionNumber
  Queue:
    Type: AWS::Batch::JobQueue
    Properties:
{queue_name}      Priority: 1
      ComputeEnvironmentOrder:
        - {{Order: 1, ComputeEnvironment: !Ref SpotCe}}
  Job:
    Type: AWS::Batch::JobDefinition
    Properties:
      Type: container
      ContainerProperties:
        Image: {image}
"""
DEFAULTS = {
    "service_role": "",
    "ce_type": "SPOT",
    "strategy": "SPOT_PRICE_CAPACITY_OPTIMIZED",
    "max_vcpus": "16",
    "instance_types": "c6i.large",
    "queue_name": "",
    "image": "busybox",
}


def write(tmp_path: Path, name: str, extra: str = "", **over: str) -> Path:
    path = tmp_path / name
    path.write_text(BASE.format(**{**DEFAULTS, **over}) + extra, encoding="utf-8")
    return path


def kinds(old: Path, new: Path) -> list[tuple[str, str]]:
    return [(c.kind, c.logical_id) for c in diff(load(str(old)), load(str(new)))]


def test_identical_templates_are_safe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, "a.yaml")
    assert main([str(a), str(a)]) == 0
    assert capsys.readouterr().out.strip() == "no replacements, removals or interruptions"


def test_scaling_change_is_safe(tmp_path: Path) -> None:
    old, new = write(tmp_path, "a.yaml"), write(tmp_path, "b.yaml", max_vcpus="256")
    assert kinds(old, new) == []
    assert main([str(old), str(new)]) == 0


def test_spot_to_fargate_forces_replacement(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml")
    new = write(tmp_path, "b.yaml", ce_type="FARGATE_SPOT")
    assert kinds(old, new) == [("REPLACE", "SpotCe"), ("INTERRUPT", "SpotCe")]
    assert main([str(old), str(new)]) == 1


def test_spot_to_ec2_is_an_infrastructure_update(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml")
    new = write(tmp_path, "b.yaml", ce_type="EC2", strategy="BEST_FIT_PROGRESSIVE")
    assert kinds(old, new) == [("INTERRUPT", "SpotCe")]
    assert main([str(old), str(new)]) == 0


def test_instance_types_with_service_linked_role_is_an_infrastructure_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path, "a.yaml")
    new = write(tmp_path, "b.yaml", instance_types="c6i.large, m6i.large")
    assert kinds(old, new) == [("INTERRUPT", "SpotCe")]
    assert main([str(old), str(new)]) == 0
    assert "ComputeResources.InstanceTypes" in capsys.readouterr().out


def test_instance_types_with_custom_service_role_replaces_the_ce(tmp_path: Path) -> None:
    role = "      ServiceRole: arn:aws:iam::123456789012:role/batch\n"
    old = write(tmp_path, "a.yaml", service_role=role)
    new = write(tmp_path, "b.yaml", service_role=role, instance_types="m6i.large")
    assert kinds(old, new) == [("REPLACE", "SpotCe"), ("INTERRUPT", "SpotCe")]
    assert main([str(old), str(new)]) == 1


def test_best_fit_cannot_update_in_place(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml", ce_type="EC2", strategy="BEST_FIT")
    new = write(tmp_path, "b.yaml", ce_type="EC2", strategy="BEST_FIT", instance_types="m6i.large")
    assert kinds(old, new) == [("REPLACE", "SpotCe"), ("INTERRUPT", "SpotCe")]


def test_launch_template_change_reaches_the_ce(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml")
    new = tmp_path / "b.yaml"
    new.write_text(old.read_text().replace("HttpTokens: required", "HttpTokens: optional"))
    assert kinds(old, new) == [("INTERRUPT", "SpotCe")]


def test_named_queue_rename_is_a_replacement(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml", queue_name="      JobQueueName: one\n")
    new = write(tmp_path, "b.yaml", queue_name="      JobQueueName: two\n")
    assert kinds(old, new) == [("REPLACE", "Queue")]
    assert main([str(old), str(new)]) == 1


def test_removed_queue_and_ce(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml")
    text = old.read_text()
    cut = text[: text.index("  SpotCe:")] + text[text.index("  Job:") :]
    new = tmp_path / "b.yaml"
    new.write_text(cut)
    assert kinds(old, new) == [
        ("REMOVE", "Queue"),
        ("REMOVE", "SpotCe"),
        ("INTERRUPT", "SpotCe"),
    ]
    assert main([str(old), str(new)]) == 1


def test_job_definition_change_and_additions_are_not_risky(tmp_path: Path) -> None:
    extra = "  Topic:\n    Type: AWS::SNS::Topic\n"
    old = write(tmp_path, "a.yaml")
    new = write(tmp_path, "b.yaml", extra=extra, image="alpine")
    assert kinds(old, new) == [("ADD", "Topic")]
    assert main([str(old), str(new)]) == 0


def test_create_only_property_of_other_resources(tmp_path: Path) -> None:
    old = write(
        tmp_path,
        "a.yaml",
        extra="  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties: {LogGroupName: a}\n",
    )
    new = write(
        tmp_path,
        "b.yaml",
        extra="  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties: {LogGroupName: b}\n",
    )
    assert kinds(old, new) == [("REPLACE", "Logs")]
    assert main([str(old), str(new)]) == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "the following arguments are required"),
        (["missing.yaml", "missing.yaml"], "template='missing.yaml': file not found"),
    ],
)
def test_usage_errors(
    argv: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_not_a_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    assert main([str(bad), str(bad)]) == 2
    assert "not a CloudFormation template" in capsys.readouterr().err


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path, "a.yaml")
    new = write(tmp_path, "b.yaml", ce_type="FARGATE")
    assert main(["--json", str(old), str(new)]) == 1
    assert '"kind": "REPLACE"' in capsys.readouterr().out


def test_through_python_m_cfgen(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml")
    new = write(tmp_path, "b.yaml", ce_type="FARGATE")
    done = subprocess.run(
        [sys.executable, "-m", "cfgen", "diff", str(old), str(new)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "REPLACE   SpotCe (AWS::Batch::ComputeEnvironment)" in done.stdout


def test_fargate_subnet_change_is_in_place(tmp_path: Path) -> None:
    old = write(tmp_path, "a.yaml", ce_type="FARGATE_SPOT")
    new = tmp_path / "b.yaml"
    new.write_text(old.read_text().replace("[subnet-1]", "[subnet-1, subnet-2]"))
    assert kinds(old, new) == []


def test_switching_to_a_custom_service_role_replaces_the_ce(tmp_path: Path) -> None:
    role = "      ServiceRole: arn:aws:iam::123456789012:role/batch\n"
    old, new = write(tmp_path, "a.yaml"), write(tmp_path, "b.yaml", service_role=role)
    assert kinds(old, new) == [("REPLACE", "SpotCe"), ("INTERRUPT", "SpotCe")]
