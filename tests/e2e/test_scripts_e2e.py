"""The scripts' other paths against the emulator: data-bucket deletion, errors, failed jobs.

Small fixture stacks (tests/e2e/fixtures/) with the real template's output
names keep these fast; the full template is exercised in test_stack_lifecycle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Emulator, explain, script

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parent / "fixtures"


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_data_stack_redeploy_push_errors_and_bucket_deletion(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = emulator.env
    s3 = emulator.client("s3")
    stack = "cfgen-data"
    deploy = (
        "deploy.sh", "--stack-name", stack, "--template", str(FIXTURES / "data-stack.yaml"),
        f"RepositoryName={stack}-repo",
    )  # fmt: skip
    proc = script(*deploy, env=env)
    assert proc.returncode == 0, explain(proc)
    # Deploying again with nothing changed is not an error.
    proc = script(*deploy, env=env)
    assert proc.returncode == 0, explain(proc)
    outputs = dict(line.split("\t") for line in proc.stdout.splitlines())
    bucket = outputs["DataBucketName"]

    # push-image.sh: --no-build refuses a tag that is not in the repository...
    proc = script("push-image.sh", "--stack-name", stack, "--no-build", "--tag", "v9", env=env)
    assert proc.returncode == 1
    assert one_line(proc.stderr) == (
        f"push-image.sh: image {outputs['RepositoryUri']}:v9"
        " is not in the repository: push it first (or drop --no-build)"
    )
    # ...and a build context without a Dockerfile.
    proc = script(
        "push-image.sh", "--stack-name", stack, "--context", str(tmp_path), "--dry-run", env=env
    )
    assert proc.returncode == 1
    assert one_line(proc.stderr) == f"push-image.sh: no Dockerfile in {tmp_path}: nothing to build"
    # A stack without the ImagePlatform output (made by an older cfgen): amd64, said so.
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    proc = script(
        "push-image.sh", "--stack-name", stack, "--context", str(context), "--tag", "v1",
        "--dry-run", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, explain(proc)
    assert f"+ docker build --platform linux/amd64 --tag {outputs['RepositoryUri']}:v1 " in (
        proc.stdout
    )
    assert (
        f"stack {stack} has no ImagePlatform output (made by an older cfgen):"
        " building for linux/amd64\n"
    ) in proc.stderr

    # Versions and a delete marker: all must go. (moto ignores the template's
    # VersioningConfiguration, docs/moto-notes.md: switch it on here.)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=bucket, Key="output/result.json", Body=body)
    s3.put_object(Bucket=bucket, Key="scratch/tmp", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="scratch/tmp")
    # A bucket the stack did not create, never to be touched.
    s3.create_bucket(Bucket="not-from-a-stack")
    s3.put_object(Bucket="not-from-a-stack", Key="keep", Body=b"k")

    proc = script("destroy.sh", "--stack-name", stack, "--delete-data-bucket", env=env)
    assert proc.returncode == 0, explain(proc)
    assert "DELETE_COMPLETE" in proc.stderr
    assert proc.stdout == f"deleted data bucket: {bucket} (4 object versions)\n"
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert bucket not in buckets
    assert "not-from-a-stack" in buckets
    assert s3.get_object(Bucket="not-from-a-stack", Key="keep")["Body"].read() == b"k"


def test_errors_are_one_line(emulator: Emulator) -> None:
    env = emulator.env
    template = str(FIXTURES / "data-stack.yaml")

    proc = script("destroy.sh", "--stack-name", "no-such-stack", env=env)
    assert proc.returncode == 1
    assert one_line(proc.stderr) == "destroy.sh: stack no-such-stack does not exist"

    proc = script("submit-job.sh", "--stack-name", "no-such-stack", env=env)
    assert proc.returncode == 1
    assert "stack with id no-such-stack does not exist" in one_line(proc.stderr).lower()

    proc = script(
        "deploy.sh", "--stack-name", "cfgen-bad", "--template", template, "MaxvCpus=4", env=env
    )
    assert proc.returncode == 2
    assert one_line(proc.stderr) == (
        f"deploy.sh: --param: 'MaxvCpus' is not a parameter of {template} (it has: RepositoryName)"
    )

    # moto fails CreateStack itself (no rollback): the reason is reported in one line.
    proc = script(
        "deploy.sh", "--stack-name", "cfgen-bad", "--template", template,
        "RepositoryName=Upper_Case", env=env,
    )  # fmt: skip
    assert proc.returncode == 1
    line = proc.stderr.splitlines()[-1]
    assert line.startswith("deploy.sh: create-stack failed: ")
    assert "repositoryName" in line


@pytest.fixture(scope="module")
def failing_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A second moto server whose Batch marks every job FAILED."""
    emu = Emulator(
        tmp_path_factory.mktemp("local-aws-failing"),
        extra_env={"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"},
    )
    try:
        emu.start()
        yield emu
    finally:
        emu.stop()


def test_submit_job_wait_exits_1_when_the_job_fails(failing_emulator: Emulator) -> None:
    emu = failing_emulator
    role = emu.client("iam").create_role(
        RoleName="AWSBatchServiceRole",
        Path="/service-role/",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    )["Role"]["Arn"]
    proc = script(
        "deploy.sh", "--stack-name", "cfgen-fail", "--template",
        str(FIXTURES / "batch-stack.yaml"), f"ServiceRoleArn={role}", env=emu.env,
    )  # fmt: skip
    assert proc.returncode == 0, explain(proc)
    proc = script(
        "submit-job.sh", "--stack-name", "cfgen-fail", "--array-size", "3", "--wait", env=emu.env
    )
    assert proc.returncode == 1, explain(proc)
    job_id, result = proc.stdout.splitlines()
    assert result.startswith(f"{job_id} FAILED")
    assert f"{job_id}  FAILED" in proc.stderr
