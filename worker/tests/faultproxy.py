"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, for the worker's fault tests.

It sits between ``python -m spotworker`` (AWS_ENDPOINT_URL points at it) and the
moto server, and forwards bytes both ways. It reads just enough of each request
(request line, headers, body length) to match it against rules; a matching rule
then acts on that request or on its response:

* ``fin``      forward the response's headers and ``after`` body bytes, then close
               the client's connection cleanly (FIN): a body cut short;
               ``after=-1``: close before any response byte.
* ``rst``      the same, but close with a reset (SO_LINGER 0: RST).
* ``stall``    forward ``after`` body bytes, then send nothing for ``seconds``
               (the client's read timeout fires), then close; ``after=-1``: hold
               the request unanswered (and unforwarded).
* ``status``   answer the request itself with an S3 error (``status``, ``code``),
               never forwarding it (503 SlowDown, 500 InternalError, ...).
* ``delay``    hold the request ``seconds`` before forwarding it.
* ``barrier``  hold each matching request until ``parties`` of them have arrived
               (at most ``seconds``, default 30; ``timeouts`` counts the requests that
               went on alone).
* ``throttle`` forward the response at about ``rate`` bytes per second.

The worker is never patched: every fault is one a real network or S3 can produce.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

RESPONSE_ACTIONS = {"fin", "rst", "stall", "throttle"}


@dataclass
class Rule:
    action: str
    method: str | None = None
    #: regex searched in the request target (path and query)
    path: str = ""
    #: a header the request must carry (lower case), e.g. "if-none-match"
    header: str | None = None
    after: int = 0
    #: how many matching requests get the fault (-1: all of them)
    times: int = 1
    #: let this many matching requests through untouched first
    skip: int = 0
    seconds: float = 0.0
    status: int = 503
    code: str = "SlowDown"
    parties: int = 2
    rate: float = 1e6
    hits: int = 0
    seen: int = 0
    timeouts: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, target: str, headers: dict[str, str]) -> bool:
        if self.times >= 0 and self.hits >= self.times:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.header is not None and self.header not in headers:
            return False
        return re.search(self.path, target) is not None


