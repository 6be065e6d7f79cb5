"""Outputs, each exported as ``<stack name>-<output>`` for scripts and other stacks."""

from __future__ import annotations

from troposphere import Export, Output, Sub, Template

from cfgen import contract, naming
from cfgen.compute import Compute
from cfgen.escalation import Escalation
from cfgen.queues import Queues


def add_outputs(
    t: Template,
    *,
    queues: Queues,
    escalation: Escalation | None,
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

    out(
        contract.OUT_JOB_QUEUE,
        queues.job_queue,
        "Job queue to submit to (aws batch submit-job --job-queue)",
    )
    # Every other queue as <logical ID>Arn (the first keeps JobQueueArn).
    for q in queues.queues[1:]:
        what = "On-Demand queue escalated jobs run in" if q is queues.escalation else "Job queue"
        out(q.logical_id + "Arn", q.ref, f"{what} ({q.name})", q.condition)
    if escalation is not None:
        out(
            contract.OUT_ESCALATION_STATE_MACHINE,
            escalation.state_machine,
            "Runs a job on Spot, then On-Demand if reclaims end it (submit-job.sh --escalate)",
            escalation.condition,
        )
    out(contract.OUT_JOB_DEFINITION, job_definition, "Job definition of the worker (with revision)")
    out(
        contract.OUT_DATA_BUCKET,
        data_bucket,
        "Data bucket: " + ", ".join(contract.READ_PREFIXES) + " (retained)",
    )
    out(contract.OUT_REPOSITORY_URI, repository_uri, "ECR repository to push the worker image to")
    out(contract.OUT_REPOSITORY_NAME, repository, "ECR repository name")
    out(contract.OUT_LOG_GROUP, log_group, "CloudWatch Logs group of the jobs")
    out(contract.OUT_ALERT_TOPIC, alert_topic, "SNS topic told about failed jobs")
    out(contract.OUT_JOB_ROLE, job_role_arn, "IAM role the jobs run as")
    # scripts/push-image.sh builds the image for this platform: an amd64 image
    # on Graviton fails with "exec format error", which no retry fixes.
    out(
        contract.OUT_IMAGE_PLATFORM,
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
