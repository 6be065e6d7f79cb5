"""The contract between cfgen's parts, spelled once.

The generator (IAM grants, lifecycle rules, job-definition environment, retry
rules, outputs), the scripts, the lint rules and the docs read these names;
the worker (``worker/``, its own package) spells the same values in
``spotworker.config`` and ``spotworker.exitcodes``, and tests/test_contract.py
proves both sides equal. docs/CONTRACT.md explains them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --------------------------------------------------------------------------- S3 layout


@dataclass(frozen=True)
class Prefix:
    """One top-level prefix of the data bucket and what the job may do there."""

    key: str
    #: The job may write (PutObject) here; otherwise it may only read.
    writable: bool
    #: Environment variable that tells the worker the prefix.
    env: str
    meaning: str
    #: The job may read (GetObject) here. Only the ledger is write-only: a job
    #: never reads cost records (cfgen report does, with the caller's credentials).
    readable: bool = True


INPUT: Final = Prefix("input/", False, "CFGEN_INPUT_PREFIX", "job input (read only)")
OUTPUT: Final = Prefix(
    "output/", True, "CFGEN_OUTPUT_PREFIX", "results and commit markers, per job"
)
CHECKPOINTS: Final = Prefix(
    "checkpoints/", True, "CFGEN_CHECKPOINT_PREFIX", "per-shard progress (expires)"
)
DEADLETTER: Final = Prefix(
    "deadletter/", True, "CFGEN_DEADLETTER_PREFIX", "bad records with line numbers"
)
LEDGER: Final = Prefix(
    "ledger/",
    True,
    "CFGEN_LEDGER_PREFIX",
    "one cost record per attempt, written once (cfgen report)",
    readable=False,
)
#: Every prefix the job role reaches, in documentation order.
PREFIXES: Final = (INPUT, OUTPUT, CHECKPOINTS, DEADLETTER, LEDGER)
READ_PREFIXES: Final = tuple(p.key for p in PREFIXES if p.readable)
WRITE_PREFIXES: Final = tuple(p.key for p in PREFIXES if p.writable)
#: Where the worker uploads with multipart (s3transfer), so it may abort uploads.
MULTIPART_PREFIXES: Final = (OUTPUT.key, DEADLETTER.key)
#: Ledger records expire after this many days: long enough for a report over a
#: year and the month before it (--since up to 13 months), short enough that the
#: prefix does not grow forever (one small object per attempt).
LEDGER_EXPIRATION_DAYS: Final = 400
#: Version of the ledger record's JSON (spotworker.ledger.FORMAT); cfgen report
#: reads this and older versions and reports any other as unreadable.
LEDGER_FORMAT: Final = 1

# --------------------------------------------------------------------------- environment

ENV_DATA_BUCKET: Final = "CFGEN_DATA_BUCKET"
ENV_GRACE_SECONDS: Final = "CFGEN_GRACE_SECONDS"
ENV_ARRAY_SIZE: Final = "CFGEN_ARRAY_SIZE"
#: The container's writable scratch volume (the root filesystem is read-only).
SCRATCH_PATH: Final = "/scratch"
ENV_TMPDIR: Final = "TMPDIR"

# --------------------------------------------------------------------------- exit codes

EXIT_SUCCESS: Final = 0
#: Throttling, 5xx, cut connections, a full disk (EX_TEMPFAIL): retried.
EXIT_TRANSIENT: Final = 75
#: SIGTERM (Spot notice, reclaim, TerminateJob, scale-in): 128 + 15, retried.
EXIT_INTERRUPTED: Final = 143
#: Exactly these exit codes are retried by the job definition.
RETRIED_EXIT_CODES: Final = (EXIT_TRANSIENT, EXIT_INTERRUPTED)

# --------------------------------------------------------------------------- grace period

#: Seconds between SIGTERM and SIGKILL on Fargate (ECS's default stopTimeout;
#: Batch does not expose it for Fargate jobs).
FARGATE_STOP_TIMEOUT: Final = 30
#: Margin kept between the worker's own deadline and SIGKILL.
GRACE_MARGIN: Final = 15

# --------------------------------------------------------------------------- outputs

OUT_JOB_QUEUE: Final = "JobQueueArn"
OUT_JOB_DEFINITION: Final = "JobDefinitionArn"
OUT_DATA_BUCKET: Final = "DataBucketName"
OUT_REPOSITORY_URI: Final = "RepositoryUri"
OUT_REPOSITORY_NAME: Final = "RepositoryName"
OUT_LOG_GROUP: Final = "LogGroupName"
OUT_ALERT_TOPIC: Final = "AlertTopicArn"
OUT_JOB_ROLE: Final = "JobRoleArn"
OUT_IMAGE_PLATFORM: Final = "ImagePlatform"
#: Only in profiles with scheduling.escalate_to_on_demand (and OnDemandMaxvCpus > 0):
#: scripts/submit-job.sh --escalate starts executions of it.
OUT_ESCALATION_STATE_MACHINE: Final = "EscalationStateMachineArn"
#: Outputs every profile has (compute-environment outputs are added per CE:
#: ``<logical ID>Arn``). Scripts read these by name.
OUTPUTS: Final = (
    OUT_JOB_QUEUE,
    OUT_JOB_DEFINITION,
    OUT_DATA_BUCKET,
    OUT_REPOSITORY_URI,
    OUT_REPOSITORY_NAME,
    OUT_LOG_GROUP,
    OUT_ALERT_TOPIC,
    OUT_JOB_ROLE,
    OUT_IMAGE_PLATFORM,
)
#: Outputs only some profiles have; scripts that read one say what is missing.
OPTIONAL_OUTPUTS: Final = (OUT_ESCALATION_STATE_MACHINE,)

# --------------------------------------------------------------------------- metrics

#: CloudWatch namespace of the worker's embedded-metric-format log fields
#: (issue 23): published by CloudWatch Logs from the job's log lines, no
#: PutMetricData permission needed.
WORKER_METRICS_NAMESPACE: Final = "cfgen/Worker"
#: CloudWatch namespace of the cost ledger's daily totals, published by
#: ``cfgen report --put-metrics`` (issue 22) and graphed by the dashboard.
COST_METRICS_NAMESPACE: Final = "cfgen/Cost"
#: Cost metrics (unit: None, value in USD), one datum per day and JobQueue.
COST_METRIC_SPOT: Final = "SpotCost"
COST_METRIC_ON_DEMAND: Final = "OnDemandCost"
COST_METRIC_ON_DEMAND_EQUIVALENT: Final = "OnDemandEquivalentCost"
COST_METRIC_WASTE: Final = "ReclaimWasteCost"
COST_METRICS: Final = (
    COST_METRIC_SPOT,
    COST_METRIC_ON_DEMAND,
    COST_METRIC_ON_DEMAND_EQUIVALENT,
    COST_METRIC_WASTE,
)
#: The one dimension of cfgen's own metrics (the job queue's name, which Batch
#: gives the job as AWS_BATCH_JQ_NAME): few series, never one per job.
METRIC_DIMENSION_QUEUE: Final = "JobQueue"
#: Batch sets it to the job queue's name in every job container; the worker's
#: metrics carry it as the METRIC_DIMENSION_QUEUE value.
#: https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html
ENV_JOB_QUEUE_NAME: Final = "AWS_BATCH_JQ_NAME"
#: The worker's EMF metrics (spotworker.metrics spells the same names and units;
#: docs/dashboard.md says what each measures). Counts are per-event deltas.
WORKER_METRIC_UNITS: Final = {
    "BytesProcessed": "Bytes",
    "RecordsProcessed": "Count",
    "BadRecords": "Count",
    "BytesCheckpointed": "Bytes",
    "Checkpoints": "Count",
    "Interruptions": "Count",
    "BytesPerSecond": "Bytes/Second",
    "RecordsPerSecond": "Count/Second",
    "AttemptDuration": "Seconds",
}
WORKER_METRICS: Final = tuple(WORKER_METRIC_UNITS)
