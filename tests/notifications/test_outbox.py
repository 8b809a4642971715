"""Composing notices into the outbox (S15): same transaction as the cause, idempotent, audited."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from core.errors import ValidationFailed
from core.models import ApiClient, AuditEvent
from notifications.models import Notice
from notifications.selectors import notices_for_recipient, notices_for_topic
from notifications.services import notice_create, notice_create_many, queue_notice_delivery

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def deliveries(callbacks):
    """The on-commit callbacks that queue notice delivery (the audit log queues its own seal)."""
    return [c for c in callbacks if getattr(c, "func", None) is queue_notice_delivery]


def test_a_notice_is_written_in_the_same_transaction_as_its_cause_and_rolls_back_with_it(spec, actor):
    with pytest.raises(Boom), transaction.atomic():
        ApiClient.objects.create(name="cause")
        notice_create(spec=spec(), actor=actor)
        raise Boom

    assert not ApiClient.objects.exists()
    assert not Notice.objects.exists()
    assert not AuditEvent.objects.filter(action="notice.created").exists()


def test_a_notice_commits_with_its_cause(spec, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        ApiClient.objects.create(name="cause")
        notice = notice_create(spec=spec(), actor=actor)

    assert ApiClient.objects.filter(name="cause").exists()
    stored = Notice.objects.get()
    assert stored.pk == notice.pk
    assert stored.status == Notice.Status.PENDING
    assert stored.next_attempt_at is not None


def test_creating_a_notice_writes_an_audit_event_without_personal_data(spec, actor):
    notice = notice_create(spec=spec(to_address="ana.lopez@example.org"), actor=actor)

    event = AuditEvent.objects.get(action="notice.created")
    assert event.target_type == "notifications.notice"
    assert event.target_id == str(notice.pk)
    assert event.actor_type == "system"
    assert event.data["kind"] == "decision"
    assert event.data["channel"] == "email"
    assert event.data["topic_type"] == "decisions.decision"
    assert event.data["topic_id"] == "42"
    assert event.data["recipient"] == notice.recipient
    assert event.data["template_key"] == "credit/decision"
    assert event.data["template_version"] == "1"
    flat = repr(event.data)
    assert "ana.lopez" not in flat
    assert "credit limit" not in flat  # nothing of the text either


def test_the_notice_is_stored_exactly_as_given(spec, actor):
    given = spec(language="es", subject="Nuestra decisión", body_text="Texto", body_html="<p>X</p>")
    notice = notice_create(spec=given, actor=actor)
    notice.refresh_from_db()
    assert (notice.subject, notice.body_text, notice.body_html, notice.language) == (
        "Nuestra decisión",
        "Texto",
        "<p>X</p>",
        "es",
    )
    assert notice.dedupe_key == f"decision:decisions.decision:42:{given.recipient}:email"


def test_composing_the_same_notice_twice_creates_only_one(spec, actor, django_capture_on_commit_callbacks):
    given = spec(dedupe_key="decision:42:email")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = notice_create(spec=given, actor=actor)
    with django_capture_on_commit_callbacks(execute=False) as again:
        second = notice_create(spec=given, actor=actor)

    assert first.pk == second.pk
    assert Notice.objects.count() == 1
    assert AuditEvent.objects.filter(action="notice.created").count() == 1
    assert len(deliveries(callbacks)) == 1
    assert deliveries(again) == []  # nothing new to deliver


def test_a_batch_with_repeated_and_existing_keys_inserts_each_notice_once(spec, actor):
    existing = notice_create(spec=spec(dedupe_key="k1"), actor=actor)
    specs = [spec(dedupe_key="k1"), spec(dedupe_key="k2"), spec(dedupe_key="k2"), spec(dedupe_key="k3")]

    notices = notice_create_many(specs=specs, actor=actor)

    assert [n.dedupe_key for n in notices] == ["k1", "k2", "k3"]
    assert notices[0].pk == existing.pk
    assert Notice.objects.count() == 3
    assert AuditEvent.objects.filter(action="notice.created").count() == 3


def test_a_big_batch_is_inserted_in_a_few_statements(spec, actor, django_assert_max_num_queries):
    specs = [spec(dedupe_key=f"bulk:{i}") for i in range(300)]
    with django_assert_max_num_queries(40):
        notices = notice_create_many(specs=specs, actor=actor)
    assert len(notices) == 300
    assert Notice.objects.count() == 300


def test_a_big_batch_queues_its_delivery_in_chunks(
    spec, actor, django_capture_on_commit_callbacks, monkeypatch
):
    from notifications import tasks

    chunks: list[list[str]] = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", lambda ids: chunks.append(ids))
    monkeypatch.setattr(tasks.deliver_notice, "delay", lambda _id: pytest.fail("queued one by one"))
    with django_capture_on_commit_callbacks(execute=True):
        notices = notice_create_many(specs=[spec(dedupe_key=f"c:{i}") for i in range(450)], actor=actor)

    assert [len(c) for c in chunks] == [200, 200, 50]
    assert sorted(i for c in chunks for i in c) == sorted(str(n.pk) for n in notices)


def test_an_invalid_spec_is_refused_with_every_problem_and_nothing_is_written(spec, actor):
    with pytest.raises(ValidationFailed) as refused:
        notice_create_many(
            specs=[spec(), spec(kind="gossip", channel="pigeon", subject="two\nlines", dedupe_key="x")],
            actor=actor,
        )
    fields = {e["field"] for e in refused.value.errors}
    assert fields == {"specs[1].kind", "specs[1].channel", "specs[1].subject"}
    assert not Notice.objects.exists()


def test_an_email_notice_needs_an_address_but_a_portal_notice_does_not(spec, actor):
    with pytest.raises(ValidationFailed):
        notice_create(spec=spec(channel="email", to_address=""), actor=actor)
    portal = notice_create(spec=spec(channel="portal", to_address="ana@example.org"), actor=actor)
    assert portal.to_address == ""  # never stored where it is not needed


def test_the_person_sees_every_notice_they_were_sent_in_the_portal_inbox(
    spec, actor, django_capture_on_commit_callbacks
):
    who = spec().recipient
    with django_capture_on_commit_callbacks(execute=False):
        a = notice_create(spec=spec(recipient=who, channel="email"), actor=actor)
        b = notice_create(spec=spec(recipient=who, channel="portal"), actor=actor)
        notice_create(spec=spec(), actor=actor)  # someone else
    Notice.objects.filter(pk=a.pk).update(status=Notice.Status.FAILED, needs_attention=True)

    inbox = list(notices_for_recipient(who))
    assert {n.pk for n in inbox} == {a.pk, b.pk}  # the bounced email too
    assert {n.pk for n in notices_for_topic("decisions.decision", 42)} >= {a.pk, b.pk}
    assert mail.outbox == []
