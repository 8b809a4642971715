"""decision_record_many: each item on its own, in a constant number of statements."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.actors import SYSTEM
from core.errors import ApplicationError
from core.models import AuditEvent
from decisions import services
from decisions.models import Decision, DecisionInput, DecisionReason, Explanation, Subject
from tests.factories import decision_payload, live_system

pytestmark = pytest.mark.django_db


def problem(result: services.ItemResult) -> ApplicationError:
    assert result.error is not None, "the item was accepted"
    return result.error


def recorded(result: services.ItemResult) -> Decision:
    assert result.decision is not None, result.error
    return result.decision


def test_a_batch_with_good_and_bad_items_records_the_good_ones_and_refuses_each_bad_one_on_its_own():
    system, version = live_system()
    good = [decision_payload(system, version) for _ in range(3)]
    bad_reason = decision_payload(system, version, reasons=[])
    bad_system = decision_payload(system, version, system="nope")
    items = [good[0], bad_reason, good[1], bad_system, good[2]]

    results = services.decision_record_many(items=items, actor=SYSTEM)

    assert [r.ok for r in results] == [True, False, True, False, True]
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert problem(results[1]).errors[0]["code"] == "reasons-required"
    assert problem(results[3]).errors[0]["code"] == "unknown-system"
    assert Decision.objects.count() == 3
    assert set(Decision.objects.values_list("external_id", flat=True)) == {g["external_id"] for g in good}
    assert AuditEvent.objects.filter(action="decision.recorded").count() == 3
    assert all(r.access_code for r in results if r.ok)
    assert len({recorded(r).public_reference for r in results if r.ok}) == 3


def test_a_batch_of_only_refused_items_writes_nothing():
    system, version = live_system()
    items = [decision_payload(system, version, outcome="nope"), "not an object"]
    results = services.decision_record_many(items=items, actor=SYSTEM)
    assert [r.ok for r in results] == [False, False]
    assert problem(results[1]).errors[0]["code"] == "invalid"
    assert Decision.objects.count() == Subject.objects.count() == AuditEvent.objects.count() == 0


def test_several_decisions_about_one_person_in_a_batch_share_one_subject():
    system, version = live_system()
    first = decision_payload(system, version)
    second = decision_payload(system, version, subject=first["subject"])
    results = services.decision_record_many(items=[first, second], actor=SYSTEM)
    assert all(r.created for r in results)
    assert Subject.objects.count() == 1
    assert recorded(results[0]).subject_id == recorded(results[1]).subject_id


def test_an_item_repeated_in_a_batch_is_recorded_once_and_a_changed_repeat_is_a_conflict():
    system, version = live_system()
    item = decision_payload(system, version)
    changed = {**item, "score": "700"}
    results = services.decision_record_many(items=[item, dict(item), changed], actor=SYSTEM)
    assert results[0].created is True
    assert results[1].created is False and recorded(results[1]).pk == recorded(results[0]).pk
    assert problem(results[2]).status == 409
    assert Decision.objects.count() == 1


def test_a_batch_mixing_new_items_and_replays_records_only_the_new_ones():
    system, version = live_system()
    old = decision_payload(system, version)
    first = services.decision_record(data=old, actor=SYSTEM)
    new = decision_payload(system, version)
    results = services.decision_record_many(items=[old, new], actor=SYSTEM)
    assert (results[0].created, recorded(results[0]).pk) == (False, first.decision.pk)
    assert results[1].created is True
    assert Decision.objects.count() == 2


def test_a_batch_may_span_several_systems_and_versions():
    credit, credit_v = live_system()
    content, content_v = live_system(domain="content_moderation")
    results = services.decision_record_many(
        items=[decision_payload(credit, credit_v), decision_payload(content, content_v)], actor=SYSTEM
    )
    assert [recorded(r).public_reference[:3] for r in results] == ["CRD", "MOD"]


def test_more_than_a_thousand_items_are_refused_as_a_whole():
    system, version = live_system()
    item = decision_payload(system, version)
    with pytest.raises(ApplicationError) as exc:
        services.decision_record_many(items=[item] * (services.MAX_BATCH + 1), actor=SYSTEM)
    assert exc.value.status == 422
    assert exc.value.code == "batch-too-large"
    assert Decision.objects.count() == 0


def _queries_for(n: int) -> int:
    system, version = live_system()
    items = [decision_payload(system, version) for _ in range(n)]
    items += [decision_payload(system, version, adverse=False) for _ in range(n)]
    with CaptureQueriesContext(connection) as ctx:
        results = services.decision_record_many(items=items, actor=SYSTEM)
    assert all(r.created for r in results)
    return len(ctx.captured_queries)


def test_a_batch_costs_the_same_number_of_statements_whatever_its_size(
    django_assert_max_num_queries, on_postgres
):
    # SQLite caps a statement at 999 parameters, so Django splits big inserts there; PostgreSQL does not.
    # (The outbox reads its notices back 500 keys at a time: 2n decisions stay under that here.)
    n = 100 if on_postgres else 6
    small = _queries_for(1)
    large = _queries_for(n)
    assert large == small
    system, version = live_system()
    items = [decision_payload(system, version) for _ in range(n)]
    with django_assert_max_num_queries(small):
        services.decision_record_many(items=items, actor=SYSTEM)
    total = 2 + 2 * n + n
    assert DecisionInput.objects.count() == total * 4
    assert DecisionReason.objects.count() == (1 + n + n) * 2
    assert Explanation.objects.count() == total


def test_a_pseudonym_or_reference_that_collides_is_drawn_again(monkeypatch):
    system, version = live_system()
    taken = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision
    pseudonyms = iter([taken.subject.pseudonym, "subj_fresh000000000001"])
    references = iter([taken.public_reference, "CRD-NEW0-0001"])
    monkeypatch.setattr(services, "pseudonym", lambda: next(pseudonyms))
    monkeypatch.setattr(services, "public_reference", lambda prefix: next(references))

    d = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision

    assert d.subject.pseudonym == "subj_fresh000000000001"
    assert d.public_reference == "CRD-NEW0-0001"
    assert Subject.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_racing_with_the_same_items_record_each_decision_once():
    import threading

    from django.db import connections

    system, version = live_system()
    items = [decision_payload(system, version) for _ in range(40)]
    outcomes: list[list[services.ItemResult]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            outcomes.append(services.decision_record_many(items=items, actor=SYSTEM))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not errors, errors
    assert Decision.objects.count() == 40
    assert Subject.objects.count() == 40
    created = [r.created for batch in outcomes for r in batch]
    assert created.count(True) == 40 and created.count(False) == 40
    assert all(r.ok for batch in outcomes for r in batch)
    assert AuditEvent.objects.filter(action="decision.recorded").count() == 40
