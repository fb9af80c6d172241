"""The one httpx layer every HTTP connector and output uses.

:class:`ApiClient` is one ``httpx.Client`` per connection with sane timeouts behind okrsync's
:class:`~okrsync.sdk.guard.Guard` (a client-side token bucket and the bounded retry policy; httpx's
exceptions are classified by :func:`classify_httpx`). Every response is classified in one place
(:func:`classify`), after a vendor's own rate-limit answer (``throttled=``) is given its say:

    retryable   429, 5xx, connect errors and timeouts        -> retried, honouring Retry-After
    bad_config  401 (check the token), 403 (missing scope), 404 (wrong object or URL)
    fatal       any other 4xx, and bodies that are not JSON when JSON was expected

A request that is not idempotent (``idempotent=False``) is retried only when it certainly did not
reach the server (a refused connection, a 429), never after a timeout or a dropped answer.

Secrets (tokens, Authorization headers, ``api_token`` parameters, webhook URLs) are registered
with :data:`REDACTOR` when resolved; every message this layer builds goes through it, httpx's own
INFO log of full URLs is silenced, and :func:`install_log_redaction` scrubs any log record.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from okrsync.config.env import resolve_env
from okrsync.errors import RemoteError, SourceError, TransientError
from okrsync.redact import REDACTOR, RedactingFilter
from okrsync.sdk.guard import Guard
from okrsync.sdk.retry import RETRYABLE_STATUS, Limits, RetryPolicy, retry_after_seconds


def install_log_redaction() -> None:
    """Silence URL-logging client libraries and scrub secrets from every handler's records."""
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


HttpError = RemoteError  # what an HTTP call raises when it failed for good
SCHEMES = ("http", "https")


def origin(url: str) -> str:
    """scheme://host[:port] of an absolute URL ('' for a relative one); never its path or query."""
    parts = httpx.URL(url) if url else None
    return f"{parts.scheme}://{parts.netloc.decode()}" if parts and parts.scheme and parts.host else ""


def classify(response: httpx.Response, token_hint: str = "the token") -> None:
    """Raise TransientError or HttpError for a failed response; return for a successful one.

    A redirect is never followed (it could carry the credentials elsewhere) and never read as data:
    it is an error naming where the server points, so the user can correct the URL."""
    status = response.status_code
    if 300 <= status < 400:
        where = origin(response.headers.get("Location", "")) or "an unnamed address"
        raise HttpError(
            f"HTTP {status}: the server redirects to {where}; put the final address in the config",
            kind="bad_config",
            status=status,
        )
    if status < 400:
        return
    if status in RETRYABLE_STATUS:
        after = retry_after_seconds(response.headers.get("Retry-After"))
        raise TransientError(f"HTTP {status}", after, maybe_delivered=status >= 500, throttled=status == 429)
    detail = _detail(response)
    if status == 401:
        raise HttpError(
            f"HTTP 401: authentication failed, check {token_hint}{detail}", kind="bad_config", status=status
        )
    if status == 403:
        raise HttpError(
            f"HTTP 403: the credentials lack a permission or scope{detail}", kind="bad_config", status=status
        )
    if status == 404:
        raise HttpError(
            f"HTTP 404: not found, check the object name, id or URL{detail}", kind="bad_config", status=status
        )
    raise HttpError(f"HTTP {status}{detail}", kind="fatal", status=status)


