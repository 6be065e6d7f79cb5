"""Stop requests: SIGTERM (and SIGINT), and the EC2 Spot two-minute notice.

The signal handler only records the request; the harness acts on it at its
next safe point (end of a read batch), so a second SIGTERM while a checkpoint
is being written changes nothing: the flush completes, then the worker exits
143. The IMDSv2 poller (``spot/instance-action``) runs in a daemon thread and
stops for good at the first failure to get a token (IMDS unreachable).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

from spotworker.logs import EventLog


class StopFlag:
    def __init__(self) -> None:
        self.requested = False
        self.reason = ""
        self.signals = 0
        self.first_at = 0.0
        self.grace_seconds = 0.0
        self.log: EventLog | None = None

    def request(self, reason: str) -> None:
        if not self.requested:
            self.first_at = time.monotonic()
            self.reason = reason
        self.requested = True

    def arm_watchdog(self, grace_seconds: float, log: EventLog) -> None:
        """After a SIGTERM, exit 143 at the latest ``grace_seconds`` later.

        ECS sends SIGKILL when ECS_CONTAINER_STOP_TIMEOUT runs out, and a killed
        container exits 137, which the RetryStrategy does not retry. If the flush
        hangs (S3 unreachable), exiting 143 first keeps the attempt retryable;
        the retry resumes from the previous durable checkpoint.
        """
        self.grace_seconds = grace_seconds
        self.log = log
        if grace_seconds > 0:
            # A polling thread, so that the signal handler itself takes no locks.
            threading.Thread(target=self._watch, name="grace-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while not self.requested:
            time.sleep(0.05)
        remaining = self.first_at + self.grace_seconds - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        if self.log is not None:
            self.log.event("grace_expired", grace_seconds=self.grace_seconds, exit_code=143)
        os._exit(143)

    def install(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.signals += 1
            self.request(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


class SpotNoticePoller(threading.Thread):
    """Poll IMDSv2 for a Spot interruption notice; request a stop when one appears."""

    def __init__(self, endpoint: str, interval: float, stop: StopFlag, log: EventLog) -> None:
        super().__init__(name="spot-notice", daemon=True)
        self.endpoint = endpoint
        self.interval = interval
        self.stop = stop
        self.log = log
        self.finished = threading.Event()

    def _token(self) -> str:
        import urllib.request  # here, not at the top: __main__ imports this module first

        req = urllib.request.Request(  # noqa: S310 - fixed http endpoint (IMDS)
            f"{self.endpoint}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
        )
        with urllib.request.urlopen(req, timeout=1) as resp:  # noqa: S310
            return str(resp.read().decode("ascii"))

    def check_once(self) -> bool:
        """True when a notice is present. Raises OSError when IMDS is unreachable."""
        import urllib.error
        import urllib.request

        token = self._token()
        req = urllib.request.Request(  # noqa: S310
            f"{self.endpoint}/latest/meta-data/spot/instance-action",
            headers={"X-aws-ec2-metadata-token": token},
        )
        try:
            with urllib.request.urlopen(req, timeout=1) as resp:  # noqa: S310
                notice = resp.read(4096).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise
        self.log.event("spot_notice", notice=notice[:200])
        self.stop.request("spot_notice")
        return True

    def run(self) -> None:
        while not self.finished.is_set() and not self.stop.requested:
            try:
                if self.check_once():
                    return
            except (OSError, ValueError) as exc:
                self.log.event("imds_unavailable", error=type(exc).__name__)
                return
            self.finished.wait(self.interval)
