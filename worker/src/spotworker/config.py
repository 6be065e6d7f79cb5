"""Worker configuration, read once from the environment and validated at the edge.

The names follow docs/CONTRACT.md (CFGEN_* set by the job definition, AWS_BATCH_*
set by Batch). A bad value raises :class:`ConfigError` with one line naming the
variable, the value and the rule.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from spotworker.errors import ConfigError


@dataclass(frozen=True)
class Config:
    bucket: str
    input_prefix: str = "input/"
    #: Key of a manifest object (one input key per line); overrides the prefix listing.
    input_manifest: str = ""
    output_prefix: str = "output/"
    checkpoint_prefix: str = "checkpoints/"
    deadletter_prefix: str = "deadletter/"
    #: Where the per-attempt cost record goes (spotworker.ledger; cfgen report reads it).
    ledger_prefix: str = "ledger/"
    #: AWS_BATCH_JOB_ID; an array child's id is "<parent>:<index>".
    job_id: str = "local"
    #: None when this is not an array child (then it is shard 0 of 1).
    array_index: int | None = None
    #: CFGEN_ARRAY_SIZE; None = ask Batch (DescribeJobs on the parent).
    array_size: int | None = None
    attempt: int = 1
    #: AWS_BATCH_JQ_NAME, the job queue's name ("" outside Batch: no EMF metrics).
    job_queue: str = ""
    checkpoint_seconds: float = 30.0
    max_bad_ratio: float = 0.01
    max_record_bytes: int = 1024 * 1024
    read_chunk_bytes: int = 1024 * 1024
    s3_max_attempts: int = 8
    #: botocore read timeout: a connection that stalls this long is dropped and retried.
    s3_read_timeout_seconds: float = 30.0
    #: After SIGTERM, exit 143 at the latest this much later (the stop timeout is ~110 s).
    grace_seconds: float = 95.0
    #: "auto" (poll only inside an ECS task, i.e. on Batch), "1" or "0".
    imds_poll: str = "auto"
    #: ECS_CONTAINER_METADATA_URI_V4 is set: the process runs in an ECS task.
    in_ecs_task: bool = False
    #: ECS_CONTAINER_METADATA_URI_V4 (the task metadata endpoint v4), "" outside ECS:
    #: the vCPU count and the cost ledger's task size come from it.
    ecs_metadata_uri: str = ""
    #: CFGEN_PROCESSES: worker processes; None = the job's vCPU reservation (spotworker.vcpus)
    processes: int | None = None
    #: AWS_BATCH_CE_NAME (set by Batch; the cost ledger records it).
    compute_environment: str = ""
    imds_endpoint: str = "http://169.254.169.254"
    imds_interval_seconds: float = 5.0
    #: "aggregate" / "aggregate_per_record" (the example) or "package.module:factory".
    task: str = "aggregate"
    task_key_field: str = "key"
    task_value_field: str = "value"
    scratch_dir: str = "/tmp"  # noqa: S108 - default only; TMPDIR=/scratch on Batch

    @property
    def job_key(self) -> str:
        """The per-job name used in S3 paths: the parent id for array children."""
        return self.job_id.split(":", 1)[0]

    @property
    def poll_imds(self) -> bool:
        """Poll for Spot notices: forced on or off, or (auto) only inside an ECS task."""
        return self.imds_poll == "1" or (self.imds_poll == "auto" and self.in_ecs_task)


# S3 general purpose bucket names: 3-63 characters, lowercase letters, digits,
# dots and hyphens, starting and ending with a letter or digit, no "..", not an
# IP address (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
# Batch job ids are UUIDs; an array child is "<parent>:<index>" (the README's
# local runs use short names like "demo:0").
_JOB_ID = re.compile(r"[A-Za-z0-9._#-]{1,128}(:[0-9]{1,5})?")
_TASK = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[0-9]{1,12}")
#: the example task, with the batch API (the default) or the per-record API
BUILTIN_TASKS = ("aggregate", "aggregate_per_record")
_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{0,12})?|\.[0-9]{1,12}")


def _get(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The variable's value; one that is not valid UTF-8 (os.environ keeps such bytes
    as lone surrogates) is a configuration error, not a failure at the first S3 key."""
    value = env.get(name, default)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{name}={value!r}: must be valid UTF-8") from None
    return value


def _bucket(env: Mapping[str, str]) -> str:
    bucket = _get(env, "CFGEN_DATA_BUCKET")
    if not bucket:
        raise ConfigError("CFGEN_DATA_BUCKET='': required (the stack's data bucket name)")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket or _IP.fullmatch(bucket):
        raise ConfigError(
            f"CFGEN_DATA_BUCKET={bucket!r}: must be an S3 bucket name (3-63 characters: "
            "lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)"
        )
    return bucket


def _req_prefix(env: Mapping[str, str], name: str, default: str) -> str:
    value = _get(env, name, default)
    if value and not value.endswith("/"):
        raise ConfigError(f"{name}={value!r}: must end with '/' (an S3 key prefix)")
    if value.startswith("/"):
        raise ConfigError(f"{name}={value!r}: must not start with '/'")
    return value


