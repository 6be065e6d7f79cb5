"""The dashboard (cfgen.dashboard): rendered, parsed, checked widget by widget.

Each profile's DashboardBody is substituted with sample values and parsed;
every metric line must be one its namespace publishes with exactly its
dimensions (AWS/Batch: the Batch metrics table; cfgen/Worker: what the worker
really emits, collected from a run on the emulator; cfgen/Cost: the contract),
every expression may use only ids of its own widget, and the failure query
names fields the worker writes.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from spotworker import entry
from spotworker.config import load_config
from spotworker.interrupt import StopFlag
from spotworker.logs import EventLog

from cfgen import contract, dashboard
from cfgen.config import ConfigError, list_profiles, load_profile
from cfgen.lint.support.monitoring import BATCH_METRIC_NAMES
from cfgen.render import to_data

PROFILES = list_profiles()
QUEUE = "cfgen-queue-1"
SAMPLE = {"AWS::Region": "eu-west-1", "LogGroup": "cfgen-logs-1"}


def body_of(data: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's JSON with every ${...} replaced by a sample value."""
    text, variables = data["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"Q0"}, variables  # one queue in every profile today
    values = {**SAMPLE, "Q0": QUEUE}
    assert "${!" not in text
    parsed: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: values[m[1]], text))
    return parsed


def metric_lines(widget: dict[str, Any]) -> Iterator[list[Any]]:
    for line in widget["properties"]["metrics"]:
        if not isinstance(line[0], dict):
            yield line


