"""A small HTTP server for API emulators: routes, a request log, and injectable faults.

Shipped with okrsync (the way httpx ships MockTransport) so that a third-party connector can test
against an emulator of its API exactly as the built-in ones do.

Each emulator subclasses :class:`Emulator`, declares routes with :func:`route` and keeps its own
state. Tests start it on 127.0.0.1 with a free port, point the real client library at
``emulator.url`` and assert on ``emulator.log`` (what the client really sent). Faults are queued
per route and consumed one per matching request: a status with headers and body (429 with
Retry-After, 5xx, an HTML error page, malformed JSON), a delay, or a dropped connection — either
before the request is handled or after it was (the write happened, the answer never arrived).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float
    handled: bool = False  # reached its route (a write was applied), even if the answer was then lost

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: str | None = None  # "before": close without handling; "after": handle, then close without answering


def route(method: str, pattern: str):
    def mark(fn):
        fn.route = (method, re.compile("^" + pattern + "$"))
        return fn

    return mark


class Emulator:
    def __init__(self) -> None:
        self.log: list[Request] = []
        self.faults: list[tuple[str, str, Fault]] = []  # (method, path regex, fault)
        self.latency = 0.0  # seconds added to every answer: a network's round trip, for benchmarks
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._routes = [
            (*fn.route, getattr(self, name)) for name, fn in vars(type(self)).items() if hasattr(fn, "route")
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body leave in two writes; with Nagle on, the body waits for the client's
            # delayed ACK of the headers (40 ms a response on Linux), which real servers do not add
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output clean
                pass

            def _any(self):
                emulator._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started: call start() first")
        # an AF_INET server's address is (host, port); typeshed allows the bytes of an AF_UNIX path too
        host, port = cast(tuple[str, int], self._server.server_address)[:2]
        return f"http://{host}:{port}"

    # -- test helpers -------------------------------------------------------------------------

    def fault(self, method: str, path: str, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests matching ``method`` ("*": any) and the
        ``path`` regex ("": any)."""
        with self._lock:
            self.faults.extend([(method, path, fault)] * times)

    def clear_faults(self) -> None:
        """Drop every queued fault: the server is healthy again."""
        with self._lock:
            self.faults.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        return [
            r for r in self.log if (method is None or r.method == method) and (path is None or re.search(path, r.path))
        ]

    def applied(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """The matching requests that reached their route: writes the server applied (a refused or
        dropped-before request is not one; one whose answer was lost afterwards is)."""
        return [r for r in self.requests(method, path) if r.handled]

    # -- dispatch -----------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, (m, p, f) in enumerate(self.faults):
                if m in (method, "*") and re.search(p, path):
                    del self.faults[i]
                    return f
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(
            h.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in h.headers.items()},
            body,
            time.monotonic(),
        )
        with self._lock:
            self.log.append(req)
        if self.latency:
            time.sleep(self.latency)  # the network's round trip (a benchmark's setting), not synchronisation
        fault = self._take_fault(req.method, req.path)
        if fault and fault.delay:
            time.sleep(fault.delay)  # a slow server, not test synchronisation
        if fault and fault.drop == "before":
            return self._drop(h)
        if fault and fault.status is not None:
            return self._send(h, Response(fault.status, fault.body, fault.headers))
        req.handled = True
        response = self._dispatch(req)
        if fault and fault.drop == "after":
            return self._drop(h)
        self._send(h, response)

    def _dispatch(self, req: Request) -> Response:
        for method, pattern, fn in self._routes:
            m = pattern.match(req.path)
            if m and method == req.method:
                result = fn(req, *m.groups())
                return result if isinstance(result, Response) else Response(200, result)
        return Response(404, {"error": f"no route for {req.method} {req.path}"})

    @staticmethod
    def _drop(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, response: Response) -> None:
        body = response.body
        headers = dict(response.headers)
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
            headers.setdefault("Content-Type", "text/plain")
        body = body or b""
        h.send_response(response.status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and h.command != "HEAD":
            h.wfile.write(body)