class _Conn:
    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = socket.create_connection(proxy.upstream, timeout=60)
        self.upstream.settimeout(None)
        self.client.settimeout(None)
        self.rule: Rule | None = None  # the rule acting on the current response
        self.closed = threading.Event()
        self.lock = threading.Lock()

    def close(self, *, reset: bool = False, fin: bool = False) -> None:
        with self.lock:
            if self.closed.is_set():
                return
            self.closed.set()
        # The other thread may be blocked in recv() on this socket, and then close()
        # alone frees nothing: SHUT_RD wakes it, so the close really happens (with
        # SO_LINGER 0 that sends RST); SHUT_WR sends the FIN at once.
        try:
            if reset:
                self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif fin:
                self.client.shutdown(socket.SHUT_WR)
            self.client.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()

    # -- client -> server: requests -------------------------------------------------
    def requests(self) -> None:
        buf = b""
        try:
            while not self.closed.is_set():
                while b"\r\n\r\n" not in buf:
                    data = self.client.recv(65536)
                    if not data:
                        self.close()
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                rule = self.proxy.match(method, target, headers)
                body, buf = self._read_body(headers, buf)
                if rule is not None:
                    verdict = self._request_action(rule, headers)
                    if verdict == "cut":
                        return
                    if verdict == "answer":
                        for _ in self._stream_rest(buf):
                            pass  # drain the request body, then answer
                        buf = self._leftover
                        self._answer(rule, close=False)
                        continue
                self.rule = rule if rule is not None and rule.action in RESPONSE_ACTIONS else None
                self.upstream.sendall(head + b"\r\n\r\n")
                for piece in body:
                    self.upstream.sendall(piece)
                for piece in self._stream_rest(buf):
                    self.upstream.sendall(piece)
                buf = self._leftover
        except OSError:
            self.close()

    _leftover = b""

    def _read_body(self, headers: dict[str, str], buf: bytes) -> tuple[list[bytes], bytes]:
        """The part of the body already buffered (the rest is streamed by _stream_rest)."""
        self._remaining = int(headers.get("content-length", "0") or 0)
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if self._chunked:
            return [], buf
        take = buf[: self._remaining]
        self._remaining -= len(take)
        return ([take] if take else []), buf[len(take) :]

    def _recv(self) -> bytes:
        data = self.client.recv(65536)
        if not data:
            raise OSError("client closed mid-request")
        return data

    def _stream_rest(self, buf: bytes) -> Any:
        self._leftover = buf  # what follows a body already buffered whole
        if not self._chunked:
            while self._remaining > 0:
                data = self._recv()
                take = data[: self._remaining]
                self._remaining -= len(take)
                self._leftover = data[len(take) :]
                yield take
            return
        # chunked: size line, data, CRLF ... 0-size chunk, trailers, CRLF
        while True:
            while b"\r\n" not in buf:
                buf += self._recv()
            line, buf = buf.split(b"\r\n", 1)
            yield line + b"\r\n"
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers up to an empty line
                    while b"\r\n" not in buf:
                        buf += self._recv()
                    trailer, buf = buf.split(b"\r\n", 1)
                    yield trailer + b"\r\n"
                    if not trailer:
                        self._leftover = buf
                        return
            need = size + 2
            while len(buf) < need:
                buf += self._recv()
            yield buf[:need]
            buf = buf[need:]

    def _request_action(self, rule: Rule, headers: dict[str, str]) -> str:
        """Act on the request: "forward" it, "answer" it here, or it was "cut"."""
        if rule.action == "delay":
            time.sleep(rule.seconds)
        elif rule.action == "barrier":
            deadline = time.monotonic() + (rule.seconds or 30)
            while self.proxy.arrivals(rule) < rule.parties:
                if time.monotonic() >= deadline:
                    rule.timeouts += 1
                    break
                time.sleep(0.02)
        elif rule.action == "status":
            if "100-continue" in headers.get("expect", "").lower():
                self._answer(rule, close=True)  # the client sends no body before a 100
                return "cut"
            return "answer"
        elif rule.action in {"fin", "rst", "stall"} and rule.after < 0:
            if rule.action == "stall":
                self.closed.wait(rule.seconds)
            self.close(reset=rule.action == "rst", fin=True)
            return "cut"
        return "forward"

    def _answer(self, rule: Rule, *, close: bool) -> None:
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{rule.code}</Code>'
            f"<Message>injected by the test proxy</Message></Error>"
        ).encode()
        self.client.sendall(
            f"HTTP/1.1 {rule.status} Injected\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(xml)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n".encode()
            + xml
        )
        if close:
            self.close(fin=True)

    # -- server -> client: responses -------------------------------------------------
    def responses(self) -> None:
        head = b""
        sent = 0
        rule_seen: Rule | None = None
        try:
            while not self.closed.is_set():
                data = self.upstream.recv(65536)
                if not data:
                    self.close(fin=True)
                    return
                rule = self.rule
                if rule is None:
                    self.client.sendall(data)
                    continue
                if rule is not rule_seen:  # a new faulted response starts
                    rule_seen, head, sent = rule, b"", -1
                if rule.action == "throttle":
                    step = max(int(rule.rate / 20), 1)
                    for i in range(0, len(data), step):
                        self.client.sendall(data[i : i + step])
                        time.sleep(0.05)
                    continue
                if sent < 0:  # still in the headers (skip 1xx interim responses)
                    head += data
                    while True:
                        end = head.find(b"\r\n\r\n")
                        if end < 0:
                            break
                        interim = head.startswith(b"HTTP/1.1 1")
                        self.client.sendall(head[: end + 4])
                        head = head[end + 4 :]
                        if not interim:
                            sent = 0
                            break
                    if sent < 0:
                        continue
                    data, head = head, b""
                take = data[: max(rule.after - sent, 0)]
                self.client.sendall(take)
                sent += len(take)
                if sent >= rule.after:
                    self.rule = None
                    if rule.action == "stall":
                        self.closed.wait(rule.seconds)
                    self.close(reset=rule.action == "rst", fin=True)
                    return
        except OSError:
            self.close()


class FaultProxy:
    """``with FaultProxy(("127.0.0.1", port)) as proxy: proxy.url ...``"""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._arrivals: dict[int, int] = {}
        self._conns: list[_Conn] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, **kwargs: Any) -> Rule:
        rule = Rule(**kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def match(self, method: str, target: str, headers: dict[str, str]) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, target, headers):
                    rule.seen += 1
                    if rule.seen <= rule.skip:
                        continue
                    rule.hits += 1
                    self._arrivals[id(rule)] = rule.hits
                    rule.arrived.set()
                    return rule
        return None

    def arrivals(self, rule: Rule) -> int:
        with self._lock:
            return self._arrivals.get(id(rule), 0)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                conn = _Conn(self, client)
            except OSError:
                client.close()
                continue
            self._conns.append(conn)
            threading.Thread(target=conn.requests, daemon=True).start()
            threading.Thread(target=conn.responses, daemon=True).start()

    def close(self) -> None:
        self._stopped = True
        self._sock.close()
        for conn in self._conns:
            conn.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
