"""Signed webhooks to integrators, per the Standard Webhooks spec (https://www.standardwebhooks.com/).

Every message carries three headers:

    webhook-id:        the message id (stable across retries, so the receiver can dedupe)
    webhook-timestamp: seconds since the epoch, at this attempt
    webhook-signature: "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}' keyed with the decoded secret>"

The secret is "whsec_" + base64 of 32 random bytes. ``webhook_emit`` writes one outbox row per active
endpoint in the caller's transaction and queues delivery on commit; the outbox sweep re-queues anything
lost. 2xx is delivered; 410 Gone stops; anything else (other statuses, refused connections, timeouts) is
retried with exponential backoff up to ``max_attempts()``. Redirects are not followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import audit
from core.actors import SYSTEM
from core.errors import NotFound, TransitionNotAllowed, ValidationFailed, field_error
from notifications.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from notifications.services import (
    QUEUE_CHUNK,
    SKIPPED,
    DeliveryResult,
    backoff,
    claim,
    max_attempts,
    sending_lease,
    sweep_grace,
)

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
TIMEOUT_SECONDS = 10
USER_AGENT = "Contestable-Webhooks/1"


# --------------------------------------------------------------------------------------------------------
# Signing


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _secret_key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw)


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def message_body(message: WebhookMessage) -> bytes:
    """The JSON body: the same bytes on every attempt."""
    envelope = {
        "type": message.event_type,
        "timestamp": message.created_at.astimezone(UTC).isoformat(),
        "data": message.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(message: WebhookMessage, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    msg_id = str(message.pk)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secret=message.endpoint.secret, msg_id=msg_id, timestamp=timestamp, body=body
        ),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def url_errors(url: str) -> list[dict[str, Any]]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [field_error("url", "invalid-url", "A webhook URL must be an http or https URL with a host.")]
    return []


# --------------------------------------------------------------------------------------------------------
# Endpoints and emitting


def webhook_endpoint_create(
    *, client: Any, url: str, actor: Any, event_types: Sequence[str] = (), description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for an integrator. Returns the endpoint and its secret (show it once)."""
    errors = url_errors(url)
    if errors:
        raise ValidationFailed("The webhook endpoint is not valid.", errors=errors)
    secret = generate_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            client=client, url=url, secret=secret, event_types=list(event_types), description=description
        )
        audit.record(
            actor=actor,
            action="webhook_endpoint.created",
            target=endpoint,
            data={"client": client.pk, "url": url, "event_types": list(event_types)},
        )
    return endpoint, secret


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Any) -> str:
    """Give the endpoint a new secret (returned once). Messages sent from now on are signed with it."""
    secret = generate_secret()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
        endpoint.secret = secret
        audit.record(actor=actor, action="webhook_endpoint.secret_rotated", target=endpoint, data={})
    return secret


def webhook_emit(
    *, client: Any, event_type: str, payload: dict[str, Any], actor: Any
) -> list[WebhookMessage]:
    """Tell an integrator about an event: one outbox row per active endpoint of ``client`` that wants this
    event type, written in the caller's transaction, delivered after commit. Keep personal data out of
    ``payload`` beyond what the integrator already holds (their own external references)."""
    return webhook_emit_many(events=[(client, event_type, payload)], actor=actor)


def webhook_emit_many(
    *, events: Sequence[tuple[Any, str, dict[str, Any]]], actor: Any
) -> list[WebhookMessage]:
    """``webhook_emit`` for many ``(client, event_type, payload)``, in a fixed number of statements: the
    same rows, audit events and delivery as emitting each in turn (a chunk of decisions taking effect)."""
    if any(not event_type for _client, event_type, _payload in events):
        raise ValidationFailed(errors=[field_error("event_type", "required", "An event type is required.")])
    client_ids = {client.pk for client, _event_type, _payload in events}
    if not client_ids:
        return []
    endpoints: dict[Any, list[WebhookEndpoint]] = {}
    for e in WebhookEndpoint.objects.filter(client_id__in=client_ids, active=True).order_by("pk"):
        endpoints.setdefault(e.client_id, []).append(e)
    if not endpoints:
        return []
    now = timezone.now()
    messages = []
    for client, event_type, payload in events:
        wanted = [e for e in endpoints.get(client.pk, []) if e.wants(event_type)]
        if not wanted:
            continue
        # Round-trip through JSON now, so what is stored is exactly what is sent.
        stored = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
        messages += [
            WebhookMessage(
                endpoint=e, event_type=event_type, payload=stored, created_at=now, next_attempt_at=now
            )
            for e in wanted
        ]
    if not messages:
        return []
    with transaction.atomic():
        WebhookMessage.objects.bulk_create(messages)
        audit.record_many(
            audit.PendingEvent(
                actor=actor,
                action="webhook.emitted",
                target=m,
                data={"client": m.endpoint.client_id, "endpoint": m.endpoint_id, "event_type": m.event_type},
                occurred_at=now,
            )
            for m in messages
        )
        transaction.on_commit(partial(queue_webhook_delivery, [str(m.pk) for m in messages]), robust=True)
    return messages


def queue_webhook_delivery(message_ids: Sequence[str]) -> None:
    from notifications import tasks

    try:
        ids = [str(i) for i in message_ids]
        for start in range(0, len(ids), QUEUE_CHUNK):
            chunk = ids[start : start + QUEUE_CHUNK]
            if len(chunk) == 1:
                tasks.deliver_webhook.delay(chunk[0])
            else:
                tasks.deliver_webhooks.delay(chunk)
    except Exception:
        logger.exception("could not queue %d webhook messages; the outbox sweep will", len(message_ids))


