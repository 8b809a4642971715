"""Delivering notices (S11, S15): at most once, retried with backoff, handed to a person when it fails."""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from core.models import AuditEvent
from notifications import services
from notifications.channels import message_id_for
from notifications.models import DeliveryAttempt, Notice
from notifications.registry import register_delivered_handler, unregister_delivered_handler
from notifications.services import notice_create, notice_deliver, outbox_sweep
from tests.notifications.backends import FlakyBackend

pytestmark = pytest.mark.django_db


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.reset()
    yield FlakyBackend
    FlakyBackend.reset()


@pytest.fixture
def pending(spec, actor, django_capture_on_commit_callbacks):
    """A notice in the outbox whose queued delivery was dropped (as if the broker lost the message)."""

    def make(**overrides):
        with django_capture_on_commit_callbacks(execute=False):
            return notice_create(spec=spec(**overrides), actor=actor)

    return make


def later(minutes: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


def events(notice, action):
    return list(AuditEvent.objects.filter(action=action, target_id=str(notice.pk)))


def test_after_commit_the_notice_is_delivered_by_email_in_eager_mode(
    spec, actor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notice = notice_create(spec=spec(to_address="ana@example.org"), actor=actor)

    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED
    assert notice.delivered_at is not None and notice.sent_at == notice.delivered_at
    assert notice.attempts == 1
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert isinstance(sent, EmailMultiAlternatives)
    assert sent.to == ["ana@example.org"]
    assert sent.subject == notice.subject
    assert sent.body == notice.body_text
    assert sent.alternatives[0][0] == notice.body_html
    assert sent.alternatives[0][1] == "text/html"
    expected_id = f"<notice-{notice.pk}@contestable.invalid>"
    assert sent.extra_headers["Message-ID"] == message_id_for(notice) == expected_id
    delivered = events(notice, "notice.delivered")
    assert len(delivered) == 1
    assert delivered[0].data["recipient"] == notice.recipient
    assert "ana@example.org" not in repr(delivered[0].data)
    attempt = DeliveryAttempt.objects.get(notice=notice)
    assert attempt.outcome == DeliveryAttempt.Outcome.DELIVERED and attempt.finished_at is not None


def test_a_portal_notice_is_delivered_by_being_made_visible_without_any_email(pending):
    notice = pending(channel="portal")
    assert notice_deliver(notice_id=notice.pk).outcome == "delivered"
    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED
    assert mail.outbox == []
    assert len(events(notice, "notice.delivered")) == 1


def test_delivering_twice_never_sends_twice(pending):
    notice = pending()
    assert notice_deliver(notice_id=notice.pk).outcome == "delivered"
    assert notice_deliver(notice_id=notice.pk).outcome == "skipped"
    assert notice_deliver(notice_id=notice.pk, now=later(60 * 24)).outcome == "skipped"
    assert len(mail.outbox) == 1
    assert DeliveryAttempt.objects.filter(notice=notice).count() == 1
    assert len(events(notice, "notice.delivered")) == 1


def test_a_notice_another_worker_is_sending_is_left_alone(pending):
    notice = pending()
    now = timezone.now()
    Notice.objects.filter(pk=notice.pk).update(status=Notice.Status.SENDING, sending_started_at=now)

    assert notice_deliver(notice_id=notice.pk).outcome == "skipped"
    assert mail.outbox == []
    assert outbox_sweep() == {"notices": 0, "webhooks": 0}


def test_a_transient_failure_is_retried_with_backoff_and_then_delivered(pending, flaky):
    notice = pending()
    flaky.failures = [smtplib.SMTPServerDisconnected("gone"), ConnectionRefusedError(111, "refused")]

    first = notice_deliver(notice_id=notice.pk)
    notice.refresh_from_db()
    assert first.outcome == "retry"
    assert notice.status == Notice.Status.PENDING
    assert notice.attempts == 1
    assert "SMTPServerDisconnected" in notice.last_error
    assert timedelta(seconds=55) < notice.next_attempt_at - timezone.now() <= timedelta(seconds=60)
    failed = events(notice, "notice.attempt_failed")
    assert len(failed) == 1 and failed[0].data["permanent"] is False

    # Not yet due: nobody may try before the backoff time.
    assert notice_deliver(notice_id=notice.pk).outcome == "skipped"
    assert flaky.calls == 1

    second = notice_deliver(notice_id=notice.pk, now=later(1.5))
    notice.refresh_from_db()
    assert second.outcome == "retry"
    assert notice.attempts == 2
    # The second wait is twice the first.
    assert timedelta(seconds=115) < notice.next_attempt_at - timezone.now() <= timedelta(seconds=120)

    third = notice_deliver(notice_id=notice.pk, now=later(4))
    notice.refresh_from_db()
    assert third.outcome == "delivered"
    assert notice.status == Notice.Status.DELIVERED
    assert notice.attempts == 3
    assert notice.last_error == ""
    assert len(mail.outbox) == 1
    outcomes = list(DeliveryAttempt.objects.filter(notice=notice).values_list("number", "outcome"))
    assert outcomes == [(1, "transient_failure"), (2, "transient_failure"), (3, "delivered")]


def test_a_refused_recipient_is_a_permanent_failure_that_goes_to_a_person(pending, flaky):
    notice = pending()
    flaky.failures = [smtplib.SMTPRecipientsRefused({"ana@example.org": (550, b"5.1.1 no such user")})]

    assert notice_deliver(notice_id=notice.pk).outcome == "failed"
    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED
    assert notice.needs_attention is True
    assert notice.next_attempt_at is None
    assert "550" in notice.last_error
    assert DeliveryAttempt.objects.get(notice=notice).outcome == DeliveryAttempt.Outcome.PERMANENT_FAILURE
    failed = events(notice, "notice.failed")
    assert len(failed) == 1 and failed[0].data["permanent"] is True
    # Never retried, by the sweep or anyone.
    assert outbox_sweep(now=later(60 * 24)) == {"notices": 0, "webhooks": 0}
    assert notice_deliver(notice_id=notice.pk, now=later(60 * 24)).outcome == "skipped"
    assert flaky.calls == 1


def test_a_temporarily_refused_recipient_is_retried(pending, flaky):
    notice = pending()
    flaky.failures = [smtplib.SMTPRecipientsRefused({"ana@example.org": (452, b"mailbox full")})]
    assert notice_deliver(notice_id=notice.pk).outcome == "retry"


def test_an_invalid_or_erased_address_fails_at_once_without_trying_the_server(pending, flaky):
    bad = pending(to_address="not an address")
    assert notice_deliver(notice_id=bad.pk).outcome == "failed"
    erased = pending()
    Notice.objects.filter(pk=erased.pk).update(to_address="")
    assert notice_deliver(notice_id=erased.pk).outcome == "failed"
    assert flaky.calls == 0
    assert Notice.objects.filter(needs_attention=True).count() == 2


def test_after_the_maximum_number_of_attempts_the_notice_fails_and_needs_attention(pending, flaky, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    notice = pending()
    flaky.failures = [TimeoutError("slow")] * 3

    outcomes = [notice_deliver(notice_id=notice.pk, now=later(minutes)).outcome for minutes in (0, 2, 10)]

    assert outcomes == ["retry", "retry", "failed"]
    notice.refresh_from_db()
    assert (notice.status, notice.needs_attention, notice.attempts) == (Notice.Status.FAILED, True, 3)
    assert len(events(notice, "notice.attempt_failed")) == 2
    assert len(events(notice, "notice.failed")) == 1
    assert mail.outbox == []


def test_the_sweep_delivers_a_notice_whose_queued_message_was_lost(pending):
    notice = pending()
    assert mail.outbox == []  # the on-commit message never ran

    # Within the grace period the sweep leaves it to the queued message...
    assert outbox_sweep() == {"notices": 0, "webhooks": 0}
    # ...after that it queues it again, and the (eager) worker delivers it.
    assert outbox_sweep(now=later(1)) == {"notices": 1, "webhooks": 0}

    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED
    assert len(mail.outbox) == 1


def test_the_sweep_recovers_a_notice_stuck_in_sending_after_its_worker_died(pending):
    notice = pending()
    crashed_at = timezone.now() - services.sending_lease() - timedelta(seconds=1)
    Notice.objects.filter(pk=notice.pk).update(
        status=Notice.Status.SENDING, sending_started_at=crashed_at, attempts=1
    )
    DeliveryAttempt.objects.create(notice=notice, number=1, started_at=crashed_at)

    assert outbox_sweep() == {"notices": 1, "webhooks": 0}

    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED
    assert notice.attempts == 2
    assert len(mail.outbox) == 1
    outcomes = list(DeliveryAttempt.objects.filter(notice=notice).values_list("number", "outcome"))
    assert outcomes == [(1, "lost"), (2, "delivered")]


def test_the_sweep_requeues_a_retry_whose_time_has_come(pending, flaky):
    notice = pending()
    flaky.failures = [smtplib.SMTPConnectError(421, b"try later")]
    notice_deliver(notice_id=notice.pk)
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))

    outbox_sweep()

    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED
    assert len(mail.outbox) == 1


class Recorder:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def __call__(self, notice):
        # Runs inside the transaction that marks the notice delivered: it already reads as delivered.
        self.seen.append((str(notice.pk), Notice.objects.get(pk=notice.pk).status))


@pytest.fixture
def recorder():
    handler = Recorder()
    register_delivered_handler("decision", handler)
    yield handler
    unregister_delivered_handler("decision", handler)


def test_the_delivered_handler_runs_exactly_once(pending, recorder):
    notice = pending()
    other_kind = pending(kind="appeal_received")

    notice_deliver(notice_id=notice.pk)
    notice_deliver(notice_id=notice.pk)
    outbox_sweep(now=later(60))
    notice_deliver(notice_id=other_kind.pk)

    assert recorder.seen == [(str(notice.pk), "delivered")]


def test_the_handler_does_not_run_when_sending_fails(pending, recorder, flaky):
    notice = pending()
    flaky.failures = [smtplib.SMTPServerDisconnected("gone")]
    notice_deliver(notice_id=notice.pk)
    assert recorder.seen == []


def test_a_failing_handler_rolls_back_the_delivery_and_is_retried_without_sending_again(pending):
    calls: list[str] = []

    def fragile(notice):
        calls.append(str(notice.pk))
        if len(calls) == 1:
            raise RuntimeError("decision service unavailable")

    register_delivered_handler("decision", fragile)
    try:
        notice = pending()
        assert notice_deliver(notice_id=notice.pk).outcome == "retry"
        notice.refresh_from_db()
        assert notice.status == Notice.Status.PENDING  # not delivered: the handler's work did not happen
        assert notice.sent_at is not None
        assert "decision service unavailable" in notice.last_error
        assert events(notice, "notice.delivered") == []

        assert notice_deliver(notice_id=notice.pk, now=later(2)).outcome == "delivered"
    finally:
        unregister_delivered_handler("decision", fragile)

    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED
    assert notice.delivered_at == notice.sent_at
    assert len(mail.outbox) == 1  # sent once
    assert calls == [str(notice.pk), str(notice.pk)]
    assert len(events(notice, "notice.delivered")) == 1


def test_registering_a_handler_for_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown notice kind"):
        register_delivered_handler("gossip", lambda notice: None)


def test_a_late_delivery_is_recorded_as_late(pending):
    notice = pending(due_at=timezone.now() - timedelta(days=1))
    assert notice.is_overdue
    notice_deliver(notice_id=notice.pk)
    notice.refresh_from_db()
    assert notice.was_late and not notice.is_overdue
    assert events(notice, "notice.delivered")[0].data["late"] is True
