"""The README's "What did it cost?" section: a small array job run on the emulator.

    python -m cfgen.report.readme          # rewrite README.md between the report markers
    python -m cfgen.report.readme --check  # exit 1 if the section is stale

What it does, every time: starts moto's S3 on 127.0.0.1 (a free port) and a scripted
IMDSv2 (one per shard: instance type, lifecycle, AZ, id), writes seeded input, and
runs the real worker (``spotworker``, in this process) as a 3-child array job. Child
1's first attempt is stopped at its second checkpoint (the worker sees SIGTERM's
flag, flushes, exits 143) and its retry resumes on an On-Demand instance. The
worker writes its ledger records itself. Then, so that the section is the same on
every run, the records' start and end times are set to a fixed schedule (the
emulator runs each attempt in a fraction of a second); nothing else is changed.
The report is rendered by the same code as ``cfgen report`` with its clock fixed.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cfgen import clikit
from cfgen.clikit import replace_sections

PROG = "python -m cfgen.report.readme"
SECTION = "report"
BUCKET = "readme-report-demo"
JOB = "demo-array"
SHARDS = 3
#: The fixed schedule: each attempt starts at T0 + offset and runs this long (seconds).
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
#: (index, attempt) -> (instance type, lifecycle, AZ, start offset s, duration s)
SCHEDULE: dict[tuple[int, int], tuple[str, str, str, int, int]] = {
    (0, 1): ("c6i.xlarge", "spot", "us-east-1a", 0, 2700),
    (1, 1): ("c6i.xlarge", "spot", "us-east-1b", 0, 1260),
    (1, 2): ("m6i.xlarge", "on-demand", "us-east-1b", 1440, 1980),
    (2, 1): ("c6i.2xlarge", "spot", "us-east-1a", 0, 3240),
}
ARGS = ["--bucket", BUCKET, "--since", "2026-12-01", "--job", JOB, "--offline-prices"]


class _IMDS:
    """IMDSv2 for one instance: token PUT, then GET /latest/meta-data/<category>; and
    the ECS task metadata endpoint v4 (GET /v4/<id>/task) of a 2 vCPU / 4 GiB task."""

    def __init__(self, facts: dict[str, str]) -> None:
        task = json.dumps(
            {"LaunchType": "EC2", "Limits": {"CPU": 2, "Memory": 4096}, "TaskARN": "arn:demo"}
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes = b"") -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                self._send(200, b"readme-token")

            def do_GET(self) -> None:
                if self.path == "/v4/demo/task":
                    self._send(200, task)
                    return
                if self.headers.get("X-aws-ec2-metadata-token") != "readme-token":
                    self._send(401)
                    return
                value = facts.get(self.path.removeprefix("/latest/meta-data/"))
                self._send(200, value.encode()) if value else self._send(404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def _emulator() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's state lives in the process, not in the server: start from nothing.
    import urllib.request

    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 - the emulator on 127.0.0.1
    try:
        yield url
    finally:
        server.stop()


_ENV = {
    "AWS_ACCESS_KEY_ID": "readme",
    "AWS_SECRET_ACCESS_KEY": "readme",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@contextmanager
def _environment(endpoint: str) -> Iterator[None]:
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(_ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _inputs(s3: Any) -> None:
    rng = random.Random(22)  # noqa: S311 - seeded demo data, not a secret
    for n in range(6):
        lines = [
            json.dumps({"key": f"k{rng.randrange(20)}", "value": rng.randrange(-999, 999) / 100})
            for _ in range(4000)
        ]
        s3.put_object(Bucket=BUCKET, Key=f"input/part-{n}.jsonl", Body="\n".join(lines) + "\n")


def _run_shard(index: int, attempt: int, scratch: str, stop_at_checkpoint: int | None) -> int:
    import io

    from spotworker import entry
    from spotworker.config import load_config
    from spotworker.interrupt import StopFlag
    from spotworker.logs import EventLog

    itype, lifecycle, az, _, _ = SCHEDULE[(index, attempt)]
    imds = _IMDS(
        {
            "instance-type": itype,
            "instance-life-cycle": lifecycle,
            "placement/availability-zone": az,
            "instance-id": f"i-0demo{index}{attempt}",
        }
    )
    stop = StopFlag()

    seen = [0]

    class _Log(EventLog):
        def event(self, name: str, **fields: Any) -> None:
            if name == "checkpoint" and stop_at_checkpoint is not None:
                seen[0] += 1
                if seen[0] == stop_at_checkpoint:
                    stop.request("SIGTERM")
            super().event(name, **fields)

    env = {
        **os.environ,
        "CFGEN_DATA_BUCKET": BUCKET,
        "AWS_BATCH_JOB_ID": f"{JOB}:{index}",
        "AWS_BATCH_JOB_ARRAY_INDEX": str(index),
        "CFGEN_ARRAY_SIZE": str(SHARDS),
        "AWS_BATCH_JOB_ATTEMPT": str(attempt),
        "AWS_BATCH_JQ_NAME": "demo-JobQueue",
        "AWS_BATCH_CE_NAME": "SpotComputeEnvironment" if lifecycle == "spot" else "OnDemandCE",
        "CFGEN_IMDS_POLL": "1",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
        "ECS_CONTAINER_METADATA_URI_V4": f"{imds.url}/v4/demo",
        "CFGEN_CHECKPOINT_SECONDS": "0",
        "CFGEN_READ_CHUNK_BYTES": "16384",
        "TMPDIR": scratch,
    }
    try:
        cfg = load_config(env)
        log = _Log(io.StringIO(), job_id=cfg.job_id, array_index=index, attempt=attempt)
        return entry.run(cfg, log, stop)
    finally:
        imds.close()


def _fix_times(s3: Any) -> None:
    for (index, attempt), (_, _, _, offset, seconds) in SCHEDULE.items():
        key = f"ledger/{JOB}/{index}/{attempt}.json"
        rec = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        start = T0 + timedelta(seconds=offset)
        rec["started_at"] = start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        rec["ended_at"] = (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        rec["duration_s"] = seconds
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(rec, sort_keys=True).encode())


def run_demo() -> str:
    """Run the array job on the emulator and return the report's table."""
    import boto3

    from cfgen.report import cli, output

    with _emulator() as endpoint, _environment(endpoint), tempfile.TemporaryDirectory() as tmp:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        _inputs(s3)
        codes = [
            _run_shard(0, 1, tmp, None),
            _run_shard(1, 1, tmp, 2),
            _run_shard(1, 2, tmp, None),
            _run_shard(2, 1, tmp, None),
        ]
        if codes != [0, 143, 0, 0]:
            raise RuntimeError(f"the demo run's exit codes were {codes}, expected [0, 143, 0, 0]")
        _fix_times(s3)
        args = cli.parser().parse_args(ARGS)
        since = cli.parse_since(args.since, NOW)
        built = cli.build(boto3.session.Session(), "us-east-1", args, since=since, now=NOW)
        return output.table(built.report)


