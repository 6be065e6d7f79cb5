"""The command line: run this shard (the default) or ``merge``; ``__main__`` calls it.

Exit codes: see spotworker.exitcodes (0 success, 75 transient and 143
interrupted are retried by the job definition, anything else is not). Every
failure is classified here, once: configuration (2, one line on stderr, before
any S3 request), bad data (65), missing input (66), a bug (70), transient (75),
access denied (77), interrupted (143).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import NoReturn

from spotworker import exitcodes
from spotworker.config import Config, load_config
from spotworker.errors import ConfigError, WorkerError, classify, storage_error
from spotworker.harness import Harness, Interrupted, make_scratch, resolve_shards
from spotworker.interrupt import SpotNoticePoller, StopFlag
from spotworker.ledger import Attempt
from spotworker.logs import EventLog
from spotworker.pool import engine_threads, set_engine_env
from spotworker.results import aggregate_result, commit_layouts, commit_manifests
from spotworker.s3io import check_credentials, make_client, new_session
from spotworker.tasks import load_task
from spotworker.vcpus import resolve_processes

USAGE = """\
usage: python -m spotworker [run]
       python -m spotworker merge --job-id JOB [--shards N]

Run one shard of an AWS Batch job (the default), or merge the example task's
committed output of a job into <output prefix><job>/result.jsonl.
Configuration comes from the environment (CFGEN_*, AWS_BATCH_*, TMPDIR): see
worker/README.md. Exit codes: 0 done, 2 bad configuration, 65 bad data,
66 input missing, 70 a bug, 75 transient (retry), 77 access denied,
143 interrupted (retry).
"""


def _as_worker_error(exc: BaseException) -> WorkerError:
    """The one mapping from an exception to the WorkerError that fixes the exit code."""
    if isinstance(exc, WorkerError):
        return exc
    if isinstance(exc, OSError):
        known = storage_error(exc, "scratch")
        if known is not None:
            return known
    return classify(exc, "unexpected")


def run(cfg: Config, log: EventLog, stop: StopFlag) -> int:
    """Run this shard, then write its cost record (spotworker.ledger: bounded in time,
    never changes the exit code); returns the exit code."""
    attempt = Attempt(cfg)
    code = _run(cfg, log, stop, attempt)
    attempt.finish(code, stop, log)
    return code


def _run(cfg: Config, log: EventLog, stop: StopFlag, attempt: Attempt) -> int:
    """Run this shard; returns the exit code (never raises for expected failures)."""
    poller: SpotNoticePoller | None = None
    scratch: Path | None = None
    if cfg.job_queue:  # on Batch: EMF metrics in the log lines (spotworker.metrics)
        log.enable_metrics(cfg.job_queue)
    try:
        processes, why = resolve_processes(cfg)
        # this process runs the task when there is one process (and the pool's
        # processes inherit the same settings)
        set_engine_env(engine_threads(processes, why))
        task = load_task(cfg)
        scratch = make_scratch(cfg)
        session = new_session()  # one for the run's clients (spotworker.s3io.new_session)
        attempt.session = session
        check_credentials(session)
        shard, shards = resolve_shards(cfg)
        log.bind(array_size=shards)
        if cfg.poll_imds:
            poller = SpotNoticePoller(cfg.imds_endpoint, cfg.imds_interval_seconds, stop, log)
            poller.start()
        harness = Harness(
            cfg,
            make_client(cfg, session),
            task,
            log,
            stop,
            shard=shard,
            shards=shards,
            scratch=scratch,
            processes=processes,
            processes_info=why,
        )
        attempt.stats = harness.stats
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
    except Exception as exc:
        err = _as_worker_error(exc)
        if isinstance(err, ConfigError):
            print(str(err), file=sys.stderr)
        elif err.exit_code == exitcodes.SOFTWARE and not isinstance(exc, WorkerError):
            log.event(  # a bug: permanent, but logged as one structured line
                "failed",
                reason="unexpected",
                error=f"{type(exc).__name__}: {exc}"[:500],
                exit_code=err.exit_code,
            )
        else:
            log.event(
                "failed", reason=type(err).__name__, error=str(err)[:500], exit_code=err.exit_code
            )
        return err.exit_code
    finally:
        if poller is not None:
            poller.finished.set()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(exitcodes.USAGE)


def merge(argv: list[str]) -> int:
    parser = _Parser(
        prog="spotworker merge",
        description=(
            "Merge the example task's committed output of a job into <output>/<job>/result.jsonl."
        ),
    )
    parser.add_argument("--job-id", required=True, help="the (parent) job id")
    parser.add_argument(
        "--shards",
        type=int,
        help="the array size (1 if not an array); picks the commit markers of that layout. "
        "Needed only when the job id has markers of more than one array size.",
    )
    args = parser.parse_args(argv)
    if args.shards is not None and not 1 <= args.shards <= 10_000:
        print(f"--shards={args.shards}: must be between 1 and 10000", file=sys.stderr)
        return exitcodes.USAGE
    job = args.job_id.split(":", 1)[0]
    scratch: Path | None = None
    try:
        cfg = load_config()
        if not job or "/" in job:
            raise ConfigError(f"--job-id={args.job_id!r}: must be a job id (no '/')")
        scratch = make_scratch(cfg)
        client = make_client(cfg)
        manifests = commit_manifests(client, cfg.bucket, cfg.output_prefix, job, args.shards)
        shards = args.shards or next(iter(manifests.values()), {}).get("shards", 1)
        missing = sorted(set(range(shards)) - set(manifests))
        if missing:
            raise WorkerError(
                f"--shards={shards}: shards {missing[:10]} of job {job!r} not committed yet",
                exit_code=exitcodes.TRANSIENT,
            )
        result = aggregate_result(client, cfg.bucket, manifests)
        path = scratch / "result.jsonl"
        with path.open("wb") as fh:
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
        key = f"{cfg.output_prefix}{job}/result.jsonl"
        try:
            client.upload_file(str(path), cfg.bucket, key)
        except Exception as exc:  # s3transfer wraps the ClientError
            raise classify(exc.__cause__ or exc, f"upload s3://{cfg.bucket}/{key}") from None
        others = sorted(set(commit_layouts(client, cfg.bucket, cfg.output_prefix, job)) - {shards})
    except Exception as exc:
        err = _as_worker_error(exc)
        print(" ".join(str(err).split()), file=sys.stderr)
        return err.exit_code
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    summary: dict[str, object] = {
        "result": f"s3://{cfg.bucket}/{key}",
        "keys": len(result),
        "shards": len(manifests),
    }
    if others:
        summary["ignored_layouts"] = others
    print(json.dumps(summary))
    return exitcodes.SUCCESS


def main(argv: list[str] | None = None, stop: StopFlag | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        return merge(argv[1:])
    if argv in (["-h"], ["--help"], ["run", "-h"], ["run", "--help"]):
        print(USAGE, end="")
        return exitcodes.SUCCESS
    if argv not in ([], ["run"]):
        print(
            f"arguments={' '.join(argv)!r}: expected nothing, 'run' or 'merge ...' (see --help)",
            file=sys.stderr,
        )
        return exitcodes.USAGE
    if stop is None:
        stop = StopFlag()
        stop.install()
    try:
        cfg = load_config()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return exitcodes.USAGE
    log = EventLog(job_id=cfg.job_id, array_index=cfg.array_index, attempt=cfg.attempt)
    stop.arm_watchdog(cfg.grace_seconds, log)
    return run(cfg, log, stop)
