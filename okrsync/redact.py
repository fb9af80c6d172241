"""Redaction: every resolved secret is registered here, and every message and log record that could
carry one passes through :data:`REDACTOR` (secret values and secret-looking query parameters -> ***)."""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import threading
from urllib.parse import quote, quote_plus, unquote, urlsplit

_SECRET_PARAMS = re.compile(r"((?:api_token|token|access_token|key|secret|sig|signature)=)[^&\s\"']+", re.I)


class Redactor:
    """Replaces every registered secret value (and secret-looking query parameters) with ***."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        """Register secrets, with the forms a server may echo them in: URL-encoded, the credential of an
        ``Authorization`` value without its scheme (and a Basic pair's password), a URL's password,
        query values and long path segments (a Slack webhook's secret is its path)."""
        forms: set[str] = set()
        for value in values:
            if value:
                forms |= _forms(value)
        with self._lock:
            self._secrets.update(f for f in forms if len(f) >= 6)

    def add_basic(self, user: str, password: str) -> None:
        """A Basic-auth pair: the password, and the header credential a server might echo."""
        self.add(password, base64.b64encode(f"{user}:{password}".encode()).decode())

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, "***")
        return _SECRET_PARAMS.sub(r"\1***", text)


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote_plus(value)}
    scheme, _, credential = value.partition(" ")
    if credential and scheme.lower() in ("bearer", "basic", "token", "apikey", "api-key", "sso-key"):
        forms |= _forms(credential.strip())
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError):
                forms.add(base64.b64decode(credential, validate=True).decode().partition(":")[2])
    if "://" in value:
        parts = urlsplit(value)
        forms.add(unquote(parts.password or ""))
        forms |= {unquote(v) for _, _, v in (p.partition("=") for p in parts.query.split("&"))}
        forms |= {segment for segment in parts.path.split("/") if len(segment) >= 16}
    return {f for f in forms if f}


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = REDACTOR(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True