def due_webhook_ids(*, now: datetime | None = None, limit: int = 5000) -> list[str]:
    now = now or timezone.now()
    due = Q(status=WebhookMessage.Status.PENDING, next_attempt_at__lte=now - sweep_grace()) | Q(
        status=WebhookMessage.Status.SENDING, sending_started_at__lt=now - sending_lease()
    )
    ids = WebhookMessage.objects.filter(due).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    return [str(i) for i in ids]


# --------------------------------------------------------------------------------------------------------
# Delivering


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook is never redirected: a 3xx is a failed attempt (and no request goes elsewhere)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class _Transient(Exception):
    def __init__(self, error: str, status: int | None = None) -> None:
        super().__init__(error)
        self.status = status


class _Permanent(_Transient):
    pass


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    if url_errors(url):
        raise _Permanent("not an http(s) URL")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (checked)
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(1024)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
        exc.close()
        if status == 410:
            raise _Permanent("410 Gone: the endpoint asked us to stop", status) from exc
        raise _Transient(f"HTTP {status}", status) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Transient(f"{type(exc).__name__}: {reason}") from exc


def webhook_deliver(*, message_id: Any, now: datetime | None = None) -> DeliveryResult:
    """POST one message, signed, at most once at a time (same claim as notices). Never inside a
    transaction while the HTTP request runs. Receivers dedupe on ``webhook-id`` if a crash after their 2xx
    makes us send it again."""
    now = now or timezone.now()
    if not claim(WebhookMessage, message_id, now):
        return SKIPPED
    with transaction.atomic():
        message = (
            WebhookMessage.objects.select_related("endpoint")
            .select_for_update(of=("self",))
            .get(pk=message_id)
        )
        WebhookAttempt.objects.filter(message=message, finished_at__isnull=True).update(
            finished_at=now, outcome="lost", error="worker lost; lease expired"
        )
        number = WebhookAttempt.objects.filter(message=message).count() + 1
        attempt = WebhookAttempt.objects.create(message=message, number=number, started_at=now)
        WebhookMessage.objects.filter(pk=message.pk).update(attempts=F("attempts") + 1)
        message.attempts += 1
    token = message.sending_started_at

    status: int | None = None
    error = ""
    permanent = False
    started = time.monotonic()
    if not message.endpoint.active:
        error, permanent = "endpoint is not active", True
    else:
        body = message_body(message)
        try:
            status = _post(message.endpoint.url, body, signed_headers(message, body))
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except _Transient as exc:
            status, error, permanent = exc.status, str(exc), isinstance(exc, _Permanent)
    duration_ms = int((time.monotonic() - started) * 1000)
    finished = timezone.now()

    with transaction.atomic():
        current = WebhookMessage.objects.select_for_update().get(pk=message.pk)
        attempt.finished_at = finished
        attempt.response_status = status
        attempt.duration_ms = duration_ms
        attempt.error = error[:2000]
        if not error:
            attempt.outcome = "delivered"
        else:
            attempt.outcome = "permanent_failure" if permanent else "transient_failure"
        attempt.save(update_fields=["finished_at", "response_status", "duration_ms", "error", "outcome"])
        if current.status == WebhookMessage.Status.DELIVERED:
            return DeliveryResult("delivered")
        taken_over = current.status != WebhookMessage.Status.SENDING or current.sending_started_at != token
        if taken_over and error:
            return SKIPPED  # another worker holds it now and owns the outcome
        data = {
            "endpoint": current.endpoint_id,
            "event_type": current.event_type,
            "attempt": current.attempts,
        }
        current.sending_started_at = None
        if not error:
            current.status = WebhookMessage.Status.DELIVERED
            current.delivered_at = finished
            current.next_attempt_at = None
            current.last_error = ""
            current.save(
                update_fields=[
                    "status",
                    "delivered_at",
                    "next_attempt_at",
                    "last_error",
                    "sending_started_at",
                ]
            )
            audit.record(actor=SYSTEM, action="webhook.delivered", target=current, data=data)
            return DeliveryResult("delivered")
        give_up = permanent or current.attempts >= max_attempts()
        current.last_error = error[:2000]
        if give_up:
            current.status = WebhookMessage.Status.FAILED
            current.next_attempt_at = None
        else:
            current.status = WebhookMessage.Status.PENDING
            current.next_attempt_at = finished + backoff(current.attempts)
        current.save(update_fields=["status", "next_attempt_at", "last_error", "sending_started_at"])
        audit.record(
            actor=SYSTEM,
            action="webhook.failed" if give_up else "webhook.attempt_failed",
            target=current,
            data={**data, "response_status": status, "permanent": permanent},
        )
    if give_up:
        return DeliveryResult("failed")
    return DeliveryResult("retry", current.next_attempt_at)


def webhook_message_retry(*, message_id: Any, actor: Any) -> WebhookMessage:
    """Staff: send a failed message again (the integrator fixed their endpoint), with fresh attempts."""
    with transaction.atomic():
        message = WebhookMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise NotFound("No such webhook message.")
        if message.status != WebhookMessage.Status.FAILED:
            raise TransitionNotAllowed("Only a failed webhook message can be tried again.")
        message.status = WebhookMessage.Status.PENDING
        message.attempts = 0
        message.next_attempt_at = timezone.now()
        message.save(update_fields=["status", "attempts", "next_attempt_at"])
        audit.record(
            actor=actor,
            action="webhook.retried",
            target=message,
            data={"endpoint": message.endpoint_id, "event_type": message.event_type},
        )
        transaction.on_commit(partial(queue_webhook_delivery, [str(message.pk)]), robust=True)
    return message
