"""Redaction: every resolved secret is registered here, and every message and log record that could
carry one passes through :data:`REDACTOR` (secret values and secret-looking query parameters -> ***)."""

from __future__ import annotations

import logging
import re
import threading

_SECRET_PARAMS = re.compile(r"((?:api_token|token|access_token|key|secret|sig|signature)=)[^&\s\"']+", re.I)


class Redactor:
    """Replaces every registered secret value (and secret-looking query parameters) with ***."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            self._secrets.update(v for v in values if v and len(v) >= 6)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, "***")
        return _SECRET_PARAMS.sub(r"\1***", text)


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = REDACTOR(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True
