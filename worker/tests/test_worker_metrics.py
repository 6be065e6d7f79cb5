"""EMF metrics in the worker's log lines (spotworker.metrics), on real subprocesses.

Each line with metric values must be a valid embedded-metric-format document
(the specification's rules: an ``_aws`` object with an integer Timestamp and
CloudWatchMetrics directives; every dimension and metric a root member; values
numbers), and the values must add up to what the run did: bytes and records
processed, checkpoints, interruptions, and work redone after a SIGKILL.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from faultproxy import FaultProxy
from spotworker import exitcodes, metrics
from swtestlib import Worker, gen_records, jsonl, nth, run_subprocess, worker_env

QUEUE = "cfgen-test-queue"
LINES = 6000
BAD = 3


def _inputs(s3: Any, bucket: str, objects: int = 2) -> int:
    total = 0
    for i in range(objects):
        body = jsonl(gen_records(LINES, 7 + i)) + b'{"key": broken\n' * BAD
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=body)
        total += len(body)
    return total


def emf_docs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The EMF documents among the lines, each checked against the specification."""
    docs = []
    for e in events:
        if "_aws" not in e:
            continue
        meta = e["_aws"]
        assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 0
        for directive in meta["CloudWatchMetrics"]:
            assert directive["Namespace"] == metrics.NAMESPACE
            assert directive["Dimensions"] == [[metrics.DIMENSION]]
            for dims in directive["Dimensions"]:
                for d in dims:
                    assert isinstance(e[d], str) and e[d], (d, e)
            for m in directive["Metrics"]:
                assert m["Unit"] == metrics.UNITS[m["Name"]]
                value = e[m["Name"]]
                assert isinstance(value, int | float) and not isinstance(value, bool), m
        docs.append(e)
    return docs


def total(docs: list[dict[str, Any]], name: str) -> float:
    return sum(d.get(name, 0) for d in docs)


def test_a_run_emits_metrics_that_add_up(s3: Any, bucket: str, tmp_path: Path) -> None:
    size = _inputs(s3, bucket)
    env = worker_env(bucket, tmp_path, AWS_BATCH_JQ_NAME=QUEUE, CFGEN_CHECKPOINT_SECONDS=0)
    run = run_subprocess(env)
    assert run.code == 0, run.raw
    docs = emf_docs(run.events)
    assert {d[metrics.DIMENSION] for d in docs} == {QUEUE}
    assert total(docs, metrics.BYTES_PROCESSED) == size
    assert total(docs, metrics.RECORDS_PROCESSED) == 2 * LINES
    assert total(docs, metrics.BAD_RECORDS) == 2 * BAD
    assert total(docs, metrics.CHECKPOINTS) == len(run.named("checkpoint")) > 0
    # everything processed was checkpointed: nothing to redo
    assert total(docs, metrics.BYTES_CHECKPOINTED) == size
    (done,) = [d for d in docs if d["event"] == "done"]
    assert done[metrics.ATTEMPT_DURATION] == done["elapsed_s"]
    assert done[metrics.BYTES_PER_SECOND] == done["rate_bytes_s"]
    assert total(docs, metrics.INTERRUPTIONS) == 0


def test_no_queue_no_metrics(s3: Any, bucket: str, tmp_path: Path) -> None:
    _inputs(s3, bucket, objects=1)
    run = run_subprocess(worker_env(bucket, tmp_path))
    assert run.code == 0, run.raw
    assert not emf_docs(run.events)


def test_sigterm_counts_an_interruption_and_redoes_nothing(
    s3: Any, bucket: str, tmp_path: Path, proxy: FaultProxy
) -> None:
    size = _inputs(s3, bucket)
    proxy.add(action="throttle", method="GET", path="/input/", times=-1, rate=400_000)
    env = worker_env(
        bucket,
        tmp_path,
        AWS_BATCH_JQ_NAME=QUEUE,
        CFGEN_CHECKPOINT_SECONDS=0.2,
        CFGEN_READ_CHUNK_BYTES=16384,
        AWS_ENDPOINT_URL=proxy.url,
    )
    worker = Worker(env)
    worker.wait_for(nth("checkpoint", 2))
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.finish() == exitcodes.INTERRUPTED, "".join(worker.raw)
    first = emf_docs(worker.events)
    assert total(first, metrics.INTERRUPTIONS) == 1
    again = run_subprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert again.code == 0, again.raw
    docs = first + emf_docs(again.events)
    # The resumed attempt counts only what it processed itself.
    assert total(docs, metrics.BYTES_PROCESSED) == size
    assert total(docs, metrics.BYTES_PROCESSED) - total(docs, metrics.BYTES_CHECKPOINTED) == 0


def test_sigkill_work_redone_is_processed_minus_checkpointed(
    s3: Any, bucket: str, tmp_path: Path, proxy: FaultProxy
) -> None:
    size = _inputs(s3, bucket)
    proxy.add(action="throttle", method="GET", path="/input/", times=-1, rate=400_000)
    env = worker_env(
        bucket,
        tmp_path,
        AWS_BATCH_JQ_NAME=QUEUE,
        CFGEN_CHECKPOINT_SECONDS=3600,  # only the end of each object is a checkpoint
        CFGEN_READ_CHUNK_BYTES=16384,
        AWS_ENDPOINT_URL=proxy.url,
    )
    worker = Worker(env)
    # the end of an object is a progress line, not a checkpoint
    worker.wait_for(nth("progress", object_done=True))
    worker.proc.kill()
    assert worker.finish() == -signal.SIGKILL
    first = emf_docs(worker.events)
    lost = total(first, metrics.BYTES_PROCESSED) - total(first, metrics.BYTES_CHECKPOINTED)
    assert lost > 0
    again = run_subprocess({**env, "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert again.code == 0, again.raw
    docs = first + emf_docs(again.events)
    assert total(docs, metrics.BYTES_CHECKPOINTED) == size
    redone = total(docs, metrics.BYTES_PROCESSED) - total(docs, metrics.BYTES_CHECKPOINTED)
    assert redone == lost
