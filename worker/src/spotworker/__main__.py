"""Entry point: ``python -m spotworker`` (run this shard) or ``python -m spotworker merge``.

Exit codes: see spotworker.exitcodes (0 success, 75 transient and 143
interrupted are retried by the job definition, anything else is not).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from spotworker import exitcodes
from spotworker.config import Config, load_config
from spotworker.errors import ConfigError, WorkerError
from spotworker.harness import Harness, Interrupted, resolve_shards
from spotworker.interrupt import SpotNoticePoller, StopFlag
from spotworker.logs import EventLog
from spotworker.results import aggregate_result, commit_manifests
from spotworker.s3io import make_client
from spotworker.tasks import load_task


def run(cfg: Config, log: EventLog, stop: StopFlag) -> int:
    """Run this shard; returns the exit code (never raises for expected failures)."""
    poller: SpotNoticePoller | None = None
    try:
        shard, shards = resolve_shards(cfg)
        log.bind(array_size=shards)
        task = load_task(cfg)
        if cfg.imds_poll == "1" or (cfg.imds_poll == "auto" and cfg.job_id != "local"):
            poller = SpotNoticePoller(cfg.imds_endpoint, cfg.imds_interval_seconds, stop, log)
            poller.start()
        harness = Harness(cfg, make_client(cfg), task, log, stop, shard=shard, shards=shards)
        try:
            return harness.run()
        except Interrupted:
            log.event(
                "interrupt",
                reason=stop.reason,
                signals=stop.signals,
                flush_s=round(time.monotonic() - stop.first_at, 3),
                exit_code=exitcodes.INTERRUPTED,
                **harness.stats(),
            )
            return exitcodes.INTERRUPTED
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except WorkerError as exc:
        log.event(
            "failed", reason=type(exc).__name__, error=str(exc)[:500], exit_code=exc.exit_code
        )
        return exc.exit_code
    except Exception as exc:  # a bug: permanent, but logged as one structured line
        log.event(
            "failed",
            reason="unexpected",
            error=f"{type(exc).__name__}: {exc}"[:500],
            exit_code=exitcodes.SOFTWARE,
        )
        return exitcodes.SOFTWARE
    finally:
        if poller is not None:
            poller.finished.set()


def merge(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="spotworker merge",
        description=(
            "Merge the example task's committed output of a job into <output>/<job>/result.jsonl."
        ),
    )
    parser.add_argument("--job-id", required=True, help="the (parent) job id")
    parser.add_argument(
        "--shards", type=int, required=True, help="the array size (1 if not an array)"
    )
    args = parser.parse_args(argv)
    if args.shards < 1:
        print(f"--shards={args.shards}: must be at least 1", file=sys.stderr)
        return exitcodes.USAGE
    try:
        cfg = load_config()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return exitcodes.USAGE
    job = args.job_id.split(":", 1)[0]
    client = make_client(cfg)
    try:
        manifests = commit_manifests(client, cfg.bucket, cfg.output_prefix, job)
        missing = sorted(set(range(args.shards)) - set(manifests))
        if missing:
            print(
                f"--shards={args.shards}: shards {missing[:10]} not committed yet", file=sys.stderr
            )
            return exitcodes.TRANSIENT
        result = aggregate_result(client, cfg.bucket, manifests)
        with tempfile.NamedTemporaryFile("wb", dir=cfg.scratch_dir, delete=False) as fh:
            for key in sorted(result):
                count, total, lo, hi = result[key]
                fh.write(
                    json.dumps(
                        {
                            "key": key,
                            "count": count,
                            "sum": str(total),
                            "min": str(lo),
                            "max": str(hi),
                        },
                        sort_keys=True,
                        separators=(",", ":"),
                        ensure_ascii=False,
                    ).encode()
                    + b"\n"
                )
        path = Path(fh.name)
        key = f"{cfg.output_prefix}{job}/result.jsonl"
        client.upload_file(str(path), cfg.bucket, key)
        path.unlink()
    except WorkerError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    print(
        json.dumps(
            {"result": f"s3://{cfg.bucket}/{key}", "keys": len(result), "shards": len(manifests)}
        )
    )
    return exitcodes.SUCCESS


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        return merge(argv[1:])
    if argv not in ([], ["run"]):
        print(
            f"arguments={' '.join(argv)!r}: expected nothing, 'run' or 'merge ...'", file=sys.stderr
        )
        return exitcodes.USAGE
    stop = StopFlag()
    stop.install()  # before anything slow, so an early SIGTERM is not lost
    try:
        cfg = load_config()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return exitcodes.USAGE
    log = EventLog(job_id=cfg.job_id, array_index=cfg.array_index, attempt=cfg.attempt)
    stop.arm_watchdog(cfg.grace_seconds, log)
    return run(cfg, log, stop)


if __name__ == "__main__":
    sys.exit(main())
