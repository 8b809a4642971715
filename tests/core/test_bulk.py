"""core.bulk: one statement per table, the same rows as bulk_create, errors as Django's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import bulk
from decisions.models import DecisionInput, DecisionReason, Explanation, Subject, SubjectContact
from notifications.models import DeliveryAttempt, Notice
from tests.decisions.builders import make_decision
from tests.notifications.conftest import make_spec

pytestmark = pytest.mark.django_db


def _notice(key: str, **fields: Any) -> Notice:
    spec = make_spec(dedupe_key=key)
    now = timezone.now()
    values: dict[str, Any] = {
        "kind": spec.kind,
        "topic_type": spec.topic_type,
        "topic_id": spec.topic_id,
        "recipient": spec.recipient,
        "channel": spec.channel,
        "to_address": spec.to_address,
        "subject": "Ünïcode \\ tab\t and new\nline",
        "body_text": "a\\N b\r\n\x7f é 😀",
        "body_html": "<p>&amp;</p>",
        "template_key": spec.template_key,
        "template_version": "1",
        "due_at": None,
        "dedupe_key": key,
        "created_at": now,
        "next_attempt_at": now,
    }
    values.update(fields)
    return Notice(**values)


def _row(model: Any, pk: Any) -> tuple[Any, ...]:
    names = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
    return model.objects.filter(pk=pk).values_list(*names).get()


def test_inserted_rows_read_back_exactly_as_bulk_created_ones(django_assert_num_queries: Any) -> None:
    ours = _notice("ours", due_at=timezone.now() + dt.timedelta(days=30))
    fields = {f.attname: getattr(ours, f.attname) for f in Notice._meta.concrete_fields if f.attname != "id"}
    theirs = Notice(**{**fields, "dedupe_key": "theirs"})
    Notice.objects.bulk_create([theirs])
    with django_assert_num_queries(1):
        assert bulk.insert_rows(Notice, [ours]) == 1
    names = [f.attname for f in Notice._meta.concrete_fields if f.attname != "id"]
    mine, reference = (
        dict(zip(names, _row(Notice, ours.pk), strict=True)),
        dict(zip(names, _row(Notice, theirs.pk), strict=True)),
    )
    assert {name for name in names if mine[name] != reference[name]} == {"dedupe_key"}
    assert mine["body_text"] == "a\\N b\r\n\x7f é 😀" and mine["subject"].endswith("new\nline")
    assert ours._state.adding is False


def test_json_decimal_date_and_relations_are_written_as_django_writes_them() -> None:
    decision, _code = make_decision()
    feature = decision.version.features.first()
    rc = decision.version.reason_codes.first()
    assert feature is not None and rc is not None
    DecisionInput.objects.filter(decision=decision).delete()
    DecisionReason.objects.filter(decision=decision).delete()
    Explanation.objects.filter(decision=decision).delete()
    value = {"nested": [1, 2.5, "três", None, True], "n": 10**15}
    bulk.insert_rows(
        DecisionInput,
        [
            DecisionInput(
                decision=decision, feature=feature, value=value, source="s", as_of=dt.date(2027, 3, 1)
            )
        ],
    )
    bulk.insert_rows(
        DecisionReason,
        [
            DecisionReason(
                decision=decision, reason_code=rc, feature=feature, rank=1, weight=Decimal("12.34567")
            )
        ],
    )
    bulk.insert_rows(Explanation, [Explanation(decision=decision, rationale=[{"text": {"es": "ñ"}}])])
    stored = DecisionInput.objects.get(decision=decision)
    assert (stored.value, stored.as_of, stored.feature_id) == (value, dt.date(2027, 3, 1), feature.pk)
    assert DecisionReason.objects.get(decision=decision).weight == Decimal("12.3457")  # numeric(12, 4)
    assert Explanation.objects.get(decision=decision).rationale == [{"text": {"es": "ñ"}}]


def test_a_duplicate_key_is_an_integrity_error_and_a_savepoint_keeps_the_transaction_usable() -> None:
    bulk.insert_rows(Notice, [_notice("dup")])
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_rows(Notice, [_notice("other"), _notice("dup")])
    assert list(Notice.objects.values_list("dedupe_key", flat=True)) == ["dup"]


def test_ignoring_conflicts_skips_the_rows_that_break_a_unique_constraint(
    django_assert_num_queries: Any,
) -> None:
    bulk.insert_rows(Notice, [_notice("taken")])
    with django_assert_num_queries(1):
        bulk.insert_rows(Notice, [_notice("taken"), _notice("new"), _notice("new2")], ignore_conflicts=True)
    assert sorted(Notice.objects.values_list("dedupe_key", flat=True)) == ["new", "new2", "taken"]


def test_auto_increment_ids_are_left_to_the_database_and_auto_now_add_is_set() -> None:
    decision, _code = make_decision()
    subject = Subject(system=decision.system, external_ref="NEW-1", pseudonym="subj_bulk_0001", language="es")
    bulk.insert_rows(Subject, [subject], ignore_conflicts=True)
    stored = Subject.objects.get(external_ref="NEW-1")
    assert stored.created_at is not None and stored.language == "es"
    notice = _notice("attempted")
    bulk.insert_rows(Notice, [notice])
    attempts = [DeliveryAttempt(notice=notice, number=n, started_at=timezone.now()) for n in (1, 2)]
    bulk.insert_rows(DeliveryAttempt, attempts)
    assert sorted(DeliveryAttempt.objects.values_list("number", flat=True)) == [1, 2]


def test_a_related_object_without_a_primary_key_is_refused() -> None:
    unsaved = Subject(system_id=1, external_ref="x", pseudonym="subj_unsaved")
    with pytest.raises(ValueError, match="has no primary key"):
        bulk.insert_rows(SubjectContact, [SubjectContact(subject=unsaved, name="n", email="e@example.org")])


def test_update_rows_writes_each_rows_own_values_in_one_query(django_assert_num_queries: Any) -> None:
    notices = [_notice(f"u{i}") for i in range(5)]
    bulk.insert_rows(Notice, notices)
    for i, notice in enumerate(notices):
        notice.attempts = i
        notice.delivered_at = timezone.now() + dt.timedelta(minutes=i)
    with django_assert_num_queries(1):
        bulk.update_rows(Notice, notices, ["attempts", "delivered_at"])
    stored = {n.pk: n for n in Notice.objects.all()}
    assert [(stored[n.pk].attempts, stored[n.pk].delivered_at) for n in notices] == [
        (n.attempts, n.delivered_at) for n in notices
    ]
