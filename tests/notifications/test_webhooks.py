"""Signed webhooks to integrators (S27: the institution is told): Standard Webhooks signatures checked with
the reference library against a real local HTTP server; retries, delivery log, never redirected."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.errors import ValidationFailed
from core.models import ApiClient, AuditEvent
from notifications.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from notifications.services import outbox_sweep
from notifications.webhooks import (
    generate_secret,
    message_body,
    sign,
    signed_headers,
    webhook_deliver,
    webhook_emit,
    webhook_endpoint_create,
)

pytestmark = pytest.mark.django_db


class Receiver:
    """An integrator's endpoint: a real HTTP server on 127.0.0.1 with a random port. Answers each request
    with the next status in ``statuses`` (200 when none is left) and keeps what it received."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def client_() -> ApiClient:
    return ApiClient.objects.create(name="Acme Bank scoring")


@pytest.fixture
def emit(client_, actor, django_capture_on_commit_callbacks):
    """Emit an event; its on-commit delivery is dropped so each test drives delivery itself."""

    def go(event_type="decision.effective", payload=None):
        with django_capture_on_commit_callbacks(execute=False):
            return webhook_emit(
                client=client_, event_type=event_type, payload=payload or {"decision": "d-1"}, actor=actor
            )

    return go


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_signature_verifies_with_the_standard_webhooks_library(receiver, client_, actor, emit):
    _endpoint, secret = webhook_endpoint_create(client=client_, url=receiver.url, actor=actor)
    [message] = emit(payload={"decision": "d-1", "status": "effective"})

    assert webhook_deliver(message_id=message.pk).outcome == "delivered"

    [(path, headers, body)] = receiver.received
    assert path == "/hooks"
    assert headers["webhook-id"] == str(message.pk)
    assert headers["content-type"] == "application/json"
    verified = Webhook(secret).verify(body, headers)
    assert verified["type"] == "decision.effective"
    assert verified["data"] == {"decision": "d-1", "status": "effective"}
    # A wrong secret or a changed body does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"effective", b"reversed"), headers)
    message.refresh_from_db()
    assert message.status == WebhookMessage.Status.DELIVERED
    attempt = WebhookAttempt.objects.get(message=message)
    assert (attempt.outcome, attempt.response_status) == ("delivered", 200)
    assert attempt.duration_ms is not None
    assert AuditEvent.objects.filter(action="webhook.delivered", target_id=str(message.pk)).count() == 1


def test_the_signature_matches_the_specs_worked_example():
    # From the Standard Webhooks spec's reference implementations' tests.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert (
        sign(secret=secret, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body)
        == expected
    )


def test_every_retry_carries_the_same_id_and_body_with_a_fresh_signature(client_, actor, emit):
    webhook_endpoint_create(client=client_, url="https://example.org/hooks", actor=actor)
    [message] = emit()
    body = message_body(message)
    assert message_body(WebhookMessage.objects.get(pk=message.pk)) == body
    first = signed_headers(message, body, timestamp=1_800_000_000)
    second = signed_headers(message, body, timestamp=1_800_000_060)
    assert first["webhook-id"] == second["webhook-id"] == str(message.pk)
    assert first["webhook-signature"] != second["webhook-signature"]


def test_a_500_is_retried_with_backoff_and_then_delivered(receiver, client_, actor, emit):
    _endpoint, secret = webhook_endpoint_create(client=client_, url=receiver.url, actor=actor)
    [message] = emit()
    receiver.statuses = [500, 503]

    assert webhook_deliver(message_id=message.pk).outcome == "retry"
    message.refresh_from_db()
    assert message.status == WebhookMessage.Status.PENDING
    assert message.last_error == "HTTP 500"
    assert webhook_deliver(message_id=message.pk).outcome == "skipped"  # not due yet
    assert (
        webhook_deliver(message_id=message.pk, now=timezone.now() + timedelta(minutes=1.5)).outcome == "retry"
    )
    assert (
        webhook_deliver(message_id=message.pk, now=timezone.now() + timedelta(minutes=4)).outcome
        == "delivered"
    )

    assert len(receiver.received) == 3
    for _path, headers, body in receiver.received:
        Webhook(secret).verify(body, headers)
    log = list(WebhookAttempt.objects.filter(message=message).values_list("response_status", "outcome"))
    assert log == [(500, "transient_failure"), (503, "transient_failure"), (200, "delivered")]
    assert AuditEvent.objects.filter(action="webhook.attempt_failed", target_id=str(message.pk)).count() == 2


def test_a_refused_connection_is_retried(client_, actor, emit, receiver):
    endpoint, _ = webhook_endpoint_create(
        client=client_, url=f"http://127.0.0.1:{free_port()}/x", actor=actor
    )
    [message] = emit()

    assert webhook_deliver(message_id=message.pk).outcome == "retry"
    attempt = WebhookAttempt.objects.get(message=message)
    assert attempt.outcome == "transient_failure"
    assert attempt.response_status is None
    assert "refused" in attempt.error.lower()

    # The integrator fixes their endpoint; the sweep delivers once the backoff has passed.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
    WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    assert outbox_sweep() == {"notices": 0, "webhooks": 1}
    message.refresh_from_db()
    assert message.status == WebhookMessage.Status.DELIVERED
    assert len(receiver.received) == 1