def _bounded(env: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str:
    """The raw value ('' if unset) if it has the number syntax ``pattern``."""
    raw = _get(env, name)
    if raw and not pattern.fullmatch(raw):
        raise ConfigError(f"{name}={raw!r}: must be {what}")
    return raw


def _in(name: str, raw: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw!r}: must be between {lo} and {hi}")


def _int(env: Mapping[str, str], name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = _bounded(env, name, _INT, "an integer (digits 0-9 only)")
    if not raw:
        return default
    _in(name, raw, int(raw), lo, hi)
    return int(raw)


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = _bounded(env, name, _DECIMAL, "a number (like 30 or 0.5)")
    if not raw:
        return default
    _in(name, raw, float(raw), lo, hi)
    return float(raw)


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the worker's environment."""
    env = os.environ if env is None else env
    bucket = _bucket(env)
    job_id = _get(env, "AWS_BATCH_JOB_ID") or "local"
    if not _JOB_ID.fullmatch(job_id):
        raise ConfigError(
            f"AWS_BATCH_JOB_ID={job_id!r}: must be a job id (letters, digits, '.', '_', "
            "'-', '#', at most 128) with an optional ':<array index>'"
        )
    array_index = _int(env, "AWS_BATCH_JOB_ARRAY_INDEX", None, 0, 9_999)
    array_size = _int(env, "CFGEN_ARRAY_SIZE", None, 1, 10_000)
    if array_index is not None and array_size is not None and array_index >= array_size:
        raise ConfigError(
            f"AWS_BATCH_JOB_ARRAY_INDEX={array_index!r}: must be below "
            f"CFGEN_ARRAY_SIZE={array_size}"
        )
    imds = _get(env, "CFGEN_IMDS_POLL", "auto") or "auto"
    if imds not in {"auto", "0", "1"}:
        raise ConfigError(f"CFGEN_IMDS_POLL={imds!r}: must be auto, 0 or 1")
    if imds == "auto" and env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        imds = "0"
    task = _get(env, "CFGEN_TASK", "aggregate") or "aggregate"
    if task not in BUILTIN_TASKS and not _TASK.fullmatch(task):
        raise ConfigError(
            f"CFGEN_TASK={task!r}: must be 'aggregate', 'aggregate_per_record' or "
            "'package.module:factory'"
        )
    manifest = _get(env, "CFGEN_INPUT_MANIFEST")
    imds_endpoint = (
        _get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT") or "http://169.254.169.254"
    ).rstrip("/")
    if not imds_endpoint.startswith(("http://", "https://")):
        raise ConfigError(
            f"AWS_EC2_METADATA_SERVICE_ENDPOINT={imds_endpoint!r}: must be an http:// URL"
        )
    attempt = _int(env, "AWS_BATCH_JOB_ATTEMPT", 1, 1, 100)
    raw_processes = _get(env, "CFGEN_PROCESSES", "auto") or "auto"
    processes = None if raw_processes == "auto" else _int(env, "CFGEN_PROCESSES", None, 1, 256)
    max_record = _int(env, "CFGEN_MAX_RECORD_BYTES", 1024 * 1024, 16, 256 * 1024 * 1024)
    chunk = _int(env, "CFGEN_READ_CHUNK_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024)
    s3_attempts = _int(env, "CFGEN_S3_MAX_ATTEMPTS", 8, 1, 20)
    assert attempt is not None and max_record is not None
    assert chunk is not None and s3_attempts is not None
    return Config(
        bucket=bucket,
        input_prefix=_req_prefix(env, "CFGEN_INPUT_PREFIX", "input/"),
        input_manifest=manifest,
        output_prefix=_req_prefix(env, "CFGEN_OUTPUT_PREFIX", "output/"),
        checkpoint_prefix=_req_prefix(env, "CFGEN_CHECKPOINT_PREFIX", "checkpoints/"),
        deadletter_prefix=_req_prefix(env, "CFGEN_DEADLETTER_PREFIX", "deadletter/"),
        ledger_prefix=_req_prefix(env, "CFGEN_LEDGER_PREFIX", "ledger/"),
        job_id=job_id,
        array_index=array_index,
        array_size=array_size,
        attempt=attempt,
        # Set by Batch in every job container; the worker's metric dimension.
        # https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html
        job_queue=_get(env, "AWS_BATCH_JQ_NAME")[:128],
        checkpoint_seconds=_float(env, "CFGEN_CHECKPOINT_SECONDS", 30.0, 0.0, 3600.0),
        max_bad_ratio=_float(env, "CFGEN_MAX_BAD_RATIO", 0.01, 0.0, 1.0),
        max_record_bytes=max_record,
        read_chunk_bytes=chunk,
        s3_max_attempts=s3_attempts,
        s3_read_timeout_seconds=_float(env, "CFGEN_S3_READ_TIMEOUT_SECONDS", 30.0, 0.1, 600.0),
        grace_seconds=_float(env, "CFGEN_GRACE_SECONDS", 95.0, 0.0, 3600.0),
        imds_poll=imds,
        # Set by the ECS agent in every task it starts (so on Batch, EC2 and Fargate):
        # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4.html
        in_ecs_task=bool(_get(env, "ECS_CONTAINER_METADATA_URI_V4")),
        ecs_metadata_uri=_get(env, "ECS_CONTAINER_METADATA_URI_V4"),
        processes=processes,
        # https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html
        compute_environment=_get(env, "AWS_BATCH_CE_NAME")[:128],
        imds_endpoint=imds_endpoint,
        imds_interval_seconds=_float(env, "CFGEN_IMDS_INTERVAL_SECONDS", 5.0, 0.05, 60.0),
        task=task,
        task_key_field=_get(env, "CFGEN_TASK_KEY_FIELD", "key") or "key",
        task_value_field=_get(env, "CFGEN_TASK_VALUE_FIELD", "value") or "value",
        scratch_dir=_get(env, "TMPDIR") or "/tmp",  # noqa: S108
    )
