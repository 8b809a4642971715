"""Constant queries per request for the batch endpoint: 1, 100 or 1,000 decisions cost the same statements.

Delivery is a worker's job, not the request's: the queued task messages are caught here (and counted), so
the figure is what the request itself sends to the database, including the audit seal after its commit.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.models import Decision
from notifications import tasks
from notifications.models import Notice
from tests.decisions.test_api import Integrator
from tests.factories import decision_payload, live_system

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    messages: list[list[str]] = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", lambda ids: messages.append(list(ids)))
    monkeypatch.setattr(tasks.deliver_notice, "delay", lambda notice_id: messages.append([notice_id]))
    return messages


def _post_batch(
    integrator: Integrator, items: list[dict[str, Any]], on_commit: Any
) -> tuple[int, dict[str, Any]]:
    """Post a batch; its after-commit work (audit seal, queueing) runs inside the count."""
    with CaptureQueriesContext(connection) as ctx, on_commit(execute=True):
        response = integrator.post("/api/v1/decisions/batch/", {"items": items})
    assert response.status_code == 200, response.json()
    return len(ctx.captured_queries), response.json()


def test_the_batch_endpoint_costs_the_same_queries_for_1_100_and_1000_decisions(
    queued: list[list[str]], django_capture_on_commit_callbacks: Any
) -> None:
    system, version = live_system(slug="credit-limit")
    integrator = Integrator(system)
    warm_up = [decision_payload(system, version)]
    _post_batch(integrator, warm_up, django_capture_on_commit_callbacks)

    counts = {}
    for n in (1, 100, 1000):
        # Half adverse, half favourable: both notice templates, every table of the record.
        items = [decision_payload(system, version, adverse=i % 2 == 0) for i in range(n)]
        counts[n], body = _post_batch(integrator, items, django_capture_on_commit_callbacks)
        assert body["summary"] == {"created": n, "replayed": 0, "refused": 0}

    assert counts[1] == counts[100] == counts[1000], counts
    assert Decision.objects.count() == 1 + 1 + 100 + 1000
    # Every decision has its email and portal notice, and all of them were handed to the workers.
    assert Notice.objects.count() == 2 * Decision.objects.count()
    assert sorted(i for message in queued for i in message) == sorted(
        str(pk) for pk in Notice.objects.values_list("pk", flat=True)
    )


def test_replaying_a_batch_costs_the_same_queries_whatever_its_size(
    queued: list[list[str]], django_capture_on_commit_callbacks: Any
) -> None:
    system, version = live_system(slug="credit-limit")
    integrator = Integrator(system)
    small = [decision_payload(system, version) for _ in range(1)]
    large = [decision_payload(system, version) for _ in range(300)]
    integrator.post("/api/v1/decisions/batch/", {"items": small})
    integrator.post("/api/v1/decisions/batch/", {"items": large})

    small_count, small_body = _post_batch(integrator, small, django_capture_on_commit_callbacks)
    large_count, large_body = _post_batch(integrator, large, django_capture_on_commit_callbacks)

    assert small_body["summary"]["replayed"] == 1 and large_body["summary"]["replayed"] == 300
    assert small_count == large_count
