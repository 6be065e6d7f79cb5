"""Outputs, each exported as ``<stack name>-<output>`` for scripts and other stacks."""

from __future__ import annotations

from troposphere import Export, Output, Sub, Template

from cfgen import naming
from cfgen.compute import Compute


def add_outputs(
    t: Template,
    *,
    job_queue: object,
    job_definition: object,
    data_bucket: object,
    repository: object,
    repository_uri: object,
    log_group: object,
    alert_topic: object,
    job_role_arn: object,
    compute: Compute,
    image_platform: str,
) -> None:
    def out(name: str, value: object, description: str, condition: str | None = None) -> None:
        kwargs: dict[str, object] = {}
        if condition:
            kwargs["Condition"] = condition
        t.add_output(
            Output(
                name,
                Description=description,
                Value=value,
                Export=Export(Sub(naming.export_name(name))),
                **kwargs,
            )
        )

    out("JobQueueArn", job_queue, "Job queue to submit to (aws batch submit-job --job-queue)")
    out("JobDefinitionArn", job_definition, "Job definition of the worker (with revision)")
    out("DataBucketName", data_bucket, "Data bucket: input/, output/, checkpoints/ (retained)")
    out("RepositoryUri", repository_uri, "ECR repository to push the worker image to")
    out("RepositoryName", repository, "ECR repository name")
    out("LogGroupName", log_group, "CloudWatch Logs group of the jobs")
    out("AlertTopicArn", alert_topic, "SNS topic told about failed jobs")
    out("JobRoleArn", job_role_arn, "IAM role the jobs run as")
    # scripts/push-image.sh builds the image for this platform: an amd64 image
    # on Graviton fails with "exec format error", which no retry fixes.
    out(
        "ImagePlatform",
        image_platform,
        "Platform the job image must be built for (docker --platform)",
    )
    for env in compute.environments:
        out(
            env.logical_id + "Arn",
            env.ref,
            f"Compute environment {env.logical_id}",
            env.condition,
        )