def test_after_the_maximum_number_of_attempts_the_message_fails(receiver, client_, actor, emit, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    webhook_endpoint_create(client=client_, url=receiver.url, actor=actor)
    [message] = emit()
    receiver.statuses = [500, 500]
    webhook_deliver(message_id=message.pk)
    assert (
        webhook_deliver(message_id=message.pk, now=timezone.now() + timedelta(minutes=2)).outcome == "failed"
    )
    message.refresh_from_db()
    assert message.status == WebhookMessage.Status.FAILED
    assert AuditEvent.objects.filter(action="webhook.failed", target_id=str(message.pk)).count() == 1


def test_410_gone_stops_at_once(receiver, client_, actor, emit):
    webhook_endpoint_create(client=client_, url=receiver.url, actor=actor)
    [message] = emit()
    receiver.statuses = [410]
    assert webhook_deliver(message_id=message.pk).outcome == "failed"
    assert outbox_sweep(now=timezone.now() + timedelta(days=1))["webhooks"] == 0


def test_a_redirect_is_not_followed(receiver, client_, actor, emit):
    webhook_endpoint_create(client=client_, url=receiver.url, actor=actor)
    [message] = emit()
    receiver.statuses = [307]
    assert webhook_deliver(message_id=message.pk).outcome == "retry"
    assert [path for path, _h, _b in receiver.received] == ["/hooks"]  # nothing sent to /elsewhere
    assert WebhookAttempt.objects.get(message=message).response_status == 307


def test_emit_writes_one_message_per_active_endpoint_that_wants_the_event(client_, actor, emit):
    wants_all, _ = webhook_endpoint_create(client=client_, url="https://a.example/h", actor=actor)
    wants_it, _ = webhook_endpoint_create(
        client=client_, url="https://b.example/h", actor=actor, event_types=["decision.effective"]
    )
    webhook_endpoint_create(
        client=client_, url="https://c.example/h", actor=actor, event_types=["decision.reversed"]
    )
    inactive, _ = webhook_endpoint_create(client=client_, url="https://d.example/h", actor=actor)
    WebhookEndpoint.objects.filter(pk=inactive.pk).update(active=False)
    other_client = ApiClient.objects.create(name="Other")
    webhook_endpoint_create(client=other_client, url="https://e.example/h", actor=actor)

    messages = emit("decision.effective")

    assert {m.endpoint_id for m in messages} == {wants_all.pk, wants_it.pk}
    events = AuditEvent.objects.filter(action="webhook.emitted")
    assert events.count() == 2
    assert all(e.data["event_type"] == "decision.effective" for e in events)


def test_emitted_messages_roll_back_with_their_cause(client_, actor):
    webhook_endpoint_create(client=client_, url="https://a.example/h", actor=actor)
    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_emit(client=client_, event_type="decision.reversed", payload={"d": 1}, actor=actor)
        raise RuntimeError
    assert not WebhookMessage.objects.exists()


def test_emitting_queues_delivery_after_commit(receiver, client_, actor, django_capture_on_commit_callbacks):
    _endpoint, secret = webhook_endpoint_create(client=client_, url=receiver.url, actor=actor)
    with django_capture_on_commit_callbacks(execute=True):
        [message] = webhook_emit(
            client=client_, event_type="decision.effective", payload={"x": 1}, actor=actor
        )
    message.refresh_from_db()
    assert message.status == WebhookMessage.Status.DELIVERED
    [(_p, headers, body)] = receiver.received
    assert json.loads(body)["data"] == {"x": 1}
    Webhook(secret).verify(body, headers)


def test_only_http_and_https_urls_are_accepted(client_, actor):
    for url in ("ftp://example.org/x", "file:///etc/passwd", "javascript:alert(1)", "https://"):
        with pytest.raises(ValidationFailed):
            webhook_endpoint_create(client=client_, url=url, actor=actor)
    assert not WebhookEndpoint.objects.exists()


def test_creating_an_endpoint_is_audited_without_its_secret(client_, actor):
    endpoint, secret = webhook_endpoint_create(client=client_, url="https://a.example/h", actor=actor)
    assert secret.startswith("whsec_") and endpoint.secret == secret
    event = AuditEvent.objects.get(action="webhook_endpoint.created")
    assert event.target_id == str(endpoint.pk)
    assert secret.removeprefix("whsec_") not in json.dumps(event.data)


def test_the_sweep_recovers_a_message_stuck_in_sending_after_its_worker_died(receiver, client_, actor, emit):
    from notifications.services import sending_lease

    _endpoint, secret = webhook_endpoint_create(client=client_, url=receiver.url, actor=actor)
    [message] = emit()
    crashed_at = timezone.now() - sending_lease() - timedelta(seconds=1)
    WebhookMessage.objects.filter(pk=message.pk).update(
        status=WebhookMessage.Status.SENDING, sending_started_at=crashed_at, attempts=1
    )
    WebhookAttempt.objects.create(message=message, number=1, started_at=crashed_at)

    assert outbox_sweep() == {"notices": 0, "webhooks": 1}

    message.refresh_from_db()
    assert message.status == WebhookMessage.Status.DELIVERED
    outcomes = list(WebhookAttempt.objects.filter(message=message).values_list("number", "outcome"))
    assert outcomes == [(1, "lost"), (2, "delivered")]
    [(_p, headers, body)] = receiver.received
    Webhook(secret).verify(body, headers)
