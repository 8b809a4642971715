"""webhook_emit_many: what emitting each event in turn writes, in a fixed number of statements."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import ApiClient, AuditEvent
from notifications.models import WebhookMessage
from notifications.webhooks import webhook_emit, webhook_emit_many, webhook_endpoint_create
from tests.notifications.conftest import ACTOR

pytestmark = pytest.mark.django_db


def integrator(name: str, *event_types: str) -> ApiClient:
    client = ApiClient.objects.create(name=name, contact_email=f"{name}@example.org")
    webhook_endpoint_create(client=client, url="https://hooks.example.org/a", actor=ACTOR)
    second, _secret = webhook_endpoint_create(client=client, url="https://hooks.example.org/b", actor=ACTOR)
    second.event_types = list(event_types)
    second.save(update_fields=["event_types"])
    return client


def written() -> list[tuple[Any, ...]]:
    rows = WebhookMessage.objects.order_by("created_at", "endpoint_id", "event_type")
    return sorted((m.endpoint_id, m.event_type, str(m.payload)) for m in rows)


def events(clients: list[ApiClient]) -> list[tuple[ApiClient, str, dict[str, Any]]]:
    return [
        (client, event_type, {"n": i, "type": event_type})
        for i, client in enumerate(clients)
        for event_type in ("decision.effective", "decision.reversed")
    ]


def test_emitting_many_writes_what_emitting_each_in_turn_writes() -> None:
    clients = [
        integrator("one", "decision.reversed"),
        integrator("two"),
        ApiClient.objects.create(name="none"),
    ]
    for client, event_type, payload in events(clients):
        webhook_emit(client=client, event_type=event_type, payload=payload, actor=ACTOR)
    one_by_one = written()
    one_by_one_events = AuditEvent.objects.filter(action="webhook.emitted").count()
    WebhookMessage.objects.all().delete()

    messages = webhook_emit_many(events=events(clients), actor=ACTOR)

    assert written() == one_by_one
    assert len(messages) == len(one_by_one) == 7  # one: 2 + 1 (its second endpoint wants reversals); two: 4
    assert AuditEvent.objects.filter(action="webhook.emitted").count() == 2 * one_by_one_events


def test_emitting_for_many_clients_costs_a_fixed_number_of_statements() -> None:
    def cost(n: int) -> int:
        clients = [integrator(f"c{n}-{i}") for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            webhook_emit_many(events=events(clients), actor=ACTOR)
        return len(ctx.captured_queries)

    assert cost(1) == cost(12)
