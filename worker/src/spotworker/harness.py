"""The harness: shard the input, stream each object through the task, checkpoint,
stop on request at a safe point, and commit the shard's output exactly once.

S3 layout for job ``<job>`` (the parent id of an array job), shard ``i`` of ``n``::

    <output>/<job>/shard-<i>/<tag>/bytes-<a>-<b>.jsonl      task output for input bytes [a, b)
    <output>/<job>/shard-<i>/<tag>/final.jsonl              the task's finish() output
    <output>/<job>/_commits/shard-<i>-of-<n>.json           commit marker = the shard's manifest
    <deadletter>/<job>/shard-<i>/<tag>/bytes-<a>-<b>.jsonl  rejected records, with line numbers
    <checkpoints>/<job>/shard-<i>-of-<n>.json               progress (see checkpoint.py)

Part names are a function of the input version (``obj-tag`` hashes key and
ETag) and of the input byte range they cover, and a deterministic task gives
the same bytes for the same range, so a re-upload by a retried or racing
attempt writes the same content under the same name. The commit marker is
written with ``IfNoneMatch="*"``: exactly one attempt commits, and only the
parts it lists are the shard's output (a crashed attempt may leave unlisted
parts behind; readers go through the marker).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from itertools import accumulate
from operator import length_hint
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from spotworker import exitcodes
from spotworker.checkpoint import ObjectProgress, ShardCheckpoint
from spotworker.config import Config
from spotworker.errors import (
    NETWORK_ERRORS,
    S3_ERRORS,
    ConfigError,
    TransientError,
    WorkerError,
    classify,
    error_code,
    http_status,
    storage_error,
)
from spotworker.interrupt import StopFlag
from spotworker.logs import EventLog
from spotworker.s3io import (
    InputChangedError,
    InputObject,
    S3Client,
    discard,
    iter_batches,
    list_inputs,
    open_ahead,
    shard_of,
)
from spotworker.tasks import (
    BadRecord,
    BatchResult,
    ObjectTask,
    RecordBatch,
    SkipRecord,
    TaskFactory,
)

_TRANSFER = TransferConfig(multipart_threshold=64 * 1024 * 1024, use_threads=False)
PROGRESS_SECONDS = 15.0


class Interrupted(Exception):  # noqa: N818 - control flow
    """Raised after the safe-point flush when a stop was requested."""


class _Scratch:
    """A local scratch file that collects lines until the next checkpoint uploads them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: BinaryIO = path.open("wb")
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.size += len(data)

    def reset(self) -> None:
        self.fh.close()
        self.fh = self.path.open("wb")
        self.size = 0

    def close(self) -> None:
        self.fh.close()

    def ship(self, key: str, upload: Callable[[Path, str], None], into: list[str]) -> None:
        """Upload what was collected (if anything) as ``key``, record it, start afresh."""
        if self.size:
            self.fh.flush()
            upload(self.path, key)
            into.append(key)
            self.reset()


def make_scratch(cfg: Config) -> Path:
    """This attempt's own scratch directory under TMPDIR (unique per process, so two
    attempts of one shard on one host, or on one mounted volume, never share files)."""
    try:
        return Path(tempfile.mkdtemp(prefix=f"spotworker-{cfg.job_key}-", dir=cfg.scratch_dir))
    except OSError as exc:
        raise storage_error(exc, cfg.scratch_dir) or classify(exc, "scratch") from None


def resolve_shards(cfg: Config, batch_client: Callable[[], Any] | None = None) -> tuple[int, int]:
    """(index, size) of this shard. Batch does not set the array size: read
    CFGEN_ARRAY_SIZE, else DescribeJobs on the parent."""
    if cfg.array_index is None:
        return 0, cfg.array_size or 1
    if cfg.array_size is not None:
        return cfg.array_index, cfg.array_size
    client = (batch_client or (lambda: boto3.session.Session().client("batch")))()
    try:
        jobs = client.describe_jobs(jobs=[cfg.job_key])["jobs"]
    except S3_ERRORS as exc:
        raise classify(exc, "DescribeJobs for the array size") from None
    size = jobs[0].get("arrayProperties", {}).get("size") if jobs else None
    if not isinstance(size, int) or not 0 <= cfg.array_index < size:
        raise ConfigError(
            f"CFGEN_ARRAY_SIZE='': required (DescribeJobs on {cfg.job_key!r} gave no array size)"
        )
    return cfg.array_index, size


