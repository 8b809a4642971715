"""S11 for notices delivered in chunks: the bulk handler starts exactly the effects the per-notice handler
starts, with the same events, in a few statements."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.actors import SYSTEM
from core.models import AuditEvent
from decisions.effects import decision_notices_delivered
from decisions.models import Decision
from decisions.notices import decision_notices_compose
from notifications.models import Notice
from notifications.services import notice_deliver, notice_deliver_many
from tests.decisions.builders import make_decision, make_system

pytestmark = pytest.mark.django_db


def world() -> list[tuple[str, Decision]]:
    """Decisions of every kind the handler tells apart, with their notices composed (not delivered)."""
    period = make_system("public_benefits", notice_period_days=10)
    cases = [
        ("email and portal", make_decision()),
        ("portal only", make_decision(email="")),
        ("notice period", make_decision(period)),
        ("favourable", make_decision(adverse=False)),
        ("awaiting a human", make_decision(status=Decision.Status.AWAITING_HUMAN)),
        ("already effective", make_decision(status=Decision.Status.EFFECTIVE)),
    ]
    decision_notices_compose(
        decisions=[d for _, (d, _c) in cases], access_codes={d.pk: c for _, (d, c) in cases}, actor=SYSTEM
    )
    return [(label, d) for label, (d, _c) in cases]


def notices_of(decisions: list[tuple[str, Decision]]) -> list[Notice]:
    """Their notices, portal copies first (the harder order: the portal copy must not start the effect
    of a decision that has an email notice)."""
    ids = [str(d.pk) for _, d in decisions]
    return sorted(Notice.objects.filter(topic_id__in=ids), key=lambda n: (n.channel != "portal", n.topic_id))


def outcome(decisions: list[tuple[str, Decision]]) -> dict[str, Any]:
    out = {}
    for label, d in decisions:
        d.refresh_from_db()
        events = AuditEvent.objects.filter(
            target_id=str(d.pk), action__in=["decision.effective", "decision.effect_scheduled"]
        )
        channel = {str(n.pk): n.channel for n in Notice.objects.filter(topic_id=str(d.pk))}
        out[label] = (
            d.status,
            d.effective_at is not None,
            sorted(
                (e.action, channel.get(e.data.get("notice")), e.data.get("notice_period_days"))
                for e in events
            ),
        )
    return out


EXPECTED = {
    "email and portal": ("effective", True, [("decision.effective", "email", 0)]),
    "portal only": ("effective", True, [("decision.effective", "portal", 0)]),
    "notice period": ("pending_notice", True, [("decision.effect_scheduled", "email", 10)]),
    "favourable": ("effective", False, []),
    "awaiting a human": ("awaiting_human", False, []),
    "already effective": ("effective", False, []),
}


def test_delivering_notices_one_by_one_starts_these_effects() -> None:
    decisions = world()
    for notice in notices_of(decisions):
        notice_deliver(notice_id=notice.pk)
    assert outcome(decisions) == EXPECTED


def test_delivering_them_as_one_chunk_starts_exactly_the_same_effects() -> None:
    decisions = world()
    notices = notices_of(decisions)

    results = notice_deliver_many(notice_ids=[n.pk for n in notices])

    assert {r.outcome for r in results.values()} == {"delivered"}
    assert outcome(decisions) == EXPECTED
    email = Notice.objects.get(topic_id=str(decisions[0][1].pk), channel="email")
    effective = decisions[0][1]
    assert effective.effective_at == email.delivered_at  # the email's delivery time, not the portal's
    [event] = AuditEvent.objects.filter(action="decision.effective", target_id=str(effective.pk))
    assert event.data["subject"] == effective.subject.pseudonym
    assert event.data["delivered_at"] == email.delivered_at.isoformat()  # type: ignore[union-attr]


def test_a_decision_met_twice_in_a_chunk_starts_its_effect_once() -> None:
    decisions = world()
    notices = notices_of(decisions)
    notice_deliver_many(notice_ids=[n.pk for n in notices])
    delivered = list(Notice.objects.filter(pk__in=[n.pk for n in notices]))
    decision_notices_delivered(delivered + delivered)  # a second run, twice over: nothing changes
    assert outcome(decisions) == EXPECTED


def test_the_bulk_handler_costs_the_same_statements_for_2_or_40_decisions() -> None:
    def cost(n: int) -> int:
        system = make_system("credit")
        made = [make_decision(system) for _ in range(n)]
        decision_notices_compose(
            decisions=[d for d, _c in made], access_codes={d.pk: c for d, c in made}, actor=SYSTEM
        )
        delivered = list(Notice.objects.filter(topic_id__in=[str(d.pk) for d, _c in made]))
        for notice in delivered:
            notice.delivered_at = notice.created_at
        with CaptureQueriesContext(connection) as ctx:
            decision_notices_delivered(delivered)
        assert Decision.objects.filter(pk__in=[d.pk for d, _c in made], status="effective").count() == n
        return len(ctx.captured_queries)

    assert cost(2) == cost(40)
