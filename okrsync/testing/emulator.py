"""A small HTTP server for API emulators: routes, a request log, and injectable faults.

Shipped with okrsync (the way httpx ships MockTransport) so that a third-party connector can test
against an emulator of its API exactly as the built-in ones do.

Each emulator subclasses :class:`Emulator`, declares routes with :func:`route` and keeps its own
state. Tests start it on 127.0.0.1 with a free port, point the real client library at
``emulator.url`` and assert on ``emulator.log`` (what the client really sent). Faults are queued
per route and consumed one per matching request: a status with headers and body (429 with
Retry-After, 5xx, an HTML error page, malformed JSON), a delay, or a dropped connection — either
before the request is handled or after it was (the write happened, the answer never arrived).

HTTPS: ``start(tls=TestCertificates.make(folder))`` serves TLS on 127.0.0.1 with a server certificate
signed by a test CA made at test time (``cryptography``); a client trusts ``ca_file`` (httpx and okrsync's
Entra sign-in read ``SSL_CERT_FILE``). msal, for one, insists on an https authority.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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


@dataclass(frozen=True)
class TestCertificates:
    """A test CA and a server certificate it signed for 127.0.0.1 and localhost (PEM files in one folder)."""

    __test__ = False  # not a pytest test class, whatever its name

    ca_file: Path  # what a client trusts
    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, folder: Path) -> TestCertificates:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID

        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = _certificate(
            "okrsync test CA", ca_key, ca_key, None, [(x509.BasicConstraints(ca=True, path_length=0), True)]
        )
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        leaf = _certificate(
            "127.0.0.1",
            key,
            ca_key,
            ca,
            [
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (x509.SubjectAlternativeName(names), False),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            ],
        )
        folder.mkdir(parents=True, exist_ok=True)
        made = cls(folder / "test-ca.pem", folder / "server.pem", folder / "server-key.pem")
        made.ca_file.write_bytes(_pem(ca))
        made.cert_file.write_bytes(_pem(leaf))
        made.key_file.write_bytes(_pem(key))
        return made

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _certificate(subject: str, key: Any, signer: Any, issuer: Any, extensions: list) -> Any:
    """One X.509 certificate, valid from an hour ago for a day: the CA's own (no ``issuer``) or one it signs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    )
    usage = dict(digital_signature=True, content_commitment=False, key_encipherment=issuer is not None)
    usage |= dict(data_encipherment=False, key_agreement=False, key_cert_sign=issuer is None, crl_sign=issuer is None)
    builder = builder.add_extension(x509.KeyUsage(**usage, encipher_only=False, decipher_only=False), critical=True)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def _pem(thing: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    if hasattr(thing, "public_bytes"):
        return thing.public_bytes(serialization.Encoding.PEM)
    return thing.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class _TlsServer(ThreadingHTTPServer):
    """Each connection's TLS handshake happens in its own request thread, never in the accepting one."""

    tls: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            with self.tls.wrap_socket(request, server_side=True) as wrapped:
                super().finish_request(wrapped, client_address)
        except (ssl.SSLError, OSError):  # a client that does not trust the test CA, or hung up
            pass


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
        # the routes of the class and of the classes it builds on, each answered by the method as this class
        # has it (a subclass may override a route's method, or move its pattern with @route of its own)
        marks = {
            name: fn.route
            for cls in reversed(type(self).__mro__)
            for name, fn in vars(cls).items()
            if hasattr(fn, "route")
        }
        self._routes = [(*mark, getattr(self, name)) for name, mark in marks.items()]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, tls: TestCertificates | None = None) -> Emulator:
        """Serve on 127.0.0.1 on a free port: plain HTTP, or HTTPS with ``tls``'s server certificate."""
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

        if tls is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        else:
            self._server = _TlsServer(("127.0.0.1", 0), Handler)
            self._server.tls = tls.context()
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
        return f"{'https' if isinstance(self._server, _TlsServer) else 'http'}://{host}:{port}"

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