@pytest.fixture(scope="module")
def worker_emits(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str, tuple[str, ...]]]:
    """(namespace, metric, dimensions) of every EMF metric in two worker runs on the
    emulator's S3: a complete one, and one stopped at once (a Spot notice)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    env_keys = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    mp = pytest.MonkeyPatch()
    for k, v in env_keys.items():
        mp.setenv(k, v)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **creds)
        bucket = f"dash-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        lines = [json.dumps({"key": f"k{i % 7}", "value": i}) for i in range(3000)]
        s3.put_object(Bucket=bucket, Key="input/a.jsonl", Body="\n".join([*lines, "{bad"]).encode())
        found: set[tuple[str, str, tuple[str, ...]]] = set()
        for n, stopped in enumerate((False, True)):
            scratch = tmp_path_factory.mktemp(f"scratch{n}")
            cfg = load_config(
                {
                    **env_keys,
                    "CFGEN_DATA_BUCKET": bucket,
                    "CFGEN_CHECKPOINT_SECONDS": "0",
                    "CFGEN_IMDS_POLL": "0",
                    "TMPDIR": str(scratch),
                    "AWS_BATCH_JOB_ID": f"job-{n}",
                    contract.ENV_JOB_QUEUE_NAME: QUEUE,
                }
            )
            out = io.StringIO()
            stop = StopFlag()
            if stopped:
                stop.request("spot notice")
            code = entry.run(cfg, EventLog(out, job_id=cfg.job_id), stop)
            assert code == (contract.EXIT_INTERRUPTED if stopped else 0), out.getvalue()
            for raw in out.getvalue().splitlines():
                line = json.loads(raw)
                for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
                    for dims in directive["Dimensions"]:
                        assert all(line[d] == QUEUE for d in dims)
                        for m in directive["Metrics"]:
                            found.add((directive["Namespace"], m["Name"], tuple(dims)))
        return found
    finally:
        mp.undo()
        server.stop()


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_has_the_dashboard_on_by_default(name: str) -> None:
    data = to_data(load_profile(name))
    assert data["Resources"]["Dashboard"]["Type"] == "AWS::CloudWatch::Dashboard"
    # No physical name: two stacks per account keep working.
    assert "DashboardName" not in data["Resources"]["Dashboard"]["Properties"]


@pytest.mark.parametrize("name", PROFILES)
def test_widgets_graph_only_published_metrics(
    name: str, worker_emits: set[tuple[str, str, tuple[str, ...]]]
) -> None:
    body = body_of(to_data(load_profile(name)))
    widgets = body["widgets"]
    assert [w["properties"].get("title") for w in widgets[:-1]] == [
        w.title for w in dashboard.WIDGETS[:-1]
    ]
    batch = {(m, ("JobQueueName",)) for m in BATCH_METRIC_NAMES}
    cost = {(m, (contract.METRIC_DIMENSION_QUEUE,)) for m in contract.COST_METRICS}
    worker = {(m, d) for ns, m, d in worker_emits if ns == contract.WORKER_METRICS_NAMESPACE}
    graphed_worker = set()
    for w in widgets:
        if w["type"] != "metric":
            continue
        props = w["properties"]
        assert props["region"] == SAMPLE["AWS::Region"]
        ids = set()
        for line in metric_lines(w):
            ns, metric, *rest = line[:-1] if isinstance(line[-1], dict) else line
            dims = tuple(rest[0::2])
            assert tuple(rest[1::2]) == (QUEUE,) * len(dims)
            known = {"AWS/Batch": batch, contract.COST_METRICS_NAMESPACE: cost}.get(ns, worker)
            assert (metric, dims) in known, (props["title"], ns, metric, dims)
            if ns == contract.WORKER_METRICS_NAMESPACE:
                graphed_worker.add(metric)
            if isinstance(line[-1], dict) and "id" in line[-1]:
                ids.add(line[-1]["id"])
        for line in props["metrics"]:
            if isinstance(line[0], dict):
                used = set(re.findall(r"\b([a-z][a-z0-9]*\d)\b", line[0]["expression"]))
                assert used and used <= ids, (props["title"], line[0])
                ids.add(line[0]["id"])
    # the worker's metrics the dashboard relies on, all really emitted
    assert graphed_worker == {
        "BytesProcessed",
        "BytesCheckpointed",
        "BytesPerSecond",
        "BadRecords",
        "Interruptions",
        "Checkpoints",
    }


def test_the_worker_emits_every_contract_metric(
    worker_emits: set[tuple[str, str, tuple[str, ...]]],
) -> None:
    assert worker_emits == {
        (contract.WORKER_METRICS_NAMESPACE, m, (contract.METRIC_DIMENSION_QUEUE,))
        for m in contract.WORKER_METRICS
    }


def test_failure_widget_queries_the_stack_log_group_for_worker_fields() -> None:
    body = body_of(to_data(load_profile("default")))
    (logs,) = [w for w in body["widgets"] if w["type"] == "log"]
    query = logs["properties"]["query"]
    assert query.startswith(f"SOURCE '{SAMPLE['LogGroup']}'|")
    source = Path(entry.__file__).read_text(encoding="utf-8")  # where both events are logged
    for field in ("reason", "error", "exit_code"):
        assert field in query and f"{field}=" in source
    assert "event in ['failed','interrupt']" in query
    (text,) = [w for w in body["widgets"] if w["type"] == "text"]
    assert dashboard.DOC in text["properties"]["markdown"]
    assert (Path(__file__).resolve().parents[1] / dashboard.DOC).is_file()


def test_the_switch_leaves_it_out(tmp_path: Path) -> None:
    path = tmp_path / "quiet.toml"
    path.write_text("[monitoring]\ndashboard = false\n", encoding="utf-8")
    assert "Dashboard" not in to_data(load_profile(str(path)))["Resources"]


def test_the_switch_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[monitoring]\ndashboard = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^monitoring\.dashboard='yes': must be true or false$"):
        load_profile(str(path))


def test_body_is_compact() -> None:
    text = to_data(load_profile("default"))["Resources"]["Dashboard"]["Properties"][
        "DashboardBody"
    ]["Fn::Sub"][0]
    # no indentation, no spaces between tokens: the template size limit
    assert json.dumps(json.loads(text), separators=(",", ":")) == text
    assert len(text) < 3500


@pytest.mark.parametrize("name", PROFILES)
def test_log_group_is_standard_class_so_emf_is_extracted(name: str) -> None:
    """No LogGroupClass: STANDARD, the class with every CloudWatch Logs feature
    (Infrequent Access supports only a subset); the worker's metrics depend on it.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
    """
    props = to_data(load_profile(name))["Resources"]["LogGroup"]["Properties"]
    assert props.get("LogGroupClass", "STANDARD") == "STANDARD"
