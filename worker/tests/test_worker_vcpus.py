"""How many worker processes: the job's vCPU reservation, from a scripted ECS task
metadata endpoint v4 on 127.0.0.1 (a stand-in: there is no ECS agent here), or
CFGEN_PROCESSES.

The stand-in answers ``GET <uri>`` (container metadata) and ``GET <uri>/task``
(task metadata) with the shapes of the ECS documentation's examples
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-examples.html):
container ``Limits.CPU`` in CPU units, task ``Limits.CPU`` in vCPUs.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from spotworker.config import load_config
from spotworker.errors import ConfigError
from spotworker.pool import engine_threads
from spotworker.vcpus import resolve_processes
from swtestlib import (
    TESTS_DIR,
    committed_lines,
    expected,
    gen_records,
    job_result,
    jsonl,
    run_inprocess,
    run_subprocess,
    worker_env,
)

VISIBLE = len(os.sched_getaffinity(0))


class TaskMetadata:
    """The ECS agent's task metadata endpoint v4, scripted: ``container`` and ``task``
    are the JSON bodies (None: 404; an int: that HTTP status)."""

    def __init__(self) -> None:
        self.container: Any = None
        self.task: Any = None
        self.paths: list[str] = []
        meta = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                meta.paths.append(self.path)
                body = meta.task if self.path.endswith("/task") else meta.container
                if body is None or isinstance(body, int):
                    self.send_response(body or 404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/v4/abc123-container"


def container(cpu: Any) -> dict[str, Any]:
    return {
        "DockerId": "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66",
        "Name": "default",
        "Limits": {"CPU": cpu, "Memory": 2048},
        "DesiredStatus": "RUNNING",
        "Type": "NORMAL",
    }


@pytest.fixture
def meta() -> Iterator[TaskMetadata]:
    server = TaskMetadata()
    try:
        yield server
    finally:
        server.server.shutdown()


def resolve(**env: str) -> tuple[int, dict[str, Any]]:
    return resolve_processes(load_config({"CFGEN_DATA_BUCKET": "data-bucket", **env}))


@pytest.mark.parametrize(
    ("container_cpu", "task", "want", "source"),
    [
        (2048, None, min(2, VISIBLE), "container Limits.CPU (CPU units)"),  # VCPU=2 on EC2
        (1024, None, 1, "container Limits.CPU (CPU units)"),
        (64 * 1024, None, VISIBLE, "container Limits.CPU (CPU units)"),  # never above visible
        (0, {"Limits": {"CPU": 2, "Memory": 4096}}, min(2, VISIBLE), "task Limits.CPU (vCPUs)"),
        ("no limits", {"Limits": {"CPU": 0.25}}, 1, "task Limits.CPU (vCPUs)"),  # Fargate
        (0, {"Cluster": "c"}, 1, "default (no CPU limit in the task metadata)"),
        (500, 500, 1, "default (task metadata unavailable)"),  # 500 from the agent
    ],
)
def test_processes_follow_the_reservation(
    meta: TaskMetadata, container_cpu: Any, task: Any, want: int, source: str
) -> None:
    if container_cpu == "no limits":
        meta.container = {"DockerId": "x", "Name": "default"}
    else:
        meta.container = 500 if container_cpu == 500 else container(container_cpu)
    meta.task = task
    got, why = resolve(ECS_CONTAINER_METADATA_URI_V4=meta.uri)
    assert (got, why["source"]) == (want, source)
    assert why["cpus_visible"] == VISIBLE
    # the container path first, the task path only when the container has no CPU limit
    assert meta.paths[0] == "/v4/abc123-container"


def test_override_and_outside_ecs(meta: TaskMetadata) -> None:
    meta.container = container(4096)
    assert resolve(ECS_CONTAINER_METADATA_URI_V4=meta.uri, CFGEN_PROCESSES="3")[0] == 3
    assert resolve(ECS_CONTAINER_METADATA_URI_V4=meta.uri, CFGEN_PROCESSES="1")[0] == 1
    assert meta.paths == []  # an override asks nothing
    assert resolve() == (1, {"source": "default (not in an ECS task)", "cpus_visible": VISIBLE})
    got, why = resolve(ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:9/v4/refused")
    assert got == 1 and why["source"] == "default (task metadata unavailable)"
    for bad in ("0", "257", "two", "-1", "1.5"):
        with pytest.raises(ConfigError, match=f"^CFGEN_PROCESSES='{bad}': must be"):
            resolve(CFGEN_PROCESSES=bad)


def test_run_uses_the_reserved_vcpus(
    s3: Any, bucket: str, tmp_path: Path, meta: TaskMetadata
) -> None:
    meta.container = container(2048)
    recs = [gen_records(2000, seed) for seed in range(4)]
    for i, r in enumerate(recs):
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=jsonl(r))
    env = worker_env(bucket, tmp_path, ECS_CONTAINER_METADATA_URI_V4=meta.uri)
    run = run_inprocess(env)
    assert run.code == 0, run.raw
    start = run.named("start")[0]
    assert start["processes"] == min(2, VISIBLE) and start["processes_vcpus"] == 2
    assert start["processes_source"] == "container Limits.CPU (CPU units)"
    assert len(run.named("pool_start")) == (1 if VISIBLE >= 2 else 0)
    assert job_result(s3, bucket) == expected([x for r in recs for x in r])
    done = run.named("done")
    assert len(done) == 1 and done[0]["records"] == 8000 and done[0]["objects_done"] == 4


def test_engine_threads_share_out_the_vcpus() -> None:
    assert engine_threads(2, {"vcpus": 8.0}) == 4
    assert engine_threads(4, {"vcpus": 2.0}) == 1  # never 0
    assert engine_threads(3, {"vcpus": 16.0, "cpus_visible": 64}) == 5  # the reservation first
    assert engine_threads(2, {"cpus_visible": 16}) == 8  # CFGEN_PROCESSES: the visible CPUs
    assert engine_threads(2, {}) == max(1, VISIBLE // 2)


@pytest.mark.skipif(VISIBLE < 2, reason="the pool needs 2 CPUs")
def test_pool_children_run_the_engine_with_their_share(
    s3: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"input/{i}.jsonl", Body=jsonl(gen_records(50, i)))
    base = worker_env(
        bucket,
        tmp_path,
        CFGEN_PROCESSES="2",
        CFGEN_TASK="sw_example_tasks:engine_env",
        PYTHONPATH=str(TESTS_DIR),
    )
    run = run_subprocess(base)
    assert run.code == 0, run.raw
    got = [json.loads(x) for x in committed_lines(s3, bucket)]
    # set before Polars was imported in the child: its thread pool has that size, and
    # its allocator has one arena (Polars puts its own settings first)
    share = VISIBLE // 2
    assert [(x["POLARS_MAX_THREADS"], x["thread_pool_size"]) for x in got] == [
        (str(share), share)
    ] * 3
    assert all(x["_RJEM_MALLOC_CONF"].endswith(",narenas:1") for x in got), got
    # one process: the task runs in the worker's own process, with all the vCPUs
    run = run_subprocess({**base, "AWS_BATCH_JOB_ID": "job-1", "CFGEN_PROCESSES": "1"})
    assert run.code == 0, run.raw
    got = [json.loads(x) for x in committed_lines(s3, bucket, job="job-1")]
    assert [(x["POLARS_MAX_THREADS"], x["thread_pool_size"]) for x in got] == [
        (str(VISIBLE), VISIBLE)
    ] * 3
    assert all(x["_RJEM_MALLOC_CONF"].endswith(",narenas:1") for x in got), got
    # a value the job sets itself is kept
    env = {"AWS_BATCH_JOB_ID": "job-2", "POLARS_MAX_THREADS": "3", "_RJEM_MALLOC_CONF": "narenas:2"}
    run = run_subprocess({**base, **env})
    assert run.code == 0, run.raw
    got = [json.loads(x) for x in committed_lines(s3, bucket, job="job-2")]
    assert [(x["POLARS_MAX_THREADS"], x["thread_pool_size"]) for x in got] == [("3", 3)] * 3
    assert all(x["_RJEM_MALLOC_CONF"].endswith(",narenas:2") for x in got), got
