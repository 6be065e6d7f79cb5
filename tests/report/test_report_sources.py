"""cfgen report's inputs: unreadable ledger objects, the emulator's EC2 (Spot price
history, instances) and ECS (container instances), CloudFormation outputs,
CloudWatch (--put-metrics), and a scripted Batch endpoint.

Batch is scripted (AWS_ENDPOINT_URL_BATCH) because moto's Batch without Docker gives
every attempt the container instance "TBD" and no statusReason; the scripted answers
carry the DescribeJobs fields the report reads
(https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html).
Everything else is moto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from report_helpers import base_time, put, record, report

from cfgen.report import aws, compute
from cfgen.report.pricing import SPOT_HISTORY, PriceBook, history_from_api
from cfgen.report.records import Attempt, Problem, parse_record

# --------------------------------------------------------------------------- ledger objects


def test_unreadable_and_other_format_objects_are_reported_not_fatal(
    client: Any, bucket: str, aws_env: Any
) -> None:
    s3 = client("s3")
    t0 = base_time(1)
    good = put(s3, bucket, record("ok-1", None, 1, t0, 3600, lifecycle="on-demand"))
    newer = record("ok-2", None, 1, t0, 1800, lifecycle="on-demand")
    newer.update(format=2, some_future_field={"x": 1})
    put(s3, bucket, newer)
    bad = {
        "ledger/bad/0/1.json": b"{not json",
        "ledger/bad/0/2.json": b"[1, 2]",
        "ledger/bad/0/3.json": json.dumps({**record("b", None, 3, t0, 60), "format": 0}).encode(),
        "ledger/bad/0/4.json": json.dumps({"format": "1"}).encode(),
        "ledger/bad/0/5.json": json.dumps({**record("b", None, 5, t0, 60), "attempt": -1}).encode(),
        "ledger/bad/0/6.json": json.dumps(
            {**record("b", None, 6, t0, 60), "started_at": "yesterday"}
        ).encode(),
        "ledger/bad/0/7.json": json.dumps(
            {k: v for k, v in record("b", None, 7, t0, 60).items() if k != "ended_at"}
        ).encode(),
        "ledger/bad/0/8.json": b"\xff\xfe" * 10,
        "ledger/bad/0/9.json": b"[" * 100_000,
    }
    for key, body in bad.items():
        put(s3, bucket, body, key=key)
    done = report("--bucket", bucket, "--format", "json", "--offline-prices")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    problems = {p["key"]: p["reason"] for p in body["problems"]}
    assert set(problems) == set(bad), problems
    assert problems["ledger/bad/0/1.json"].startswith("not JSON")
    assert problems["ledger/bad/0/2.json"] == "not a JSON object"
    assert problems["ledger/bad/0/3.json"].startswith("format 0 unknown")
    assert problems["ledger/bad/0/4.json"].startswith("format '1' unknown")
    assert "attempt" in problems["ledger/bad/0/5.json"]
    jobs = {a["job_id"] for a in body["attempts"]}
    assert jobs == {"ok-1", "ok-2"}
    assert body["groups"][0]["attempts"] == 2
    table = report("--bucket", bucket, "--offline-prices")
    assert table.returncode == 0
    assert f"Unreadable ledger objects ({len(bad)}):" in table.stdout
    assert good not in table.stdout


def test_parse_record_never_raises_on_odd_values() -> None:
    base = record("j", 0, 1, base_time(1), 60)
    for field, value in [
        ("host", []),
        ("work", "x"),
        ("exit", 5),
        ("job_id", 7),
        ("array_index", True),
        ("started_at", 10**30),
    ]:
        got = parse_record("k", json.dumps({**base, field: value}).encode())
        assert isinstance(got, Problem), field
    ok = parse_record("k", json.dumps(base).encode())
    assert isinstance(ok, Attempt) and ok.seconds == 60


# --------------------------------------------------------------------------- prices


def test_spot_cost_follows_the_price_history_per_hour() -> None:
    t0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    items = [
        {
            "InstanceType": "c6i.xlarge",
            "AvailabilityZone": "us-east-1a",
            "SpotPrice": p,
            "Timestamp": t0 + timedelta(minutes=m),
        }
        for m, p in ((-300, "0.0600"), (30, "0.0900"), (90, "0.0300"))
    ]
    book = PriceBook("us-east-1", history=history_from_api(items))
    # 10:00-12:00: 30 min at 0.06, 60 min at 0.09, 30 min at 0.03
    cost, source = book.spot_cost("c6i.xlarge", "us-east-1a", t0, t0 + timedelta(hours=2)) or (
        0,
        "",
    )
    assert source == SPOT_HISTORY
    assert cost == Decimal("0.0300") + Decimal("0.0900") + Decimal("0.0150")
    # another AZ has no history: the bundled estimate, labelled
    other = book.spot_cost("c6i.xlarge", "us-east-1b", t0, t0 + timedelta(hours=1))
    assert other is not None and other[1] == "bundled-estimate"
    # history that starts after the attempt began does not price it
    late = book.spot_cost("c6i.xlarge", "us-east-1a", t0 - timedelta(days=1), t0)
    assert late is not None and late[1] == "bundled-estimate"


def test_fargate_spot_priced_from_the_fargate_table() -> None:
    t0 = base_time(1)
    a = parse_record(
        "k",
        json.dumps(
            record(
                "f",
                None,
                1,
                t0,
                3600,
                platform="fargate",
                instance_type=None,
                lifecycle=None,
                az=None,
                vcpus=0.5,
                memory_mib=1024,
            )
        ).encode(),
    )
    assert isinstance(a, Attempt)
    book = PriceBook("us-east-1")
    spot = compute.price(a, book, fargate_spot=True)
    rates, od = book.fargate(spot=True), book.fargate(spot=False)
    assert spot.capacity == "spot"
    assert spot.cost == Decimal("0.5") * rates.vcpu_hour + 1 * rates.gb_hour
    assert spot.on_demand_equivalent == Decimal("0.5") * od.vcpu_hour + 1 * od.gb_hour
    unknown = compute.price(a, book, fargate_spot=None)
    assert unknown.capacity == "on-demand" and any("Fargate assumed" in m for m in unknown.missing)


def test_the_emulators_spot_price_history(client: Any, aws_env: Any) -> None:
    """What moto answers (docs/moto-notes.md): every offered pool, price 0.00001, one
    fixed timestamp (2006-01-02). The report's request and parsing work against it; the
    command line never uses such prices (not AWS's endpoint)."""
    ec2 = client("ec2")
    t0 = base_time(1)
    items = aws.spot_history(ec2, {("c6i.xlarge", "us-east-1a")}, t0, t0 + timedelta(hours=1))
    assert items, "moto returned no Spot price history"
    assert {i["SpotPrice"] for i in items} == {"0.00001"}
    assert {i["Timestamp"].year for i in items} == {2006}
    book = PriceBook("us-east-1", history=history_from_api(items))
    cost = book.spot_cost("c6i.xlarge", "us-east-1a", t0, t0 + timedelta(hours=2))
    assert cost == (Decimal("0.00002"), SPOT_HISTORY)
    assert not aws.is_aws_endpoint(ec2)


# --------------------------------------------------------------------------- a stack, Batch


class ScriptedBatch:
    """Batch's REST-JSON API for ListJobs, DescribeJobs, DescribeComputeEnvironments."""

    def __init__(self, jobs: list[dict[str, Any]], ces: list[dict[str, Any]]) -> None:
        self.requests: list[str] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                req = json.loads(self.rfile.read(length) or b"{}")
                script.requests.append(self.path)
                if self.path == "/v1/listjobs":
                    out: dict[str, Any] = {
                        "jobSummaryList": [
                            {"jobId": j["jobId"], "jobName": "x", "status": j["status"]}
                            for j in jobs
                            if ":" not in j["jobId"]
                        ]
                    }
                elif self.path == "/v1/describejobs":
                    out = {"jobs": [j for j in jobs if j["jobId"] in req["jobs"]]}
                elif self.path == "/v1/describecomputeenvironments":
                    out = {"computeEnvironments": ces}
                else:
                    out = {}
                data = json.dumps(out).encode()
                self.send_response(200 if out else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


TEMPLATE = {
    "Resources": {"DataBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {
        "DataBucketName": {"Value": {"Ref": "DataBucket"}},
        "JobQueueArn": {"Value": "arn:aws:batch:us-east-1:123456789012:job-queue/rep-queue"},
    },
}


@pytest.fixture
def stack(client: Any) -> Iterator[tuple[str, str]]:
    cfn = client("cloudformation")
    name = f"rep-{datetime.now(UTC):%H%M%S%f}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(TEMPLATE))
    outputs = cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    yield name, next(o["OutputValue"] for o in outputs if o["OutputKey"] == "DataBucketName")


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_jobs_without_the_worker_are_filled_from_batch_ecs_and_ec2(
    client: Any, aws_env: dict[str, str], stack: tuple[str, str], tmp_path: Path
) -> None:
    name, bucket = stack
    ec2, ecs = client("ec2"), client("ecs")
    spot = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="c6i.xlarge",
        InstanceMarketOptions={"MarketType": "spot"},
        Placement={"AvailabilityZone": "us-east-1b"},
    )["Instances"][0]
    ecs.create_cluster(clusterName="AWSBatch-rep")
    doc = {"instanceId": spot["InstanceId"], "region": "us-east-1", "instanceType": "c6i.xlarge"}
    ci = ecs.register_container_instance(
        cluster="AWSBatch-rep", instanceIdentityDocument=json.dumps(doc)
    )["containerInstance"]["containerInstanceArn"]
    gone = "arn:aws:ecs:us-east-1:123456789012:container-instance/AWSBatch-rep/0000dead"
    t0 = base_time(1)
    jobs = [
        {
            "jobId": "nolog-1",
            "status": "SUCCEEDED",
            "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/rep-queue",
            "shareIdentifier": "teamA",
            "container": {
                "resourceRequirements": [
                    {"type": "VCPU", "value": "2"},
                    {"type": "MEMORY", "value": "4096"},
                ]
            },
            "attempts": [
                {
                    "container": {"containerInstanceArn": ci},
                    "startedAt": _ms(t0),
                    "stoppedAt": _ms(t0 + timedelta(minutes=30)),
                    "statusReason": "Host EC2 (instance i-1) terminated.",
                },
                {
                    "container": {"containerInstanceArn": gone, "exitCode": 0},
                    "startedAt": _ms(t0 + timedelta(hours=1)),
                    "stoppedAt": _ms(t0 + timedelta(hours=2)),
                    "statusReason": "Essential container in task exited",
                },
            ],
        },
        {
            "jobId": "withlog-1",
            "status": "SUCCEEDED",
            "shareIdentifier": "teamB",
            "container": {
                "resourceRequirements": [
                    {"type": "VCPU", "value": "4"},
                    {"type": "MEMORY", "value": "8192"},
                ]
            },
            "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/rep-queue",
            "attempts": [
                {
                    "container": {"containerInstanceArn": ci, "exitCode": 0},
                    "startedAt": _ms(t0),
                    "stoppedAt": _ms(t0 + timedelta(hours=1)),
                }
            ],
        },
    ]
    ces = [
        {"computeEnvironmentName": "FargateSpotCE", "computeResources": {"type": "FARGATE_SPOT"}}
    ]
    s3 = client("s3")
    put(s3, bucket, record("withlog-1", None, 1, t0, 3600, queue="rep-queue"))
    put(
        s3,
        bucket,
        record(
            "fg-1",
            None,
            1,
            t0,
            3600,
            platform="fargate",
            instance_type=None,
            lifecycle=None,
            az=None,
            vcpus=1,
            memory_mib=2048,
            queue="rep-queue",
            ce="FargateSpotCE",
        ),
    )
    batch = ScriptedBatch(jobs, ces)
    try:
        env = {**aws_env, "AWS_ENDPOINT_URL_BATCH": batch.url}
        done = report("--stack", name, "--format", "json", env=env)
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        table = report("--stack", name, env=env)
    finally:
        batch.close()
    assert "/v1/describejobs" in batch.requests
    assert len(body["attempts"]) == 4
    by = {(a["job_id"], a["attempt"]): a for a in body["attempts"]}
    assert set(by) == {("nolog-1", 1), ("nolog-1", 2), ("withlog-1", 1), ("fg-1", 1)}
    first, second = by[("nolog-1", 1)], by[("nolog-1", 2)]
    assert (first["source"], first["capacity"], first["instance_type"]) == (
        "batch",
        "spot",
        "c6i.xlarge",
    )
    assert first["availability_zone"] == "us-east-1b" and first["share"] == "teamA"
    # a reclaimed attempt without ledger numbers: all of its cost is waste
    assert Decimal(first["waste"]) == Decimal(first["cost"]) > 0
    assert "instance (terminated, or Fargate)" in second["missing"] and second["cost"] is None
    assert by[("withlog-1", 1)]["source"] == "ledger"  # not doubled by Batch
    assert (
        by[("fg-1", 1)]["capacity"] == "spot" and by[("fg-1", 1)]["price_source"] == "fargate-table"
    )
    shares = [g for g in body["groups"] if g["level"] == "share"]
    # the worker cannot see its share identifier: Batch fills it for the ledger record,
    # and its size where the record has one (the record's 2 vCPU wins over Batch's 4)
    assert [g["name"] for g in shares] == ["teamA", "teamB"]
    assert by[("withlog-1", 1)]["share"] == "teamB"
    assert Decimal(by[("withlog-1", 1)]["vcpu_hours"]) == 2
    assert "EC2 endpoint" in body["spot_prices"] and "not AWS's" in body["spot_prices"]
    assert "Missing figures:" in table.stdout
    assert "attempt(s): instance (terminated, or Fargate)" in table.stdout
    assert "ledger record (job does not run the worker, or the attempt was killed)" in table.stdout


def test_put_metrics_publishes_daily_totals_per_queue(
    client: Any, bucket: str, aws_env: Any
) -> None:
    from cfgen import contract

    s3 = client("s3")
    t0 = base_time(1)
    put(s3, bucket, record("m-1", None, 1, t0, 3600, queue="metrics-q"))
    done = report("--bucket", bucket, "--offline-prices", "--put-metrics")
    assert done.returncode == 0, done.stderr
    assert "4 datums put to CloudWatch namespace cfgen/Cost" in done.stderr
    cw = client("cloudwatch")
    metrics = cw.list_metrics(Namespace=contract.COST_METRICS_NAMESPACE)["Metrics"]
    names = {
        m["MetricName"]
        for m in metrics
        if m["Dimensions"] == [{"Name": contract.METRIC_DIMENSION_QUEUE, "Value": "metrics-q"}]
    }
    assert names == set(contract.COST_METRICS)
    stats = cw.get_metric_statistics(
        Namespace=contract.COST_METRICS_NAMESPACE,
        MetricName=contract.COST_METRIC_SPOT,
        Dimensions=[{"Name": contract.METRIC_DIMENSION_QUEUE, "Value": "metrics-q"}],
        StartTime=t0 - timedelta(days=1),
        EndTime=t0 + timedelta(days=1),
        Period=86400,
        Statistics=["Sum"],
    )["Datapoints"]
    body = json.loads(report("--bucket", bucket, "--offline-prices", "--format", "json").stdout)
    want = Decimal(body["groups"][0]["cost_spot"]).quantize(Decimal("0.000001"))
    assert [Decimal(str(d["Sum"])).quantize(Decimal("0.000001")) for d in stats] == [want]


def test_chart_is_written(client: Any, bucket: str, aws_env: Any, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    s3 = client("s3")
    t0 = base_time(2)
    put(s3, bucket, record("c-1", None, 1, t0, 3600, reason="interrupted"))
    put(s3, bucket, record("c-1", None, 2, t0 + timedelta(days=1), 3600, work=(1000, 0, 1000)))
    chart = tmp_path / "cost.png"
    done = report("--bucket", bucket, "--offline-prices", "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "--format='xml': must be one of table, csv, json"),
        (["--since", "2999-01-01"], "--since='2999-01-01': must not be in the future"),
        (["--since", "900d"], "--since='900d': must be at most 400 days back"),
        (["--since", "last week"], "--since='last week': must be an age"),
        (["--job", "a/b"], "--job='a/b': must be a job id"),
        (["--chart", "out.svg"], "--chart='out.svg': must end in .png"),
        (["--interruption", "lots"], "--interruption"),
        (["--profile", "nope"], "nope"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, aws_env: Any
) -> None:
    done = report("--bucket", "b", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("cfgen report: ") and message in line
    assert list(tmp_path.iterdir()) == []


def test_aws_errors_are_one_line_exit_1(aws_env: Any) -> None:
    done = report("--bucket", "no-such-bucket-for-report")
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert "NoSuchBucket" in line
    missing = report("--stack", "no-such-stack")
    assert missing.returncode == 2
    assert "--stack='no-such-stack': no such stack" in missing.stderr


def test_chart_without_matplotlib_is_one_line_before_any_aws_call(tmp_path: Path) -> None:
    # None in sys.modules is Python's own "not importable" marker (the test extras
    # install matplotlib); no AWS endpoint is configured, so any call would fail loudly.
    import subprocess
    import sys

    target = tmp_path / "cost.png"
    code = (
        "import sys; sys.modules['matplotlib'] = None;"
        "from cfgen.report.cli import main;"
        f"sys.exit(main({['--bucket', 'b', '--chart', str(target)]!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    (line,) = done.stderr.splitlines()
    assert line.startswith("cfgen report: ") and "matplotlib is not installed" in line
    assert list(tmp_path.iterdir()) == []


def test_batch_unreachable_is_a_note_not_a_failure(
    client: Any, aws_env: dict[str, str], stack: tuple[str, str]
) -> None:
    import socket

    name, bucket = stack
    put(client("s3"), bucket, record("only-ledger", None, 1, base_time(1), 3600))
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {**aws_env, "AWS_ENDPOINT_URL_BATCH": closed, "AWS_MAX_ATTEMPTS": "1"}
    done = report("--stack", name, "--offline-prices", env=env)
    assert done.returncode == 0, done.stderr
    assert "Batch DescribeJobs failed (no share or size filled)" in done.stdout
    assert "Jobs without a ledger record not filled" in done.stdout
    total = next(line for line in done.stdout.splitlines() if line.startswith("total"))
    assert total.split()[2] == "1"  # the ledger's attempt is still reported
