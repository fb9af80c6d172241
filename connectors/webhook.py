"""``webhook``: POST the JSON status document to a URL, signed and safe to retry.

Headers: ``Idempotency-Key`` (okrsync.sdk.delivery.delivery_key: the document's fingerprint and the delivery
it follows, so a receiver can drop repeats yet acts on the same document sent again later) and, with
``secret``, ``X-Okrsync-Signature: sha256=<HMAC-SHA256 of the exact body, hex>``. Because the key
makes a repeat harmless, 429, 5xx and lost answers are retried (bounded). Nothing is sent when
the document is unchanged since the last confirmed delivery. ``headers`` may carry ${ENV}
credentials; they, the secret and the URL are redacted from logs and messages.

``on:`` says when it posts: ``every_run`` (the default: the status document after each sync, when it changed)
and ``checkin``: the check-in's JSON (docs/checkin.md) when the check-in is published, once per period (its
Idempotency-Key is that of the period, so a retry after a crash is one delivery). Every POST says which it is in
``X-Okrsync-Event`` (``status`` or ``checkin``), signed the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Literal
from urllib.parse import urlsplit

from okrsync.errors import SinkError
from okrsync.present.triggers import StateTrigger
from okrsync.sdk.connector import CheckinContext, Connector, OutputSettings, Sink, SinkContext, WebUrl
from okrsync.sdk.delivery import fingerprint
from okrsync.sdk.http import ApiClient, HttpError, secret

SIGNATURE_HEADER = "X-Okrsync-Signature"
EVENT_HEADER = "X-Okrsync-Event"


class WebhookOutput(OutputSettings):
    type: Literal["webhook"]
    url: WebUrl
    secret: str | None = None
    headers: dict[str, str] = {}
    on: list[StateTrigger] = ["every_run"]


def sign(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink(Sink[WebhookOutput]):
    publishes_checkin = True

    @property
    def where(self) -> str:
        return fingerprint(self.settings.url)[:16]  # the URL is a secret: never stored as such

    def write(self, ctx: SinkContext) -> None:
        if "every_run" not in self.settings.on:
            ctx.delivery.note("webhook: on: [checkin] only, the status document is not sent")
            return
        document = ctx.document.to_dict()
        ctx.delivery.idempotent(
            f"webhook/{self.where}",
            fingerprint(document),
            lambda key: self._post(document, key, "status"),
            would="webhook: would POST the status document",
            unchanged="webhook: document unchanged, nothing sent",
        )

    def write_checkin(self, ctx: CheckinContext) -> None:
        """The check-in's JSON, once per period: the period is the target's and the fingerprint's."""
        ctx.delivery.idempotent(
            f"{ctx.period}/{self.where}",
            ctx.fingerprint(self.where),
            lambda key: self._post(ctx.document, key, "checkin"),
            would=f"webhook: would POST {ctx.period}",
            unchanged=f"webhook: {ctx.period} already delivered",
        )

    def _post(self, document: dict, key: str, event: str) -> str:
        s = self.settings
        body = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        url = secret(s.url, "outputs.webhook.url")
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            EVENT_HEADER: event,
            **{k: secret(v, f"outputs.webhook.headers.{k}") for k, v in s.headers.items()},
        }
        if s.secret:
            headers[SIGNATURE_HEADER] = sign(body, secret(s.secret, "outputs.webhook.secret"))
        parts = urlsplit(url)
        # a receiver of the user's own: no vendor quota to keep, so no pacing
        client = ApiClient(f"{parts.scheme}://{parts.netloc}", token_hint="the webhook URL and headers")
        try:
            client.request("POST", url, content=body, headers=headers, idempotent=True)
        except HttpError as exc:
            raise SinkError(exc.message) from None
        finally:
            client.close()
        return "webhook: delivered the status document" if event == "status" else "webhook: delivered the check-in"


connector = Connector("webhook", output=WebhookOutput, sink=WebhookSink, description="a signed JSON POST")
