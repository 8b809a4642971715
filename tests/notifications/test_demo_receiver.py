"""The demo integrator's receiver checks Standard Webhooks signatures as a real integrator would, so the
demo shows a signed webhook accepted end to end (issue 4's "the integrator's webhook shows it")."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client, override_settings

from core.actors import SYSTEM
from core.models import ApiClient
from notifications.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from notifications.views import webhook_signature_valid
from notifications.webhooks import sign, webhook_deliver, webhook_emit, webhook_endpoint_create


def _endpoint(url: str = "http://127.0.0.1:1/") -> WebhookEndpoint:
    client = ApiClient.objects.create(name="Demo integrator (test)")
    endpoint, _secret = webhook_endpoint_create(client=client, url=url, actor=SYSTEM)
    return endpoint


def _signed(endpoint: WebhookEndpoint, body: bytes, msg_id: str = "msg_1", at: int | None = None) -> Any:
    stamp = int(time.time()) if at is None else at
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(stamp),
        "HTTP_WEBHOOK_SIGNATURE": sign(secret=endpoint.secret, msg_id=msg_id, timestamp=stamp, body=body),
    }


@pytest.mark.django_db
@override_settings(CONTESTABLE_DEMO_RECEIVER=True)
def test_the_receiver_accepts_a_correctly_signed_message_and_refuses_a_tampered_one(client: Client) -> None:
    endpoint = _endpoint()
    url = f"/staff/outbox/demo-integrator/{endpoint.client_id}/"
    body = json.dumps({"type": "appeal.decided"}).encode()

    ok = client.post(url, body, content_type="application/json", **_signed(endpoint, body))
    tampered = client.post(url, body + b" ", content_type="application/json", **_signed(endpoint, body))
    stale = client.post(
        url, body, content_type="application/json", **_signed(endpoint, body, at=int(time.time()) - 3600)
    )
    unsigned = client.post(url, body, content_type="application/json")

    assert ok.status_code == 204
    assert tampered.status_code == stale.status_code == unsigned.status_code == 401


@pytest.mark.django_db
@override_settings(CONTESTABLE_DEMO_RECEIVER=False)
def test_the_receiver_is_off_outside_the_demo(client: Client) -> None:
    endpoint = _endpoint()
    body = b"{}"
    response = client.post(
        f"/staff/outbox/demo-integrator/{endpoint.client_id}/",
        body,
        content_type="application/json",
        **_signed(endpoint, body),
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_check_agrees_with_the_standard_webhooks_library() -> None:
    from standardwebhooks.webhooks import Webhook

    endpoint = _endpoint()
    body = b'{"a":1}'
    stamp = int(time.time())
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret=endpoint.secret, msg_id="msg_2", timestamp=stamp, body=body),
    }
    Webhook(endpoint.secret).verify(body, headers)  # raises if the library disagrees
    assert webhook_signature_valid(endpoint, headers, body)
    assert not webhook_signature_valid(endpoint, {**headers, "webhook-id": "msg_3"}, body)


@pytest.mark.django_db(transaction=True)
@override_settings(CONTESTABLE_DEMO_RECEIVER=True)
def test_a_real_delivery_to_the_receiver_is_recorded_as_accepted(live_server: Any) -> None:
    endpoint = _endpoint()
    endpoint.url = f"{live_server.url}/staff/outbox/demo-integrator/{endpoint.client_id}/"
    endpoint.save(update_fields=["url"])
    [message] = webhook_emit(
        client=endpoint.client, event_type="appeal.decided", payload={"appeal": "APL-TEST"}, actor=SYSTEM
    )

    webhook_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == WebhookMessage.Status.DELIVERED
    assert [a.response_status for a in WebhookAttempt.objects.filter(message=message)][-1] == 204
