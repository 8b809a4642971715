"""Delivering a chunk of notices together (notice_deliver_many): notice_deliver's guarantees, notice by
notice, with the bookkeeping of the whole chunk in a few statements (S11, S15)."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from core.models import AuditEvent
from notifications import registry, services, tasks
from notifications.models import DeliveryAttempt, Notice
from notifications.services import notice_create_many, notice_deliver, notice_deliver_many
from tests.notifications.backends import FlakyBackend
from tests.notifications.conftest import ACTOR, make_spec

pytestmark = pytest.mark.django_db


def pending(n: int, *, channel: str = "email", kind: str = "decision", prefix: str = "c") -> list[Notice]:
    """``n`` notices in the outbox whose queued delivery never ran (the test delivers them itself)."""
    specs = [
        make_spec(channel=channel, kind=kind, topic_id=f"{prefix}{i}", dedupe_key=f"{prefix}:{channel}:{i}")
        for i in range(n)
    ]
    return notice_create_many(specs=specs, actor=ACTOR)


def ids(notices: list[Notice]) -> list[str]:
    return [str(n.pk) for n in notices]


def fresh(notices: list[Notice]) -> list[Notice]:
    by_id = Notice.objects.in_bulk([n.pk for n in notices])
    return [by_id[n.pk] for n in notices]


@pytest.fixture
def flaky(settings: Any) -> Any:
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.reset()
    yield FlakyBackend
    FlakyBackend.reset()


def test_a_chunk_is_delivered_together_each_notice_once_with_its_attempt_and_event() -> None:
    notices = pending(4) + pending(3, channel="portal")

    results = notice_deliver_many(notice_ids=ids(notices))

    assert {r.outcome for r in results.values()} == {"delivered"}
    assert list(results) == ids(notices)
    for notice in fresh(notices):
        assert notice.status == Notice.Status.DELIVERED
        assert notice.sent_at is not None and notice.delivered_at == notice.sent_at
        assert (notice.attempts, notice.sending_started_at, notice.next_attempt_at) == (1, None, None)
        (attempt,) = DeliveryAttempt.objects.filter(notice=notice)
        assert (attempt.number, attempt.outcome) == (1, DeliveryAttempt.Outcome.DELIVERED)
        event = AuditEvent.objects.get(action="notice.delivered", target_id=str(notice.pk))
        assert event.data["attempts"] == 1 and event.data["channel"] == notice.channel
        assert "ana@example.org" not in str(event.data)
    assert len(mail.outbox) == 4


def test_delivering_the_same_chunk_again_sends_nothing() -> None:
    notices = pending(3)
    notice_deliver_many(notice_ids=ids(notices))
    again = notice_deliver_many(notice_ids=ids(notices))
    later = notice_deliver_many(notice_ids=ids(notices), now=timezone.now() + timedelta(days=1))
    assert {r.outcome for r in [*again.values(), *later.values()]} == {"skipped"}
    assert len(mail.outbox) == 3
    assert AuditEvent.objects.filter(action="notice.delivered").count() == 3


def test_notices_held_by_a_live_worker_or_not_yet_due_are_left_alone() -> None:
    held, not_due, due = pending(3)
    now = timezone.now()
    Notice.objects.filter(pk=held.pk).update(status="sending", sending_started_at=now)
    Notice.objects.filter(pk=not_due.pk).update(next_attempt_at=now + timedelta(minutes=5))

    results = notice_deliver_many(notice_ids=ids([held, not_due, due]), now=now)

    assert [r.outcome for r in results.values()] == ["skipped", "skipped", "delivered"]
    assert [m.to for m in mail.outbox] == [["ana@example.org"]]
    held, not_due = fresh([held, not_due])
    assert held.status == "sending" and not_due.status == "pending"


def test_a_chunk_costs_a_fixed_number_of_queries_plus_one_per_email_sent() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(notices: list[Notice]) -> int:
        with CaptureQueriesContext(connection) as ctx:
            notice_deliver_many(notice_ids=ids(notices))
        return len(ctx.captured_queries)

    cost(pending(2, channel="portal", prefix="warm"))
    assert cost(pending(2, channel="portal", prefix="a")) == cost(pending(40, channel="portal", prefix="b"))
    # An email's sent_at is written the moment it was accepted (the crash window stays one message wide).
    assert cost(pending(30, prefix="e")) - cost(pending(2, prefix="d")) == 28


class WatchingBackend(LocmemBackend):
    """Records, at each send, how many earlier notices already have their sent_at in the database; and
    how many connections were made."""

    seen: ClassVar[list[int]] = []
    made: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("timeout", None)
        super().__init__(*args, **kwargs)
        WatchingBackend.made += 1

    def send_messages(self, messages: Any) -> int:
        WatchingBackend.seen.append(Notice.objects.filter(sent_at__isnull=False).count())
        return super().send_messages(messages)


def test_each_email_is_marked_sent_before_the_next_is_sent_over_one_shared_connection(settings: Any) -> None:
    settings.EMAIL_BACKEND = "tests.notifications.test_delivery_many.WatchingBackend"
    WatchingBackend.seen, WatchingBackend.made = [], 0
    notices = pending(5)

    notice_deliver_many(notice_ids=ids(notices))

    assert WatchingBackend.seen == [0, 1, 2, 3, 4]  # a crash after any send loses at most that one
    assert WatchingBackend.made == 1  # one SMTP session for the chunk, not one per message
    assert len(mail.outbox) == 5


def test_a_failed_send_is_recorded_for_that_notice_alone_and_the_others_are_delivered(
    flaky: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    notices = pending(4)
    calls: list[int] = []
    original = FlakyBackend.send_messages

    def second_send_fails(self: Any, messages: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise smtplib.SMTPServerDisconnected("gone")
        return original(self, messages)

    monkeypatch.setattr(FlakyBackend, "send_messages", second_send_fails)

    results = notice_deliver_many(notice_ids=ids(notices))

    assert [r.outcome for r in results.values()] == ["delivered", "retry", "delivered", "delivered"]
    second = fresh(notices)[1]
    assert second.status == "pending" and second.sent_at is None and second.attempts == 1
    assert second.next_attempt_at is not None and second.next_attempt_at > timezone.now()
    assert AuditEvent.objects.filter(action="notice.attempt_failed", target_id=str(second.pk)).exists()
    assert len(mail.outbox) == 3


def test_a_failing_handler_sends_only_its_notice_back_to_pending_and_nothing_is_sent_twice() -> None:
    notices = pending(4)
    calls: list[str] = []

    def fragile(notice: Notice) -> None:
        calls.append(notice.topic_id)
        if notice.topic_id == "c2":
            raise RuntimeError("the handler broke")

    registry.register_delivered_handler("decision", fragile)
    results = notice_deliver_many(notice_ids=ids(notices))

    assert [r.outcome for r in results.values()] == ["delivered", "delivered", "retry", "delivered"]
    stuck = fresh(notices)[2]
    assert stuck.status == "pending" and stuck.sent_at is not None  # sent, so never sent again
    assert len(mail.outbox) == 4
    assert AuditEvent.objects.filter(action="notice.delivered").count() == 3

    registry.unregister_delivered_handler("decision", fragile)
    assert notice_deliver(notice_id=stuck.pk, now=timezone.now() + timedelta(hours=1)).outcome == "delivered"
    assert len(mail.outbox) == 4


def test_a_handler_with_a_many_variant_gets_the_chunk_at_once_in_delivery_order() -> None:
    notices = pending(3) + pending(2, kind="delay", prefix="d")
    one_by_one: list[str] = []
    chunks: list[list[str]] = []

    def handler(notice: Notice) -> None:
        one_by_one.append(notice.topic_id)

    def many(delivered: list[Notice]) -> None:
        assert all(n.status == Notice.Status.DELIVERED and n.delivered_at for n in delivered)
        chunks.append([n.topic_id for n in delivered])

    registry.register_delivered_handler("decision", handler, many=many)
    registry.register_delivered_handler("delay", lambda notice: one_by_one.append(notice.topic_id))

    notice_deliver_many(notice_ids=ids(notices))

    assert chunks == [["c0", "c1", "c2"]]
    assert one_by_one == ["d0", "d1"]


def test_the_chunk_task_delivers_through_the_bulk_path_and_counts_outcomes() -> None:
    notices = pending(3)
    Notice.objects.filter(pk=notices[0].pk).update(status="delivered", delivered_at=timezone.now())
    assert tasks.deliver_notices(ids(notices)) == {"skipped": 1, "delivered": 2}


def test_two_or_more_notices_are_queued_as_one_chunk(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks: list[list[str]] = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", lambda chunk: chunks.append(chunk))
    monkeypatch.setattr(tasks.deliver_notice, "delay", lambda notice_id: chunks.append([notice_id]))
    with django_capture_on_commit_callbacks(execute=True):
        two = pending(2)
    with django_capture_on_commit_callbacks(execute=True):
        one = pending(1, prefix="one")
    assert chunks == [ids(two), ids(one)]
    assert services.QUEUE_ONE_BY_ONE_UP_TO == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_chunk_send_each_notice_once(
    flaky: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.notifications.test_delivery_postgres import run_together

    monkeypatch.setattr(services, "queue_notice_delivery", lambda ids: None)  # the workers below deliver
    notices = pending(20)
    flaky.delay = 0.01  # keep the first worker sending while the second arrives
    outcomes = run_together(2, lambda: notice_deliver_many(notice_ids=ids(notices)))

    per_notice = [sorted(r[i].outcome for r in outcomes) for i in ids(notices)]
    assert all(o == ["delivered", "skipped"] for o in per_notice), per_notice
    assert len(mail.outbox) == 20
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.org"] * 20
    assert AuditEvent.objects.filter(action="notice.delivered").count() == 20
