"""The cost ledger: one small JSON record per attempt, for ``cfgen report``.

At the end of every attempt :meth:`Attempt.finish` writes
``<ledger prefix><job>/<array index>/<attempt>.json`` (index 0 for a job that is
not an array child) with what the attempt did and where it ran:

* job id, array index, attempt, job queue and compute environment (Batch sets
  ``AWS_BATCH_JQ_NAME`` and ``AWS_BATCH_CE_NAME`` in every job container:
  https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html);
* start and end (UTC), exit reason (done, interrupted, failed) and exit code;
* bytes and records processed by this attempt, the position it resumed from and
  the position it ended at. Work redone after a resume is the previous attempt's
  end minus this attempt's resume position; ``cfgen report`` computes it from
  consecutive records (a job never reads the ledger: the prefix is write-only);
* on EC2, from IMDSv2 (a token PUT, then GETs; no proxy, 1 s timeouts:
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html):
  ``instance-type``, ``instance-life-cycle`` (``spot`` or ``on-demand``),
  ``placement/availability-zone`` and ``instance-id``
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html);
* in any ECS task (so on Batch, EC2 and Fargate), from the task metadata
  endpoint v4 (``${ECS_CONTAINER_METADATA_URI_V4}/task``): the task size
  (``Limits``: CPU in vCPUs, memory in MiB), ``LaunchType`` and
  ``AvailabilityZone`` (Fargate), ``TaskARN``
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-response.html).
  The response names no capacity provider: Fargate Spot or Fargate is told by the
  compute environment's type, which ``cfgen report`` reads from Batch.

Writing the record can never fail the job or change its exit code: everything
runs in a daemon thread with a hard deadline, every exception is caught, and the
outcome is one ``ledger`` log line. The PUT carries ``If-None-Match: *``, so a
record is written once: a repeated write of the same attempt (a lost response, a
local rerun) keeps the first, and no attempt ever replaces another's record
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
S3 never stores part of an object, so an attempt killed during the PUT leaves no
record rather than half of one
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html).
Figures that could not be learnt are ``null`` and listed in ``missing``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from spotworker import exitcodes
from spotworker.config import Config
from spotworker.interrupt import StopFlag
from spotworker.logs import EventLog

#: Version of the record's JSON (cfgen.contract.LEDGER_FORMAT).
FORMAT = 1
#: The whole write (metadata lookups and the PUT) ends within this many seconds.
DEADLINE_SECONDS = 8.0
#: Each metadata HTTP request (IMDS, ECS task metadata) gives up after this.
HTTP_TIMEOUT = 1.0
_IMDS_FIELDS = {
    "instance_type": "instance-type",
    "lifecycle": "instance-life-cycle",
    "availability_zone": "placement/availability-zone",
    "instance_id": "instance-id",
}
# Never through a proxy: IMDS and the ECS endpoint are link-local.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def record_key(cfg: Config) -> str:
    index = cfg.array_index if cfg.array_index is not None else 0
    return f"{cfg.ledger_prefix}{cfg.job_key}/{index}/{cfg.attempt}.json"


def exit_reason(code: int) -> str:
    if code == exitcodes.SUCCESS:
        return "done"
    if code == exitcodes.INTERRUPTED:
        return "interrupted"
    return "failed"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _http(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None) -> str:
    req = urllib.request.Request(url, method=method, headers=dict(headers or {}))  # noqa: S310
    with _OPENER.open(req, timeout=HTTP_TIMEOUT) as resp:
        return str(resp.read(65536).decode("utf-8", "replace")).strip()


def imds_facts(endpoint: str) -> dict[str, str | None]:
    """Instance type, lifecycle, AZ and id from IMDSv2; None for what is not answered."""
    facts: dict[str, str | None] = dict.fromkeys(_IMDS_FIELDS)
    try:
        token = _http(
            f"{endpoint}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        )
    except (OSError, ValueError):
        return facts
    for name, path in _IMDS_FIELDS.items():
        try:
            value = _http(
                f"{endpoint}/latest/meta-data/{path}",
                headers={"X-aws-ec2-metadata-token": token},
            )
        except (OSError, ValueError):
            continue
        facts[name] = value[:100] or None
    return facts


def ecs_task_facts(uri: str) -> dict[str, Any]:
    """Task size, launch type, AZ and task ARN from the ECS task metadata endpoint v4."""
    facts: dict[str, Any] = {
        "launch_type": None,
        "task_arn": None,
        "vcpus": None,
        "memory_mib": None,
        "availability_zone": None,
    }
    try:
        task = json.loads(_http(f"{uri.rstrip('/')}/task"))
    except (OSError, ValueError):
        return facts
    if not isinstance(task, dict):
        return facts
    for name, key in (
        ("launch_type", "LaunchType"),
        ("task_arn", "TaskARN"),
        ("availability_zone", "AvailabilityZone"),
    ):
        if isinstance(task.get(key), str):
            facts[name] = task[key][:300]
    limits = task.get("Limits")
    if isinstance(limits, dict):  # task level: CPU in vCPUs, memory in MiB
        cpu, mem = limits.get("CPU"), limits.get("Memory")
        if isinstance(cpu, int | float) and cpu > 0:
            facts["vcpus"] = float(cpu)
        if isinstance(mem, int | float) and mem > 0:
            facts["memory_mib"] = int(mem)
    return facts


class Attempt:
    """This attempt's ledger record: created when the attempt starts, written by finish()."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.started = time.time()
        #: The harness's stats() (the one source of the attempt's numbers), once it exists.
        self.stats: Callable[[], dict[str, Any]] | None = None
        #: The run's boto3 session, once it exists: the record's client comes from it
        #: (its service models already loaded), else from a new one.
        self.session: Any = None

    def record(self, code: int, stop: StopFlag) -> dict[str, Any]:
        cfg = self.cfg
        ended = time.time()
        stats: dict[str, Any] = {}
        if self.stats is not None:
            try:
                stats = dict(self.stats())
            except Exception:  # a record without numbers beats none
                stats = {}
        work: dict[str, Any] = dict.fromkeys(
            ("bytes", "records", "resumed_bytes", "resumed_records", "end_bytes", "end_records")
        )
        if "attempt_bytes" in stats and "bytes" in stats:
            work.update(
                bytes=int(stats["attempt_bytes"]),
                records=int(stats["attempt_records"]),
                end_bytes=int(stats["bytes"]),
                end_records=int(stats["records"]),
                resumed_bytes=max(0, int(stats["bytes"]) - int(stats["attempt_bytes"])),
                resumed_records=max(0, int(stats["records"]) - int(stats["attempt_records"])),
            )
        host: dict[str, Any] = {
            "platform": "unknown",
            "instance_type": None,
            "lifecycle": None,
            "availability_zone": None,
            "instance_id": None,
            "launch_type": None,
            "task_arn": None,
            "vcpus": None,
            "memory_mib": None,
        }
        if cfg.ecs_metadata_uri.startswith("http://"):
            facts = ecs_task_facts(cfg.ecs_metadata_uri)
            host.update({k: v for k, v in facts.items() if v is not None})
        if host["launch_type"] == "FARGATE":
            host["platform"] = "fargate"
        elif cfg.imds_poll == "1" or (cfg.imds_poll == "auto" and cfg.in_ecs_task):
            imds = imds_facts(cfg.imds_endpoint)
            host.update({k: v for k, v in imds.items() if v is not None})
            if imds["instance_type"] is not None:
                host["platform"] = "ec2"
        body: dict[str, Any] = {
            "format": FORMAT,
            "job_id": cfg.job_key,
            "array_index": cfg.array_index,
            "attempt": cfg.attempt,
            "queue": cfg.job_queue or None,
            "compute_environment": cfg.compute_environment or None,
            "started_at": _iso(self.started),
            "ended_at": _iso(ended),
            "duration_s": round(ended - self.started, 3),
            "exit": {
                "reason": exit_reason(code),
                "code": code,
                "stop": stop.reason or None,
            },
            "work": work,
            "host": host,
        }
        needed = {
            "ec2": ("instance_type", "lifecycle", "availability_zone", "instance_id"),
            "fargate": ("vcpus", "memory_mib"),
        }.get(host["platform"], ("platform",))
        body["missing"] = sorted(
            [k for k in ("queue", "compute_environment") if body[k] is None]
            + [f"work.{k}" for k in ("bytes", "records") if work[k] is None]
            + [f"host.{k}" for k in needed if host[k] in (None, "unknown")]
        )
        return body

    def _write(self, code: int, stop: StopFlag, log: EventLog, client: Any) -> None:
        key = record_key(self.cfg)
        try:
            body = json.dumps(self.record(code, stop), sort_keys=True, separators=(",", ":"))
            if client is None:
                client = _client(self.session)
            client.put_object(
                Bucket=self.cfg.bucket,
                Key=key,
                Body=body.encode("utf-8"),
                IfNoneMatch="*",
                ContentType="application/json",
            )
        except Exception as exc:  # never fail the job over its cost record
            status = _status(exc)
            if status == 412 or _code(exc) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                log.event("ledger", key=key, status="exists")
            else:
                log.event(
                    "ledger", key=key, status="failed", error=f"{type(exc).__name__}: {exc}"[:300]
                )
            return
        log.event("ledger", key=key, status="written")

    def finish(self, code: int, stop: StopFlag, log: EventLog, *, client: Any = None) -> None:
        """Write the record within DEADLINE_SECONDS; never raises, never blocks longer.

        A configuration error (exit 2) writes nothing: it is one line on stderr and no
        S3 request at all (the attempt did no work; Batch still has its times)."""
        if code == exitcodes.USAGE:
            return
        try:
            worker = threading.Thread(
                target=self._write, args=(code, stop, log, client), name="ledger", daemon=True
            )
            worker.start()
            worker.join(DEADLINE_SECONDS)
            if worker.is_alive():
                log.event(
                    "ledger", key=record_key(self.cfg), status="timeout", after_s=DEADLINE_SECONDS
                )
        except Exception as exc:
            log.event("ledger", status="failed", error=f"{type(exc).__name__}: {exc}"[:300])


def _client(session: Any = None) -> Any:
    """A separate S3 client with short timeouts and one retry (the job's own client
    retries up to 8 times with a 30 s read timeout: too long for a cost record), from
    the run's session (the main thread waits for this one meanwhile) or a new one."""
    import boto3
    from botocore.config import Config as BotoConfig

    return (session or boto3.session.Session()).client(
        "s3",
        config=BotoConfig(
            retries={"mode": "standard", "max_attempts": 2},
            connect_timeout=2,
            read_timeout=3,
        ),
    )


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
