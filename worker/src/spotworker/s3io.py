"""S3 access: the client, input listing, and a bounded-memory line reader.

The reader streams one object with ranged GETs pinned to the ETag the shard
started with (``IfMatch``): a changed object fails with 412 instead of mixing
two versions. A connection reset mid-body reopens the range at the next unread
byte; memory is one read chunk plus at most one partial record.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from spotworker import exitcodes, newlines
from spotworker.config import Config
from spotworker.errors import (
    NETWORK_ERRORS,
    ConfigError,
    MissingInputError,
    TransientError,
    WorkerError,
    classify,
    error_code,
)

S3Client = Any  # boto3's client type; kept loose so the worker needs no stubs

#: the next object's GET is sent when the current one has this much reading left at
#: its pace so far (iter_batches' on_nearly_read): long enough to hide a GET's wait for
#: its first byte (~23 ms on the emulator for a 50 MB object), short enough that the
#: response it opens is not left unread for long (a connection S3 could close idle)
AHEAD_SECONDS = 0.1


def new_session() -> boto3.session.Session:
    """A boto3 session for one run: its clients share the service models and endpoint
    data it loaded (each new session parses them again: ~40 ms here) and its
    credentials. Not thread-safe: one thread at a time makes clients from it."""
    return boto3.session.Session()


def make_client(cfg: Config, session: boto3.session.Session | None = None) -> S3Client:
    """An S3 client with botocore's standard retry mode (backoff on 503 SlowDown etc.),
    from ``session`` (default: a new one).

    The endpoint comes from AWS_ENDPOINT_URL(_S3) when set (the emulator).
    """
    return (session or new_session()).client(
        "s3",
        config=BotoConfig(
            retries={"mode": "standard", "max_attempts": cfg.s3_max_attempts},
            connect_timeout=5,
            read_timeout=cfg.s3_read_timeout_seconds,
            tcp_keepalive=True,
        ),
    )


def check_credentials(session: boto3.session.Session | None = None) -> None:
    """ConfigError (exit 2) before any request when botocore finds no credentials at all
    (environment, shared files, the task role's container endpoint, the instance role).

    A credentials endpoint that does not answer is transient (the next attempt retries).
    """
    try:
        found = (session or new_session()).get_credentials()
    except NETWORK_ERRORS as exc:
        raise classify(exc, "AWS credentials") from None
    if found is None:
        raise ConfigError(
            "AWS credentials: none found (environment, shared files, container or "
            "instance role): the job role, or AWS_ACCESS_KEY_ID for a local run"
        )


@dataclass(frozen=True)
class InputObject:
    #: position in the job's sorted input list (stable across shards and attempts)
    index: int
    key: str
    etag: str
    size: int

    @property
    def tag(self) -> str:
        """Short, path-safe identity of this object version for part names."""
        digest = hashlib.sha256(f"{self.key}\0{self.etag}".encode()).hexdigest()[:10]
        return f"obj-{self.index:06d}-{digest}"


def list_inputs(client: S3Client, cfg: Config) -> list[InputObject]:
    """All input objects of the job, sorted by key (every shard computes the same list)."""
    found: dict[str, tuple[str, int]] = {}
    try:
        if cfg.input_manifest:
            body = client.get_object(Bucket=cfg.bucket, Key=cfg.input_manifest)["Body"]
            keys = sorted(
                {line.strip() for line in body.iter_lines(chunk_size=65536) if line.strip()}
            )
            for raw in keys:
                key = raw.decode("utf-8")
                head = client.head_object(Bucket=cfg.bucket, Key=key)
                found[key] = (head["ETag"], int(head["ContentLength"]))
        else:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=cfg.bucket, Prefix=cfg.input_prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if item["Key"].endswith("/"):
                        continue  # "folder" marker
                    found[item["Key"]] = (item["ETag"], int(item["Size"]))
    except ClientError as exc:
        where = cfg.input_manifest or cfg.input_prefix
        raise classify(exc, f"listing input s3://{cfg.bucket}/{where}") from None
    except NETWORK_ERRORS as exc:
        raise classify(exc, "listing input") from None
    except UnicodeDecodeError:
        raise WorkerError(
            f"manifest s3://{cfg.bucket}/{cfg.input_manifest}: not UTF-8 text",
            exit_code=exitcodes.DATA_ERROR,
        ) from None
    if not found:
        raise MissingInputError(f"no input objects under s3://{cfg.bucket}/{cfg.input_prefix}")
    return [
        InputObject(i, key, etag, size)
        for i, (key, (etag, size)) in enumerate(sorted(found.items()))
    ]


def shard_of(objects: list[InputObject], index: int, size: int) -> list[InputObject]:
    """Round-robin over the sorted list: balanced and the same for every shard."""
    return objects[index::size]


class InputChangedError(WorkerError):
    """The object's ETag no longer matches: restart the object cleanly."""


# A batch the reader yields: ("lines", first_line_no, first_offset, lines, end_offset,
# has_cr, line_count, -1), ("data", ..., [buffer], ..., blank_lines) when not split (the
# lines joined by b"\n"; blank_lines: how many of them are b""), or ("oversized",
# line_no, offset, [prefix], end_offset, False, 1, 0) for a record above the limit.
# ``has_cr``: some line of the batch may end in a CR (found in one pass over the read
# chunk, so that batches without one skip the CR strip).
Batch = tuple[str, int, int, list[bytes], int, bool, int, int]


def iter_batches(  # noqa: PLR0915 - one reader loop, its states read top to bottom
    client: S3Client,
    bucket: str,
    obj: InputObject,
    *,
    start_offset: int,
    start_line: int,
    chunk_size: int,
    max_record: int,
    on_reconnect: Callable[[int, str], None] | None = None,
    max_reconnects: int = 5,
    split: bool = True,
    opened: Future[Any] | None = None,
    on_nearly_read: Callable[[], None] | None = None,
) -> Iterator[Batch]:
    """Yield the object's lines from ``start_offset`` in batches of about one chunk.

    ``split=False``: batches of kind "data" instead of "lines", whose fourth item is
    ``[buffer]``, the batch's lines joined by b"\\n" (no trailing newline), not split,
    counted (``newlines.line_counts(buffer)``: the line count and the blank lines).

    ``start_line`` is the number of lines before ``start_offset``. After each
    batch, ``end_offset`` is a safe point: every byte before it belongs to a
    yielded line. A UTF-8 BOM at offset 0 is dropped (offsets still count it).

    ``opened``: the first GET, already sent (:func:`open_ahead` of this object from
    ``start_offset``); its errors are those of a GET sent here. ``on_nearly_read`` is
    called once, when what is left of the object would take at most AHEAD_SECONDS to
    read at the pace of the reads so far (which the batches' consumer sets), or its
    last byte has been read: the harness then sends the next object's GET.
    """
    pos = start_offset  # absolute offset of the next byte to read from S3
    line_no = start_line  # lines yielded so far
    line_start = start_offset  # offset of the first byte of `tail`
    tail = b""
    skipping = -1  # > -1: length so far of an oversized record being skipped
    skip_prefix = b""
    failures = 0
    body: Any = None
    started = time.monotonic()
    while True:
        if body is None:
            if pos >= obj.size:
                break
            if opened is not None:
                first, opened = opened, None
                body = first.result()
            else:
                body = open_body(client, bucket, obj, pos)
        try:
            chunk = body.read(chunk_size)
        except NETWORK_ERRORS as exc:
            failures += 1
            body = None
            if failures > max_reconnects:
                raise TransientError(
                    f"reading s3://{bucket}/{obj.key}: {type(exc).__name__} "
                    f"after {max_reconnects} reconnects"
                ) from None
            if on_reconnect is not None:
                on_reconnect(pos, type(exc).__name__)
            continue
        if not chunk:
            body.close()
            body = None
            if pos < obj.size:  # short body without an error: reopen at pos
                failures += 1
                if failures > max_reconnects:
                    raise TransientError(f"reading s3://{bucket}/{obj.key}: body ended early")
                continue
            break
        failures = 0
        at_start = pos == 0
        pos += len(chunk)
        if on_nearly_read is not None and (
            pos >= obj.size
            or (obj.size - pos) * (time.monotonic() - started)
            <= AHEAD_SECONDS * (pos - start_offset)
        ):
            on_nearly_read()
            on_nearly_read = None
        if at_start and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
            line_start = 3
        if skipping >= 0:
            nl = chunk.find(b"\n")
            if len(skip_prefix) < 1024:  # keep the record's first KiB for the dead letter
                skip_prefix += chunk[: min(1024 - len(skip_prefix), len(chunk) if nl < 0 else nl)]
            if nl < 0:
                skipping += len(chunk)
                continue
            skipping += nl
            line_no += 1
            end = line_start + skipping + 1
            yield ("oversized", line_no, line_start, [skip_prefix], end, False, 1, 0)
            line_start = end
            skipping = -1
            chunk = chunk[nl + 1 :]
        # (``tail`` never holds a newline: it is what follows the last one read)
        has_cr = b"\r" in chunk or b"\r" in tail
        # Unsplit when only the first line can be over the limit (every other line lies
        # inside this read, of at most chunk_size <= max_record bytes) and it is not.
        last = chunk.rfind(b"\n")  # in ``chunk``
        if (
            not split
            and (chunk_size <= max_record or len(tail) + len(chunk) <= max_record)
            and last >= 0
            and chunk.find(b"\n", 0, max_record + 1 - len(tail)) >= 0
        ):
            # the batch is the tail and the chunk up to its last newline, in one copy
            # (tail + chunk, then a slice of that: two copies, 0.4 ms per MiB here)
            buf = b"".join((tail, memoryview(chunk)[:last])) if tail else chunk[:last]
            tail = chunk[last + 1 :]
            first_line = line_no + 1
            first_offset = line_start
            count, blank = newlines.line_counts(buf)
            line_no += count
            line_start += len(buf) + 1
            yield ("data", first_line, first_offset, [buf], line_start, has_cr, count, blank)
        else:
            data = tail + chunk if tail else chunk
            lines = data.split(b"\n")
            tail = lines.pop()
            if lines:
                first_line = line_no + 1
                first_offset = line_start
                line_no += len(lines)
                line_start += len(data) - len(tail)
                if len(data) > max_record and max(map(len, lines)) > max_record:
                    for batch in _split_oversized(
                        lines, first_line, first_offset, max_record, has_cr
                    ):
                        yield batch if split or batch[0] != "lines" else _unsplit(batch)
                else:
                    batch = (
                        "lines",
                        first_line,
                        first_offset,
                        lines,
                        line_start,
                        has_cr,
                        len(lines),
                        -1,
                    )
                    yield batch if split else _unsplit(batch)
        if len(tail) > max_record:
            skipping = len(tail)
            skip_prefix = tail[:1024]
            tail = b""
    if skipping >= 0:
        line_no += 1
        yield ("oversized", line_no, line_start, [skip_prefix], obj.size, False, 1, 0)
    elif tail:
        line_no += 1
        batch = ("lines", line_no, line_start, [tail], obj.size, b"\r" in tail, 1, -1)
        yield batch if split else _unsplit(batch)


def open_body(client: S3Client, bucket: str, obj: InputObject, pos: int) -> Any:
    """The body of ``obj`` from byte ``pos`` on: a ranged GET pinned to its ETag
    (InputChangedError if the object changed, else the classified error)."""
    try:
        return client.get_object(
            Bucket=bucket, Key=obj.key, IfMatch=obj.etag, Range=f"bytes={pos}-"
        )["Body"]
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "412"}:
            raise InputChangedError(f"s3://{bucket}/{obj.key} changed") from None
        raise classify(exc, f"reading s3://{bucket}/{obj.key}") from None
    except NETWORK_ERRORS as exc:
        raise classify(exc, f"reading s3://{bucket}/{obj.key}") from None


