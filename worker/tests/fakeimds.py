"""A stand-in for the EC2 instance metadata service (IMDSv2) on 127.0.0.1.

Only what the worker asks: ``PUT /latest/api/token`` (with the TTL header) and
``GET /latest/meta-data/spot/instance-action`` (404 until a notice is due, then
the notice JSON), and ``GET /latest/meta-data/<category>`` for the categories in
:attr:`FakeIMDS.metadata` (instance-type, instance-life-cycle, ... for the cost
ledger). Each caller gets its own endpoint, ``<url>/<name>``, so one server can
give a Spot notice to one attempt and not to another.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "token-123"


class FakeIMDS:
    def __init__(self) -> None:
        self.requests = 0
        self._due: dict[str, float | None] = {}  # name -> monotonic time of the notice
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()
        #: Answers of ``GET /latest/meta-data/<category>`` per category (after a token).
        self.metadata: dict[str, str] = {
            "instance-type": "c6i.xlarge",
            "instance-life-cycle": "spot",
            "placement/availability-zone": "us-east-1b",
            "instance-id": "i-0123456789abcdef0",
        }
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _split(self) -> tuple[str, str]:
                name, _, rest = self.path.lstrip("/").partition("/")
                return name, "/" + rest

            def do_PUT(self) -> None:
                with imds._lock:
                    imds.requests += 1
                _, path = self._split()
                ok = path == "/latest/api/token" and self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                )
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", str(len(TOKEN)))
                self.end_headers()
                self.wfile.write(TOKEN.encode())

            def do_GET(self) -> None:
                name, path = self._split()
                with imds._lock:
                    imds.requests += 1
                    imds._polls[name] = imds._polls.get(name, 0) + 1
                    due = imds._due.get(name)
                if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                category = path.removeprefix("/latest/meta-data/")
                if category in imds.metadata:
                    value = imds.metadata[category].encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(value)))
                    self.end_headers()
                    self.wfile.write(value)
                    return
                if (
                    path != "/latest/meta-data/spot/instance-action"
                    or due is None
                    or (time.monotonic() < due)
                ):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b'{"action": "terminate", "time": "2026-11-22T01:02:03Z"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def endpoint(self, name: str, notice_in: float | None = None) -> str:
        """An endpoint whose Spot notice appears ``notice_in`` seconds from now (None: never)."""
        with self._lock:
            self._due[name] = None if notice_in is None else time.monotonic() + notice_in
        return f"{self.url}/{name}"

    def polls(self, name: str) -> int:
        with self._lock:
            return self._polls.get(name, 0)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