def _detail(response: httpx.Response) -> str:
    """A short, redacted excerpt of an error body: the API's own words help the user most."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return "" if not text or text.startswith("<") else f": {REDACTOR(text[:200])}"
    if isinstance(body, dict):
        details = [e["message"] for e in body.get("errors") or [] if isinstance(e, dict) and e.get("message")]
        if body.get("message") and details:  # GitHub: {"message": "Validation Failed", "errors": [...]}
            return f": {REDACTOR(str(body['message']) + ': ' + '; '.join(map(str, details)))[:300]}"
        for key in ("message", "error_description", "error", "errorMessages", "detail"):
            if body.get(key):
                value = body[key]
                return f": {REDACTOR(str(value if not isinstance(value, list) else '; '.join(map(str, value)))[:200])}"
    if isinstance(body, list) and body and isinstance(body[0], dict) and body[0].get("message"):
        return f": {REDACTOR(str(body[0]['message'])[:200])}"  # Salesforce returns a list of errors
    return ""


def classify_httpx(exc: BaseException) -> TransientError | None:
    """httpx's exceptions: a refused connection never reached the server; a timeout or a dropped
    answer may have."""
    if isinstance(exc, httpx.ConnectError):
        return TransientError(f"cannot connect ({type(exc).__name__})")
    if isinstance(exc, httpx.TimeoutException | httpx.RemoteProtocolError | httpx.ReadError):
        return TransientError(f"no answer ({type(exc).__name__})", maybe_delivered=True)
    return None


_TLS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """httpx's own verification (``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi), built once per process
    for each setting: building one reads the whole CA bundle (40-80 ms), and a sync opens a client per
    connection at the same moment, in as many threads (hence the lock: they would all build it at once).
    An ``SSLContext`` is safe to share between clients and threads."""
    with _TLS_LOCK:
        if (cafile, capath) not in _TLS:
            if cafile or capath:
                made = ssl.create_default_context(cafile=cafile or None, capath=None if cafile else capath)
            else:
                made = httpx.create_ssl_context(trust_env=False)
            _TLS[(cafile, capath)] = made
        return _TLS[(cafile, capath)]


class ApiClient:
    """One connection's HTTP client: base URL, auth headers, pacing, retries, classification."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        limits: Limits = (),
        policy: RetryPolicy | None = None,
        token_hint: str = "the token",
        transport: httpx.BaseTransport | None = None,
        throttled: Callable[[httpx.Response], TransientError | None] | None = None,
        allocation: Callable[[httpx.Response], str | None] | None = None,
        timeout: float = 30.0,
        quota_headers_pause: bool = True,
    ):
        install_log_redaction()
        if httpx.URL(base_url).scheme not in SCHEMES:
            raise HttpError(
                f"only http and https URLs are allowed, not {httpx.URL(base_url).scheme or 'no scheme'}://",
                kind="bad_config",
            )
        self.origin = origin(base_url)
        self.client = httpx.Client(
            base_url=base_url,
            verify=tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
            headers=headers or {},
            params=params or {},
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            transport=transport,
            follow_redirects=False,
        )
        self.guard = Guard(classify_httpx, limits=limits, policy=policy)
        self.token_hint = token_hint
        self.throttled = throttled  # a vendor's own "slow down" answer (e.g. GitHub's 403 with no quota left)
        # a vendor's "the allocation is used up" (Salesforce's daily API requests): once an answer says so,
        # this connection sends nothing more and each remaining request fails with that message
        self.allocation = allocation
        self.spent: str | None = None
        # X-RateLimit-Remaining: 0 means "refused until X-RateLimit-Reset" for most vendors; a vendor for which
        # it means "slowed down from now on" (Azure DevOps) turns this off and reads its own headers
        self.quota_headers_pause = quota_headers_pause

    @property
    def requests(self) -> int:
        """Requests sent, retries included (benchmarks and logs)."""
        return self.guard.calls

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, *, idempotent: bool = True, **kwargs: Any) -> httpx.Response:
        """One request (retried as the guard allows). An absolute ``url`` (a next-page link) must stay on the
        connection's origin: the client's credentials are never sent anywhere else."""
        if (there := origin(url)) and there != self.origin:
            raise HttpError(
                f"refused to follow a link to {there}: only {self.origin} gets this connection's credentials",
                kind="fatal",
            )
        if self.spent:
            raise HttpError(self.spent, kind="fatal")

        def once() -> httpx.Response:
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if classify_httpx(exc) is None:
                    raise HttpError(f"request failed: {type(exc).__name__}", kind="fatal") from None
                raise
            if self.throttled and (transient := self.throttled(response)):
                raise transient
            self._heed_quota_headers(response)
            if self.allocation and (spent := self.allocation(response)):
                self.spent = spent
                if response.is_error:  # the refusal itself: say why in the vendor's terms, not as a bare 403
                    raise HttpError(spent, kind="fatal", status=response.status_code)
            classify(response, self.token_hint)
            return response

        try:
            return self.guard.call(once, idempotent=idempotent)
        except TransientError as exc:
            raise HttpError(f"gave up after retries: {exc.message}", kind="retryable") from None

    def _heed_quota_headers(self, response: httpx.Response) -> None:
        """A server that says its quota is spent (X-RateLimit-Remaining: 0, with X-RateLimit-Reset as
        seconds or an epoch time) pauses every request of this connection until the reset."""
        if not self.quota_headers_pause or response.headers.get("X-RateLimit-Remaining", "").strip() != "0":
            return
        reset = retry_after_seconds(response.headers.get("X-RateLimit-Reset"))
        if reset is not None and reset > 1_000_000_000:  # an epoch time, as GitHub sends it
            reset = max(0.0, reset - time.time())
        if reset:
            self.guard.pacer.pause(min(reset, 300.0))

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        return decoded(self.request(method, url, **kwargs))


def decoded(response: httpx.Response) -> Any:
    """An answer's JSON, or an HttpError that names what came instead (an HTML sign-in page, say)."""
    try:
        return response.json()
    except ValueError:
        raise HttpError(
            f"expected JSON, got {response.headers.get('content-type', 'no content type')}",
            kind="fatal",
            status=response.status_code,
        ) from None


def paginate(fetch: Callable[[Any], tuple[list, Any]], first: Any = None, max_pages: int = 1000) -> Iterator[Any]:
    """Yield items page by page. ``fetch(cursor) -> (items, next_cursor)``; None ends.

    Stops with an error when a cursor repeats (a server looping on the same page) or after
    ``max_pages``: a sync must end.
    """
    cursor, seen = first, set()
    for _ in range(max_pages):
        items, cursor = fetch(cursor)
        yield from items
        if cursor in (None, ""):
            return
        key = repr(cursor)
        if key in seen:
            raise HttpError(
                f"the API returned the same page cursor twice ({cursor!r}): stopped to avoid a loop", kind="fatal"
            )
        seen.add(key)
    raise HttpError(f"more than {max_pages} pages: stopped", kind="fatal")


def secret(value: str, where: str) -> str:
    """Resolve ${ENV} references in a credential and register the result for redaction."""
    resolved = resolve_env(value, where)
    REDACTOR.add(resolved)
    return resolved


def source_error(exc: HttpError | Exception, *, metric: str | None, connection: str):
    """An HttpError (or a bad value) as the SourceError the pipeline records for a metric."""
    return SourceError(REDACTOR(getattr(exc, "message", str(exc))), metric=metric, connection=connection)