class Harness:
    def __init__(
        self,
        cfg: Config,
        client: S3Client,
        task: TaskFactory,
        log: EventLog,
        stop: StopFlag,
        *,
        shard: int,
        shards: int,
        scratch: Path,
        processes: int = 1,
        processes_info: dict[str, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        #: worker processes for this shard's objects (spotworker.pool); 1 = this process only
        self.processes = processes
        #: where that number comes from (spotworker.vcpus), for the start event
        self.processes_info = processes_info or {}
        self.s3 = client
        self.task = task
        self.log = log
        self.stop = stop
        self.shard = shard
        self.shards = shards
        job = cfg.job_key
        name = f"shard-{shard:05d}-of-{shards:05d}"
        self.ckpt_key = f"{cfg.checkpoint_prefix}{job}/{name}.json"
        self.commit_key = f"{cfg.output_prefix}{job}/_commits/{name}.json"
        self.out_base = f"{cfg.output_prefix}{job}/shard-{shard:05d}"
        self.dl_base = f"{cfg.deadletter_prefix}{job}/shard-{shard:05d}"
        self.scratch = scratch
        self.ckpt = ShardCheckpoint(job, shard, shards, task.name)
        self.started = time.monotonic()
        self.bytes_this_attempt = 0
        self.records_this_attempt = 0
        self.next_checkpoint = 0.0
        self.next_progress = 0.0
        #: the next object's GET, sent before the current object is read to its end
        #: (_open_ahead): ((object, from offset), its body to come)
        self._ahead: tuple[tuple[InputObject, int], Future[Any]] | None = None

    # -- S3 helpers -------------------------------------------------------
    def _exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.cfg.bucket, Key=key)
        except ClientError as exc:
            if http_status(exc) == 404 or error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise classify(exc, f"HEAD s3://{self.cfg.bucket}/{key}") from None
        except NETWORK_ERRORS as exc:
            raise classify(exc, f"HEAD s3://{self.cfg.bucket}/{key}") from None
        return True

    def _put(self, key: str, body: bytes, **extra: Any) -> None:
        try:
            self.s3.put_object(Bucket=self.cfg.bucket, Key=key, Body=body, **extra)
        except S3_ERRORS as exc:
            raise classify(exc, f"PUT s3://{self.cfg.bucket}/{key}") from None

    def _upload(self, path: Path, key: str) -> None:
        try:
            self.s3.upload_file(str(path), self.cfg.bucket, key, Config=_TRANSFER)
        except S3_ERRORS as exc:
            raise classify(exc, f"upload s3://{self.cfg.bucket}/{key}") from None
        except Exception as exc:  # s3transfer wraps ClientError in S3UploadFailedError
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError | WorkerError):
                raise classify(cause, f"upload s3://{self.cfg.bucket}/{key}") from None
            raise classify(exc, f"upload s3://{self.cfg.bucket}/{key}") from None

    # -- checkpoints --------------------------------------------------------
    def _load_checkpoint(self, objects: list[InputObject]) -> None:
        try:
            body = self.s3.get_object(Bucket=self.cfg.bucket, Key=self.ckpt_key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                self.log.event("resume", source="none", checkpoint=None)
                return
            raise classify(
                exc, f"reading checkpoint s3://{self.cfg.bucket}/{self.ckpt_key}"
            ) from None
        except NETWORK_ERRORS as exc:
            raise classify(exc, "reading checkpoint") from None
        try:
            ckpt = ShardCheckpoint.from_json(body)
        except ValueError as exc:
            self.log.event("checkpoint_invalid", key=self.ckpt_key, reason=str(exc)[:200])
            return
        mine = (self.ckpt.job_id, self.shard, self.shards, self.task.name)
        theirs = (ckpt.job_id, ckpt.shard, ckpt.shards, ckpt.task)
        if mine != theirs:
            self.log.event("checkpoint_stale", key=self.ckpt_key, checkpoint_for=list(theirs))
            return
        problem = self._unusable(ckpt)
        if problem:
            self.log.event("checkpoint_invalid", key=self.ckpt_key, reason=problem[:200])
            return
        by_index = {o.index: o for o in objects}
        for prog in list(ckpt.objects.values()):
            obj = by_index.get(prog.index)
            if obj is None or obj.key != prog.key or obj.size < prog.offset:
                self.log.event("checkpoint_object_dropped", object=prog.key, reason="not in input")
                del ckpt.objects[prog.index]
            elif obj.etag != prog.etag:
                self.log.event("input_changed", object=prog.key, restart=True)
                del ckpt.objects[prog.index]
        self.ckpt.seq = ckpt.seq
        self.ckpt.objects = ckpt.objects
        self.log.event("resume", source="checkpoint", checkpoint=ckpt.seq, **self.ckpt.totals())

    def _unusable(self, ckpt: ShardCheckpoint) -> str:
        """Why this parsed checkpoint of this shard cannot be resumed ('' if it can)."""
        for prog in ckpt.objects.values():
            for key in prog.parts:
                if not key.startswith(f"{self.out_base}/"):
                    return f"part {key!r} is not this shard's output"
            for key in prog.deadletters:
                if not key.startswith(f"{self.dl_base}/"):
                    return f"dead letter {key!r} is not this shard's"
            if prog.offset and not prog.done:
                try:  # the task must accept its state back (a task of this version)
                    self.task.open(prog.key, prog.state)
                except Exception as exc:
                    return f"task state of {prog.key!r}: {type(exc).__name__}: {exc}"
        return ""

    def _write_checkpoint(self) -> None:
        self.ckpt.seq += 1
        self._put(self.ckpt_key, self.ckpt.to_json(), ContentType="application/json")
        self.log.event("checkpoint", seq=self.ckpt.seq, **self.stats())

    def stats(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {
            **self.ckpt.totals(),
            "elapsed_s": round(elapsed, 3),
            "rate_bytes_s": round(self.bytes_this_attempt / elapsed),
            "rate_records_s": round(self.records_this_attempt / elapsed),
            # this attempt's own work (the totals above include what it resumed from):
            # the cost ledger (spotworker.ledger) records both
            "attempt_bytes": self.bytes_this_attempt,
            "attempt_records": self.records_this_attempt,
        }

    # -- the run ---------------------------------------------------------------
    def run(self) -> int:
        self.log.event(
            "start",
            shard=self.shard,
            shards=self.shards,
            task=self.task.name,
            processes=self.processes,
            **{f"processes_{k}": v for k, v in self.processes_info.items()},
        )
        if self._exists(self.commit_key):
            self.log.event("done", status="already_committed", commit=self.commit_key)
            return exitcodes.SUCCESS
        objects = list_inputs(self.s3, self.cfg)
        mine = shard_of(objects, self.shard, self.shards)
        self._load_checkpoint(mine)
        now = time.monotonic()
        self.next_checkpoint = now + self.cfg.checkpoint_seconds
        self.next_progress = now + PROGRESS_SECONDS
        todo = [
            o
            for o in mine
            if not (o.index in self.ckpt.objects and self.ckpt.objects[o.index].done)
        ]
        try:
            if self.processes > 1 and len(todo) > 1:
                from spotworker.pool import run_pool  # (pool imports this module)

                run_pool(self, todo)
            else:
                for i, listed in enumerate(todo):
                    if self.stop.requested:
                        self._write_checkpoint()
                        raise Interrupted
                    obj = self._run_object(listed, todo[i + 1] if i + 1 < len(todo) else None)
                    self.log.event("progress", object=obj.key, object_done=True, **self.stats())
        except OSError as exc:
            raise storage_error(exc, str(self.scratch)) or exc from None
        finally:
            self._drop_ahead()
        return self._finish(mine)

    def _run_object(self, listed: InputObject, after: InputObject | None = None) -> InputObject:
        """Process one object to its end (restarting it if it is replaced meanwhile);
        ``after``: the object processed next, whose GET is sent before this one is read
        to its end (s3io.AHEAD_SECONDS)."""
        obj = listed
        restarts = 0
        while True:
            try:
                self._process(obj, after)
                return obj
            except InputChangedError:
                # The object was replaced under us: its new version is not
                # the one listed; restart it with the new ETag, a few times.
                restarts += 1
                if restarts > 3:
                    raise TransientError(
                        f"s3://{self.cfg.bucket}/{obj.key} keeps changing"
                    ) from None
                obj = self._refresh(obj)
                self.ckpt.objects.pop(obj.index, None)
                self.log.event("input_changed", object=obj.key, restart=True)

    def _refresh(self, obj: InputObject) -> InputObject:
        try:
            head = self.s3.head_object(Bucket=self.cfg.bucket, Key=obj.key)
        except S3_ERRORS as exc:
            raise classify(exc, f"HEAD s3://{self.cfg.bucket}/{obj.key}") from None
        return InputObject(obj.index, obj.key, head["ETag"], int(head["ContentLength"]))

    def _finish(self, mine: list[InputObject]) -> int:
        self._write_checkpoint()
        totals = self.ckpt.totals()
        seen = totals["records"] + totals["bad"]
        ratio = totals["bad"] / seen if seen else 0.0
        if ratio > self.cfg.max_bad_ratio:
            self.log.event(
                "failed",
                reason="too_many_bad_records",
                bad_ratio=round(ratio, 6),
                max_bad_ratio=self.cfg.max_bad_ratio,
                exit_code=exitcodes.DATA_ERROR,
                **totals,
            )
            return exitcodes.DATA_ERROR
        manifest = {
            "format": 1,
            "job_id": self.cfg.job_key,
            "shard": self.shard,
            "shards": self.shards,
            "task": self.task.name,
            "attempt": self.cfg.attempt,
            "objects": [
                {
                    k: getattr(self.ckpt.objects[o.index], k)
                    for k in (
                        "index",
                        "key",
                        "etag",
                        "size",
                        "lines",
                        "records",
                        "bad",
                        "parts",
                        "deadletters",
                    )
                }
                for o in mine
            ],
            "totals": totals,
        }
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        try:
            self.s3.put_object(
                Bucket=self.cfg.bucket,
                Key=self.commit_key,
                Body=body,
                IfNoneMatch="*",
                ContentType="application/json",
            )
        except ClientError as exc:
            code = error_code(exc)
            if code in {"PreconditionFailed", "412"}:
                self.log.event(
                    "done", status="commit_lost_race", commit=self.commit_key, **self.stats()
                )
                return exitcodes.SUCCESS
            if code == "ConditionalRequestConflict" and self._exists(self.commit_key):
                self.log.event(
                    "done", status="commit_lost_race", commit=self.commit_key, **self.stats()
                )
                return exitcodes.SUCCESS
            raise classify(exc, f"commit s3://{self.cfg.bucket}/{self.commit_key}") from None
        except NETWORK_ERRORS as exc:
            raise classify(exc, "commit") from None
        self.log.event("done", status="committed", commit=self.commit_key, **self.stats())
        return exitcodes.SUCCESS

    # -- one object ----------------------------------------------------------
    def _open_ahead(self, obj: InputObject) -> None:
        """Send ``obj``'s first GET now (s3io.open_ahead), from where it resumes."""
        prog = self.ckpt.objects.get(obj.index)
        start = prog.offset if prog is not None else 0
        if start < obj.size:
            self._ahead = ((obj, start), open_ahead(self.s3, self.cfg.bucket, obj, start))

    def _take_ahead(self, obj: InputObject, start: int) -> Future[Any] | None:
        """The GET sent ahead for ``obj`` from ``start``, if that is the one sent; any
        other is discarded."""
        if self._ahead is not None and self._ahead[0] == (obj, start):
            ahead, self._ahead = self._ahead[1], None
            return ahead
        self._drop_ahead()
        return None

    def _drop_ahead(self) -> None:
        """Close the GET sent ahead, if any, unread."""
        if self._ahead is not None:
            discard(self._ahead[1])
            self._ahead = None

    def _process(self, obj: InputObject, after: InputObject | None = None) -> None:
        prog = self.ckpt.objects.get(obj.index)
        if prog is None:
            prog = ObjectProgress(obj.index, obj.key, obj.etag, obj.size)
            self.ckpt.objects[obj.index] = prog
        opened = self._take_ahead(obj, prog.offset)
        task = self.task.open(obj.key, prog.state if prog.offset else None)
        out = _Scratch(self.scratch / "out.part")
        dl = _Scratch(self.scratch / "deadletter.part")
        chunk_start = prog.offset
        cfg = self.cfg

        def flush(end: int) -> None:
            nonlocal chunk_start
            name = f"{obj.tag}/bytes-{chunk_start:012d}-{end:012d}.jsonl"
            out.ship(f"{self.out_base}/{name}", self._upload, prog.parts)
            dl.ship(f"{self.dl_base}/{name}", self._upload, prog.deadletters)
            chunk_start = end

        def reconnect(pos: int, why: str) -> None:
            self.log.event("reconnect", object=obj.key, offset=pos, error=why)

        try:
            if prog.offset == 0 and prog.lines == 0:
                self.log.event("object_start", object=obj.key, size=obj.size)
            else:
                self.log.event("object_resume", object=obj.key, offset=prog.offset, line=prog.lines)
            feed = task.feed
            feed_batch = getattr(task, "feed_batch", None)  # the batch API (tasks.BatchTask)
            for kind, first_line, first_off, lines, end, has_cr, nlines, blank in iter_batches(
                self.s3,
                cfg.bucket,
                obj,
                start_offset=prog.offset,
                start_line=prog.lines,
                chunk_size=cfg.read_chunk_bytes,
                max_record=cfg.max_record_bytes,
                on_reconnect=reconnect,
                split=feed_batch is None,
                opened=opened,
                on_nearly_read=None if after is None else lambda: self._open_ahead(after),
            ):
                good = bad = 0
                if kind == "data":  # the batch API, unsplit (iter_batches(split=False))
                    assert feed_batch is not None
                    batch, raw_lines = _record_batch(
                        lines[0], first_line, first_off, has_cr, (nlines, blank)
                    )
                    good, bad = self._feed_batch(
                        feed_batch, batch, raw_lines, key=obj.key, out=out, dl=dl
                    )
                    self._count(prog, good, bad, first_line=first_line, nlines=batch.count, end=end)
                    if self._safe_point(obj, prog, task, flush):
                        raise Interrupted
                    continue
                if kind == "lines":
                    # CRLF: strip the CR, only in batches that have one.
                    src = _strip_cr(lines) if has_cr else lines
                    skipped = 0
                    offsets: list[int] | None = None
                    it = iter(src)
                    for line in it:
                        if not line:
                            continue
                        try:
                            res = feed(line)
                        except BadRecord as exc:
                            # the index of this line, without counting on the hot path
                            i = len(src) - length_hint(it) - 1
                            if offsets is None:  # once per batch that has a bad record
                                offsets = list(
                                    accumulate((len(x) + 1 for x in lines), initial=first_off)
                                )
                            dl.write(
                                _dead_letter(obj.key, first_line + i, offsets[i], str(exc), line)
                            )
                            bad += 1
                            continue
                        except SkipRecord:
                            skipped += 1
                            continue
                        if res is not None:
                            for item in res:
                                out.write(item + b"\n")
                    good = len(src) - src.count(b"") - bad - skipped
                else:  # a record over the size limit, skipped without buffering it
                    dl.write(
                        _dead_letter(
                            obj.key,
                            first_line,
                            first_off,
                            f"record longer than {cfg.max_record_bytes} bytes",
                            lines[0],
                            truncated=True,
                        )
                    )
                    bad += 1
                self._count(prog, good, bad, first_line=first_line, nlines=nlines, end=end)
                if self._safe_point(obj, prog, task, flush):
                    raise Interrupted
            # End of the object: the task's final output, then the last chunk.
            flush(obj.size)
            _finish_task(task, out)
            out.ship(f"{self.out_base}/{obj.tag}/final.jsonl", self._upload, prog.parts)
            prog.offset = obj.size
            prog.done = True
            prog.state = None
        finally:
            out.close()
            dl.close()

    def _feed_batch(
        self,
        feed_batch: Callable[[RecordBatch], BatchResult],
        batch: RecordBatch,
        raw_lines: list[bytes] | None,
        *,
        key: str,
        out: _Scratch,
        dl: _Scratch,
    ) -> tuple[int, int]:
        """One batch through a batch task: (good, bad) records. Each bad record is
        dead-lettered with its own line number and byte offset (``raw_lines``: the
        lines with their CRs, None when there are none)."""
        result = feed_batch(batch)
        bad = result.bad
        if bad:
            src = batch.lines
            offsets = list(
                accumulate((len(x) + 1 for x in raw_lines or src), initial=batch.first_offset)
            )
            last = -1
            for i, reason in bad:
                if type(i) is not int or not last < i < len(src) or not src[i]:
                    raise ValueError(
                        f"task {self.task.name!r} reported bad record index {i!r}: not a "
                        "record line of the batch, in increasing order"
                    )
                last = i
                dl.write(_dead_letter(key, batch.first_line + i, offsets[i], str(reason), src[i]))
        for item in result.output:
            out.write(item + b"\n")
        good = batch.count - batch.blank_lines() - len(bad) - result.skipped
        if good < 0:
            raise ValueError(f"task {self.task.name!r} skipped more lines than it was given")
        return good, len(bad)

    def _count(
        self,
        prog: ObjectProgress,
        good: int,
        bad: int,
        *,
        first_line: int,
        nlines: int,
        end: int,
    ) -> None:
        """Account for one batch: the object's progress is now at the safe point ``end``."""
        self.bytes_this_attempt += end - prog.offset
        self.records_this_attempt += good
        prog.offset = end
        prog.lines = first_line + nlines - 1
        prog.records += good
        prog.bad += bad

    def _safe_point(
        self, obj: InputObject, prog: ObjectProgress, task: ObjectTask, flush: Callable[[int], None]
    ) -> bool:
        """At a safe point: checkpoint when due or asked to stop; True = stop now."""
        if self.stop.requested or time.monotonic() >= self.next_checkpoint:
            flush(prog.offset)
            prog.state = task.snapshot()
            self._write_checkpoint()
            self.next_checkpoint = time.monotonic() + self.cfg.checkpoint_seconds
            if self.stop.requested:
                return True
        if time.monotonic() >= self.next_progress:
            self.log.event("progress", object=obj.key, offset=prog.offset, **self.stats())
            self.next_progress = time.monotonic() + PROGRESS_SECONDS
        return False


def _record_batch(
    data: bytes, first_line: int, first_offset: int, has_cr: bool, counted: tuple[int, int]
) -> tuple[RecordBatch, list[bytes] | None]:
    """The batch of ``data``'s lines (``counted``: how many, how many blank) and, when
    some may end in a CR, the lines with their CRs (the batch's are stripped: split,
    only in batches that have one; a line of only a CR is then blank)."""
    if not has_cr:
        return RecordBatch.from_data(data, first_line, first_offset, counted), None
    raw_lines = data.split(b"\n")
    return RecordBatch(_strip_cr(raw_lines), first_line, first_offset), raw_lines


def _strip_cr(lines: list[bytes]) -> list[bytes]:
    return [x[:-1] if x[-1:] == b"\r" else x for x in lines]


def _finish_task(task: ObjectTask, out: _Scratch) -> None:
    for item in task.finish():
        out.write(item + b"\n")


def _dead_letter(
    key: str, line_no: int, offset: int, reason: str, record: bytes, *, truncated: bool = False
) -> bytes:
    text = record[:1024].decode("utf-8", "replace")
    return (
        json.dumps(
            {
                "object": key,
                "line": line_no,
                "offset": offset,
                "reason": reason[:300],
                "record": text,
                "truncated": truncated or len(record) > 1024,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8", "backslashreplace")  # a task's reason may hold a lone surrogate
        + b"\n"
    )
