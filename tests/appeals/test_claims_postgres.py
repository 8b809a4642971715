"""Claims under real concurrency on PostgreSQL: 16 reviewers pressing "Next case" at once on 500 queued
appeals. Every appeal is claimed exactly once, never twice, with one audit event per claim.

Run with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/contestable_appeals``."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections

from appeals import services
from appeals.models import Appeal, QueueMembership
from appeals.workflow import State
from core import clock
from core.actors import SYSTEM
from core.ids import public_reference
from core.models import AuditEvent, User
from decisions.services import decision_record_many
from tests.appeals.conftest import make_world
from tests.factories import decision_payload, reviewer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16


def _queued_appeals(n: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[User]]:
    """``n`` queued appeals on ``n`` decisions of one system, and 16 reviewers in its queue."""
    from notifications import services as outbox

    monkeypatch.setattr(outbox, "queue_notice_delivery", lambda ids: None)  # no deliveries needed here
    w = make_world()
    items = []
    for _ in range(n):
        payload = decision_payload(w.system, w.version)
        payload["subject"]["email"] = ""
        items.append(payload)
    decisions = [r.decision for r in decision_record_many(items=items, actor=SYSTEM)]
    assert all(d is not None for d in decisions)
    now = clock.now()
    Appeal.objects.bulk_create(
        Appeal(
            reference=public_reference("APL"),
            decision=d,
            queue=w.queue,
            status=State.QUEUED,
            channel="portal",
            statement="Please look again.",
            filed_at=now + timedelta(microseconds=i),
            appeal_deadline=now.date() + timedelta(days=100),
            original_due_date=now.date() + timedelta(days=30),
            due_date=now.date() + timedelta(days=30),
            created_at=now,
        )
        for i, d in enumerate(decisions)
        if d is not None
    )
    people = [reviewer() for _ in range(THREADS)]
    QueueMembership.objects.bulk_create(QueueMembership(queue=w.queue, user=u, added_at=now) for u in people)
    return w, people


def _race(people: list[User]) -> dict[int, list[str]]:
    """Each reviewer, in its own thread and connection, claims until nothing is left."""
    start = threading.Barrier(len(people))
    claimed: dict[int, list[str]] = {u.pk: [] for u in people}
    errors: list[BaseException] = []

    def work(user: User) -> None:
        try:
            start.wait()
            while (a := services.review_claim_next(reviewer=user)) is not None:
                claimed[user.pk].append(str(a.pk))
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u,)) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return claimed


@pytest.mark.parametrize("skip_locked", [True, False], ids=["skip-locked", "conditional-update"])
def test_sixteen_reviewers_claim_five_hundred_appeals_each_exactly_once(
    skip_locked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connection.vendor == "postgresql"
    if not skip_locked:  # the path taken on databases without SKIP LOCKED, raced here for real
        monkeypatch.setattr(type(connection.features), "has_select_for_update_skip_locked", False)
    n = 500 if skip_locked else 200
    _w, people = _queued_appeals(n, monkeypatch)

    claimed = _race(people)

    all_claims = [pk for refs in claimed.values() for pk in refs]
    assert len(all_claims) == n  # every appeal claimed ...
    assert len(set(all_claims)) == n  # ... and none twice
    assert sum(1 for refs in claimed.values() if refs) > 1  # the work was really shared
    rows = {str(a.pk): a for a in Appeal.objects.all()}
    assert {a.status for a in rows.values()} == {State.IN_REVIEW}
    for user_pk, refs in claimed.items():
        assert all(rows[pk].claimed_by_id == user_pk for pk in refs)
    per_appeal = Counter(
        AuditEvent.objects.filter(action="appeal.claimed").values_list("target_id", flat=True)
    )
    assert set(per_appeal) == set(rows) and set(per_appeal.values()) == {1}