def render() -> str:
    table = run_demo()
    return f"""
## What did it cost?

After a run, `cfgen report --stack NAME` answers what the jobs really cost
([docs/report.md](docs/report.md)). The worker writes one small cost record per
attempt to `ledger/` in the data bucket (job, attempt, queue, start and end, exit
reason, bytes processed, and where it ran: instance type, Spot or On-Demand, AZ
from IMDSv2, or the Fargate task size); the report prices each attempt with the
Spot price history of its instance type, AZ and hour (offline: the bundled
estimate, labelled), puts the same work at On-Demand prices next to it, counts
the work lost to reclaims, and shows what `cfgen simulate` predicts for the same
shape. Jobs that do not run the worker are filled from Batch, ECS and EC2 where
possible, and the report says which figures are missing.

This section is generated by `{PROG}` and a test keeps it current:
the real worker runs a 3-child array job (2 vCPU, 4 GiB each) on the emulator
(moto S3; a scripted IMDS and ECS task metadata endpoint per shard); child 1 is
interrupted at its second checkpoint on Spot and resumes On-Demand from it, so
nothing is redone. Only the records' start and end times are then set to a
fixed schedule, so the figures are the same on every run:

```console
$ python -m cfgen report {" ".join(ARGS)}
{table}
```

Options: `--stack NAME` (its outputs name the bucket and queues), `--since`
(an age like `7d`, a date, a UTC time), `--job ID`, `--format table|csv|json`,
`--chart cost.png` (daily cost by capacity type and the waste; needs
`pip install 'cfgen[chart]'`), `--put-metrics` (daily totals per queue to
CloudWatch `cfgen/Cost`, graphed by the dashboard).
"""


def splice(readme: str, section: str, *, source: str = "README.md") -> str:
    return replace_sections(readme, {SECTION: section}, source=source)


def _main(argv: list[str]) -> int:
    return clikit.readme_section_main(
        argv,
        prog=PROG,
        section=SECTION,
        what="a real array job run on the emulator",
        render=render,
        fix=PROG,
    )


def main(argv: list[str]) -> int:
    return clikit.run(PROG, lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
