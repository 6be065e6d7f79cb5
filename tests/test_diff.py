"""cfgen diff on small templates: replacements, removals, interruptions, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cfgen.diff import Change, diff, load, main

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


# --- cfn-lint's schemas: current enough, and loadable (issue 12 item 14) -------------


def _diff(tmp_path: Path, old: str, new: str) -> list[Change]:
    (tmp_path / "old.yaml").write_text(old, encoding="utf-8")
    (tmp_path / "new.yaml").write_text(new, encoding="utf-8")
    return diff(load(str(tmp_path / "old.yaml")), load(str(tmp_path / "new.yaml")))


def test_job_queue_tags_change_in_place(tmp_path: Path) -> None:
    """With cfn-lint >= MIN_CFN_LINT the JobQueue schema has no create-only Tags."""
    old = BASE.format(**DEFAULTS)
    new = old.replace("      Priority: 1\n", "      Priority: 1\n      Tags: {team: data}\n", 1)
    assert "Tags: {team: data}" in new
    changes = _diff(tmp_path, old, new)
    assert not [c for c in changes if c.logical_id == "Queue"]


def test_compute_environment_tags_still_replace(tmp_path: Path) -> None:
    old = BASE.format(**DEFAULTS)
    new = old.replace("      Type: MANAGED\n", "      Type: MANAGED\n      Tags: {team: data}\n", 1)
    kinds = {(c.kind, c.logical_id) for c in _diff(tmp_path, old, new)}
    assert ("REPLACE", "SpotCe") in kinds


@pytest.mark.parametrize(
    ("version", "ok"),
    [("1.20.0", False), ("1.51.0", False), ("1.51.1", True), ("1.58.0", True), ("2.0.0", True)],
)
def test_minimum_cfn_lint_version(version: str, ok: bool) -> None:
    from cfgen.diff import MIN_CFN_LINT, UsageError, check_cfn_lint

    assert MIN_CFN_LINT == (1, 51, 1)
    if ok:
        check_cfn_lint(version)
    else:
        with pytest.raises(UsageError, match=rf"cfn-lint {version}: older than 1\.51\.1"):
            check_cfn_lint(version)


def test_installed_cfn_lint_is_recent_enough_and_pinned() -> None:
    from cfgen.diff import check_cfn_lint

    check_cfn_lint()  # the one this suite runs with
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text("utf-8")
    assert '"cfn-lint[sarif]>=1.51.1"' in pyproject


def test_a_schema_cfn_lint_cannot_load_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = "Resources:\n  Thing:\n    Type: AWS::Nope::Thing\n    Properties: {A: 1}\n"
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(template, encoding="utf-8")
    new.write_text(template.replace("A: 1", "A: 2"), encoding="utf-8")
    assert main([str(old), str(new)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "cfgen diff: error: resource type 'AWS::Nope::Thing': cfn-lint has no schema for it "
        "(ResourceNotFoundError); its create-only properties are unknown\n"
    )


def test_custom_resources_have_no_schema_and_are_fine(tmp_path: Path) -> None:
    template = "Resources:\n  Thing:\n    Type: Custom::Mine\n    Properties: {ServiceToken: a}\n"
    assert _diff(tmp_path, template, template.replace("a}", "b}")) == []