def open_ahead(client: S3Client, bucket: str, obj: InputObject, pos: int) -> Future[Any]:
    """:func:`open_body` sent now, in a thread of its own, for :func:`iter_batches`'
    ``opened``: the wait for the response's first byte (~23 ms on the emulator for a
    50 MB object) passes while the previous object's last bytes are read, the object
    finished and its part uploaded. A boto3 client may be shared by threads (boto3's
    guide, "Multithreading or multiprocessing with clients"). The thread is a daemon:
    an exit never waits for it; a body nobody takes is closed by :func:`discard`."""
    done: Future[Any] = Future()

    def send() -> None:
        try:
            done.set_result(open_body(client, bucket, obj, pos))
        except BaseException as exc:  # handed to whoever takes the body
            done.set_exception(exc)

    threading.Thread(target=send, name="open-ahead", daemon=True).start()
    return done


def discard(opened: Future[Any]) -> None:
    """Close the body of an :func:`open_ahead` that will not be read (when it comes)."""

    def close(done: Future[Any]) -> None:
        if done.exception() is None:
            done.result().close()

    opened.add_done_callback(close)


def _unsplit(batch: Batch) -> Batch:
    _, first_line, first_offset, lines, end, has_cr, count, _ = batch
    joined = b"\n".join(lines)
    return ("data", first_line, first_offset, [joined], end, has_cr, count, lines.count(b""))


def _split_oversized(
    lines: list[bytes], first_line: int, first_offset: int, max_record: int, has_cr: bool
) -> Iterator[Batch]:
    """Re-batch ``lines`` so that each record above ``max_record`` is its own batch."""
    run: list[bytes] = []
    run_line, run_offset, offset = first_line, first_offset, first_offset
    for i, line in enumerate(lines):
        end = offset + len(line) + 1
        if len(line) > max_record:
            if run:
                yield ("lines", run_line, run_offset, run, offset, has_cr, len(run), -1)
                run = []
            yield ("oversized", first_line + i, offset, [line[:1024]], end, False, 1, 0)
            run_line, run_offset = first_line + i + 1, end
        else:
            run.append(line)
        offset = end
    if run:
        yield ("lines", run_line, run_offset, run, offset, has_cr, len(run), -1)
