"""``webhook``: POST the JSON status document to a URL, signed and safe to retry.

Headers: ``Idempotency-Key`` (the document's fingerprint: a receiver can drop repeats) and, with
``secret``, ``X-Okrsync-Signature: sha256=<HMAC-SHA256 of the exact body, hex>``. Because the key
makes a repeat harmless, 429, 5xx and lost answers are retried (bounded). Nothing is sent when
the document is unchanged since the last confirmed delivery. ``headers`` may carry ${ENV}
credentials; they, the secret and the URL are redacted from logs and messages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlsplit

from okrsync.config import WebhookOutput
from okrsync.connector import Sink, SinkContext
from okrsync.errors import SinkError
from okrsync.http import ApiClient, HttpError, secret
from okrsync.store import fingerprint

SIGNATURE_HEADER = "X-Okrsync-Signature"


def sign(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink(Sink):
    type_name = "webhook"
    settings: WebhookOutput

    def write(self, ctx: SinkContext) -> None:
        s = self.settings
        body = json.dumps(ctx.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        fp = fingerprint(ctx.document)
        target = f"webhook/{fingerprint(s.url)[:16]}"  # the URL is a secret: never stored as such
        last = ctx.ledger.last_confirmed_entry(self.key, target)
        if last and last[0] == fp:
            ctx.planned.append("webhook: document unchanged, nothing sent")
            return
        if ctx.dry_run:
            ctx.planned.append("webhook: would POST the status document")
            return
        url = secret(s.url, "outputs.webhook.url")
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": fp,
            **{k: secret(v, f"outputs.webhook.headers.{k}") for k, v in s.headers.items()},
        }
        if s.secret:
            headers[SIGNATURE_HEADER] = sign(body, secret(s.secret, "outputs.webhook.secret"))
        now = ctx.now or datetime.fromisoformat(ctx.document["as_of"])
        parts = urlsplit(url)
        client = ApiClient(f"{parts.scheme}://{parts.netloc}", rate=5.0, token_hint="the webhook URL and headers")
        ctx.ledger.mark(self.key, target, fp, "planned", now)
        try:
            client.request("POST", url, content=body, headers=headers, idempotent=True)
        except HttpError as exc:
            ctx.ledger.mark(self.key, target, fp, "failed", now)
            raise SinkError(exc.message) from None
        finally:
            client.close()
        ctx.ledger.mark(self.key, target, fp, "confirmed", now)
        ctx.planned.append("webhook: delivered the status document")
