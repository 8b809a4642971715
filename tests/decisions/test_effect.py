"""S11: no adverse effect before the notice is delivered; the notice period is honoured."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from core.models import ApiClient, AuditEvent
from decisions.effects import decision_notice_delivered, decisions_make_due_effective
from decisions.models import Decision
from decisions.notices import decision_notices_compose
from decisions.tasks import make_due_decisions_effective
from notifications.models import Notice, WebhookEndpoint, WebhookMessage
from notifications.registry import delivered_handlers
from notifications.services import notice_deliver
from notifications.webhooks import generate_secret
from tests.decisions.builders import make_decision, make_system

pytestmark = pytest.mark.django_db


def _compose(decision: Decision, code: str) -> dict[str, Notice]:
    decision_notices_compose(decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM)
    return {n.channel: n for n in Notice.objects.filter(topic_id=str(decision.pk))}


def _deliver(notice: Notice, at: dt.datetime | None = None) -> Notice:
    result = notice_deliver(notice_id=notice.pk, now=at)
    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED, result
    return notice


def _events(decision: Decision, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, target_id=str(decision.pk)))


def test_the_decisions_app_registers_its_delivered_handler() -> None:
    assert decision_notice_delivered in delivered_handlers("decision")


def test_an_adverse_decision_is_not_effective_until_its_notice_is_delivered() -> None:
    decision, code = make_decision()
    notices = _compose(decision, code)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING_NOTICE
    assert decision.effective_at is None
    # The periodic task does nothing to a decision whose notice has not been delivered.
    assert decisions_make_due_effective(now=dt.datetime(2099, 1, 1, tzinfo=dt.UTC)) == 0
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING_NOTICE

    # The portal-inbox copy proves nothing about the person having been told: the email must arrive.
    _deliver(notices["portal"])
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING_NOTICE
    assert _events(decision, "decision.effective") == []

    delivered = _deliver(notices["email"])
    decision.refresh_from_db()
    assert decision.status == Decision.Status.EFFECTIVE
    assert decision.effective_at == delivered.delivered_at
    [event] = _events(decision, "decision.effective")
    assert event.data["notice"] == str(delivered.pk)
    assert event.data["subject"] == decision.subject.pseudonym
    assert event.data["notice_period_days"] == 0


def test_a_failed_delivery_leaves_the_decision_without_effect() -> None:
    decision, code = make_decision(email="not-an-address")
    notices = _compose(decision, code)
    _deliver(notices["portal"])
    notice_deliver(notice_id=notices["email"].pk)
    notices["email"].refresh_from_db()
    assert notices["email"].status == Notice.Status.FAILED
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING_NOTICE
    assert _events(decision, "decision.effective") == []


def test_the_portal_notice_counts_when_it_is_the_only_notice() -> None:
    decision, code = make_decision(email="")
    notices = _compose(decision, code)
    assert set(notices) == {"portal"}
    _deliver(notices["portal"])
    decision.refresh_from_db()
    assert decision.status == Decision.Status.EFFECTIVE


def test_the_notice_period_runs_from_delivery_before_the_effect() -> None:
    system = make_system("public_benefits", notice_period_days=10)
    decision, code = make_decision(system)
    notices = _compose(decision, code)
    delivered = _deliver(notices["email"])
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING_NOTICE
    assert delivered.delivered_at is not None
    assert decision.effective_at == delivered.delivered_at + dt.timedelta(days=10)
    [scheduled] = _events(decision, "decision.effect_scheduled")
    assert scheduled.data["notice_period_days"] == 10
    assert _events(decision, "decision.effective") == []

    almost = decision.effective_at - dt.timedelta(seconds=1)
    assert decisions_make_due_effective(now=almost) == 0
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING_NOTICE

    assert decisions_make_due_effective(now=decision.effective_at) == 1
    decision.refresh_from_db()
    assert decision.status == Decision.Status.EFFECTIVE
    [effective] = _events(decision, "decision.effective")
    assert effective.actor_type == "system"
    # Running again changes nothing.
    assert decisions_make_due_effective(now=decision.effective_at + dt.timedelta(days=1)) == 0


def test_only_the_first_delivered_notice_starts_the_effect() -> None:
    system = make_system("credit", notice_period_days=5)
    decision, code = make_decision(system)
    notices = _compose(decision, code)
    first = _deliver(notices["email"])
    decision.refresh_from_db()
    first_effective_at = decision.effective_at
    assert first.delivered_at is not None
    assert first_effective_at == first.delivered_at + dt.timedelta(days=5)

    _deliver(notices["portal"], at=first.delivered_at + dt.timedelta(days=2))
    decision.refresh_from_db()
    assert decision.effective_at == first_effective_at
    assert len(_events(decision, "decision.effect_scheduled")) == 1


def test_a_decision_waiting_for_a_human_stays_waiting_when_a_notice_is_delivered() -> None:
    decision, code = make_decision(status=Decision.Status.AWAITING_HUMAN)
    notices = _compose(decision, code)
    _deliver(notices["portal"])
    decision.refresh_from_db()
    assert decision.status == Decision.Status.AWAITING_HUMAN
    assert decision.effective_at is None
    assert _events(decision, "decision.effective") == []


def test_a_favourable_decision_is_left_as_it_was() -> None:
    decision, code = make_decision(adverse=False)
    before = (decision.status, decision.effective_at)
    notices = _compose(decision, code)
    _deliver(notices["portal"])
    decision.refresh_from_db()
    assert (decision.status, decision.effective_at) == before
    assert _events(decision, "decision.effective") == []


def test_the_integrator_is_told_when_the_decision_takes_effect() -> None:
    client = ApiClient.objects.create(name="bank")
    endpoint = WebhookEndpoint.objects.create(
        client=client, url="https://bank.example/hooks", secret=generate_secret()
    )
    decision, code = make_decision()
    Decision.objects.filter(pk=decision.pk).update(recorded_by=client)
    notices = _compose(decision, code)
    _deliver(notices["email"])
    [message] = WebhookMessage.objects.filter(endpoint=endpoint)
    assert message.event_type == "decision.effective"
    assert message.payload["decision"]["id"] == str(decision.pk)
    assert message.payload["decision"]["status"] == "effective"
    assert "ana" not in str(message.payload).lower()


def test_the_periodic_task_makes_due_decisions_effective() -> None:
    system = make_system("credit", notice_period_days=1)
    decision, code = make_decision(system)
    notices = _compose(decision, code)
    _deliver(notices["email"])
    assert make_due_decisions_effective.apply().get() == 0  # the day has not passed yet
    two_days_later = timezone.now() + dt.timedelta(days=2)
    with mock.patch("django.utils.timezone.now", return_value=two_days_later):
        assert make_due_decisions_effective.apply().get() == 1
    decision.refresh_from_db()
    assert decision.status == Decision.Status.EFFECTIVE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_start_the_effect_once() -> None:
    import threading

    from django.db import connection

    from decisions.effects import decision_effect_start

    system = make_system("credit", notice_period_days=3)
    decision, _code = make_decision(system)
    barrier = threading.Barrier(2)
    moments = [timezone.now(), timezone.now() + dt.timedelta(seconds=5)]

    def deliver(at: dt.datetime) -> None:
        try:
            barrier.wait()
            decision_effect_start(decision_id=decision.pk, delivered_at=at, actor=SYSTEM)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(m,)) for m in moments]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    decision.refresh_from_db()
    assert len(_events(decision, "decision.effect_scheduled")) == 1
    assert decision.effective_at in {m + dt.timedelta(days=3) for m in moments}
