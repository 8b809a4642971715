"""The institution's clock (S25): due dates, pauses while waiting on the person, escalation with delay
notices. Time is frozen through ``core.clock.now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail

from appeals import services, tasks
from appeals.models import Appeal, Escalation, QueueMembership
from appeals.workflow import State
from core.errors import TransitionNotAllowed
from notifications.models import Notice
from tests.appeals.conftest import PDF, World, events, notices_about

pytestmark = pytest.mark.django_db

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def at_t0(frozen: Any) -> Any:
    frozen.set(T0)
    return frozen


def test_the_due_date_is_the_systems_review_days_after_filing_in_its_zone(world: World, at_t0: Any) -> None:
    a = world.appeal()
    assert a.due_date == a.original_due_date == datetime(2027, 3, 31).date()  # 30 days (the default)


def test_an_information_request_pauses_the_clock_until_the_reply(
    world: World, at_t0: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    a = world.claimed()
    request = services.information_request(
        appeal=a, reviewer=world.alice, question="Send your March payslip."
    )
    a.refresh_from_db()
    assert a.status == State.AWAITING_APPELLANT and a.clock_paused_at == T0
    assert request.reply_due == (T0 + timedelta(days=services.information_reply_days())).date()
    (email,) = [n for n in notices_about(a, Notice.Kind.INFORMATION_REQUESTED) if n.channel == "email"]
    assert "Send your March payslip." in email.body_text and "15 March 2027" in email.body_text
    assert "against our own deadline" in email.body_text
    # Nine days later the person answers: the due date moves by the nine days spent waiting.
    at_t0.set(T0 + timedelta(days=9))
    services.information_reply(appeal=a, reply="Attached.", files=[("payslip.pdf", PDF)], actor=world.person)
    a.refresh_from_db()
    assert a.status == State.IN_REVIEW and a.claimed_by == world.alice and a.clock_paused_at is None
    assert a.due_date == a.original_due_date + timedelta(days=9) and a.paused_days == 9
    assert a.evidence.count() == 1
    (received,) = events(a, "appeal.information_received")
    assert received.data["from"] == State.AWAITING_APPELLANT and received.data["paused_days"] == 9


def test_an_unanswered_request_times_out_and_the_review_goes_on(world: World, at_t0: Any) -> None:
    a = world.claimed()
    services.information_request(appeal=a, reviewer=world.alice, question="Which month?", reply_days=5)
    at_t0.set(T0 + timedelta(days=5, hours=12))
    assert services.information_requests_expire() == 0  # the reply day is not over yet
    at_t0.set(T0 + timedelta(days=6, hours=12))
    assert tasks.expire_information_requests() == 1
    a.refresh_from_db()
    assert a.status == State.IN_REVIEW and a.paused_days == 6
    assert events(a, "appeal.information_timed_out")[0].data["to"] == State.IN_REVIEW
    with pytest.raises(TransitionNotAllowed):
        services.information_reply(appeal=a, reply="Too late", actor=world.person)


def test_overdue_appeals_escalate_once_tell_supervisors_and_the_person(
    world: World, at_t0: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    QueueMembership.objects.filter(queue=world.queue, user=world.senior).update(role="supervisor")
    late, on_time = world.appeal(), world.appeal()
    Appeal.objects.filter(pk=on_time.pk).update(due_date=on_time.due_date + timedelta(days=10))
    # On the due date itself nothing happens: the day lasts until its end in the system's zone.
    at_t0.set(datetime(2027, 3, 31, 21, 59, tzinfo=UTC))  # 23:59 in Brussels
    assert services.escalate_overdue() == 0
    at_t0.set(datetime(2027, 3, 31, 22, 0, 1, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.escalate_overdue_appeals() == 1
    late.refresh_from_db()
    assert (
        late.escalated and late.escalation_count == 1 and late.original_due_date.isoformat() == "2027-03-31"
    )
    assert late.due_date == datetime(2027, 4, 11).date()  # ten days from today in Brussels (1 April)
    (esc,) = Escalation.objects.filter(appeal=late)
    assert esc.missed_due_date.isoformat() == "2027-03-31" and esc.supervisors_told_at is not None
    (event,) = events(late, "appeal.escalated")
    assert event.data["number"] == 1 and event.data["new_due_date"] == "2027-04-11"
    (delay,) = [n for n in notices_about(late, Notice.Kind.DELAY) if n.channel == "email"]
    assert "31 March 2027" in delay.body_text and "11 April 2027" in delay.body_text
    (told,) = [m for m in mail.outbox if m.to == [world.senior.email]]
    assert late.reference in told.subject
    assert [m.subject for m in mail.outbox if m.to != [world.senior.email]] == [delay.subject]  # the person
    # Running again changes nothing: one delay notice per escalation.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.escalate_overdue() == 0
    assert len(notices_about(late, Notice.Kind.DELAY)) == 2  # portal and email, once
    # The new date passes too: a second escalation, a second delay notice.
    at_t0.set(datetime(2027, 4, 12, 8, 0, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.escalate_overdue() == 2  # and the other appeal's own due date (10 April) passed
    late.refresh_from_db()
    assert late.escalation_count == 2 and len(notices_about(late, Notice.Kind.DELAY)) == 4
    on_time.refresh_from_db()
    assert on_time.escalated and on_time.escalation_count == 1  # its own due date passed by then


def test_an_escalated_appeal_jumps_the_queue(world: World, at_t0: Any) -> None:
    first, second = world.appeal(), world.appeal()
    Appeal.objects.filter(pk=second.pk).update(due_date=T0.date() - timedelta(days=1))
    at_t0.set(T0 + timedelta(days=1))
    assert services.escalate_overdue() == 1
    assert services.review_claim_next(reviewer=world.alice).pk == second.pk  # type: ignore[union-attr]
    assert services.review_claim_next(reviewer=world.alice).pk == first.pk  # type: ignore[union-attr]


def test_the_clock_does_not_run_while_waiting_on_the_person(world: World, at_t0: Any) -> None:
    a = world.claimed()
    services.information_request(appeal=a, reviewer=world.alice, question="Which month?", reply_days=60)
    at_t0.set(T0 + timedelta(days=45))
    assert services.escalate_overdue() == 0
    a.refresh_from_db()
    assert not a.escalated


def test_without_queue_supervisors_the_senior_reviewers_are_told(
    world: World, at_t0: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    a = world.appeal()
    at_t0.set(T0 + timedelta(days=40))
    services.escalate_overdue()
    (esc,) = Escalation.objects.filter(appeal=a)
    assert services.escalation_tell_supervisors(escalation_id=esc.pk) == 1
    assert services.escalation_tell_supervisors(escalation_id=esc.pk) == 0  # once
    assert mail.outbox[0].to == [world.senior.email]
    assert a.decision.subject.pseudonym not in mail.outbox[0].body
    services.escalation_acknowledge(escalation=esc, actor=world.senior)
    esc.refresh_from_db()
    assert esc.acknowledged_by == world.senior
    assert events(a, "appeal.escalation_acknowledged")[0].data["escalation"] == 1


def test_withdrawing_ends_the_pause_and_the_stay(world: World, at_t0: Any) -> None:
    a = world.claimed()
    services.information_request(appeal=a, reviewer=world.alice, question="Which month?")
    a = services.appeal_withdraw(appeal=a, actor=world.person, reason="Sorted it out by phone")
    assert a.status == State.WITHDRAWN and a.clock_paused_at is None and a.claimed_by is None
    assert a.stay == Appeal.Stay.LIFTED
    assert events(a, "appeal.withdrawn")[0].data["from"] == State.AWAITING_APPELLANT
