"""Run ``python -m spotworker`` with faults injected through botocore event hooks.

Tests only. The faults are chosen by environment variables:

FAULT_SLOW_READ=<s>           sleep s before every GetObject body read (widens timing windows)
FAULT_503=<Op>:<n>            answer the next n <Op> requests with 503 SlowDown (n=-1: always)
FAULT_RESET=<Op>:<n>          fail the next n <Op> requests with a closed connection
FAULT_BODY_RESET=<reads>:<n>  n GetObject bodies of the input reset after <reads> reads
FAULT_SIGTERM_ON_CHECKPOINT=<k>  during the k-th checkpoint PUT, SIGTERM this process twice
FAULT_BARRIER=<dir>:<parties>    hold the commit PUT until <parties> processes reach it
FAULT_SLOW_CHECKPOINT=<s>        every checkpoint PUT takes s seconds longer
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ResponseStreamingError
from spotworker import __main__ as entry
from spotworker import s3io
from spotworker.config import Config

_real_make_client = s3io.make_client


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _op_count(name: str) -> tuple[str, int] | None:
    raw = os.environ.get(name, "")
    if not raw:
        return None
    op, _, count = raw.partition(":")
    return op, int(count or "1")


class _Body:
    def __init__(self, body: Any, delay: float, reset_after: int) -> None:
        self.body = body
        self.delay = delay
        self.reset_after = reset_after
        self.reads = 0

    def read(self, amt: int | None = None) -> bytes:
        if self.delay:
            time.sleep(self.delay)
        self.reads += 1
        if 0 <= self.reset_after < self.reads:
            raise ResponseStreamingError(error="Connection reset by peer (injected)")
        data: bytes = self.body.read(amt)
        return data

    def close(self) -> None:
        self.body.close()


def install(client: Any, cfg: Config) -> None:
    events = client.meta.events
    state = {"checkpoints": 0, "body_resets": 0}

    slow = float(os.environ.get("FAULT_SLOW_READ", "0") or 0)
    body_reset = os.environ.get("FAULT_BODY_RESET", "")
    reset_reads, _, reset_times = body_reset.partition(":")

    def wrap_body(parsed: dict[str, Any], model: Any = None, **_: Any) -> None:
        if "Body" not in parsed:
            return
        after = -1
        if body_reset and state["body_resets"] < int(reset_times or "1"):
            after = int(reset_reads)
            state["body_resets"] += 1
        parsed["Body"] = _Body(parsed["Body"], slow, after)

    if slow or body_reset:
        events.register("after-call.s3.GetObject", wrap_body)

    spec = _op_count("FAULT_503")
    if spec:
        op, left = spec
        count = {"left": left}

        def slowdown(request: Any, **_: Any) -> AWSResponse | None:
            if count["left"] == 0:
                return None
            count["left"] -= 1
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                b"<Message>Please reduce your request rate.</Message></Error>"
            )
            return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _Raw(body))

        events.register(f"before-send.s3.{op}", slowdown)

    spec = _op_count("FAULT_RESET")
    if spec:
        op, left = spec
        resets = {"left": left}

        def reset(request: Any, **_: Any) -> None:
            if resets["left"] == 0:
                return
            resets["left"] -= 1
            raise ConnectionClosedError(endpoint_url=request.url)

        events.register(f"before-send.s3.{op}", reset)

    sigterm_at = int(os.environ.get("FAULT_SIGTERM_ON_CHECKPOINT", "0") or 0)
    barrier = os.environ.get("FAULT_BARRIER", "")
    slow_checkpoint = float(os.environ.get("FAULT_SLOW_CHECKPOINT", "0") or 0)

    def before_put(params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key", "")
        if slow_checkpoint and key.startswith(cfg.checkpoint_prefix):
            time.sleep(slow_checkpoint)
        if sigterm_at and key.startswith(cfg.checkpoint_prefix):
            state["checkpoints"] += 1
            if state["checkpoints"] == sigterm_at:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
        if barrier and params.get("IfNoneMatch") == "*":
            folder, _, parties = barrier.rpartition(":")
            Path(folder, str(os.getpid())).touch()
            deadline = time.monotonic() + 30
            while len(list(Path(folder).iterdir())) < int(parties):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)

    events.register("before-parameter-build.s3.PutObject", before_put)


def make_client(cfg: Config) -> Any:
    client = _real_make_client(cfg)
    install(client, cfg)
    return client


if __name__ == "__main__":
    entry.make_client = make_client  # type: ignore[assignment]
    sys.exit(entry.main([]))
