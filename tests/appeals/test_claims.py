"""Queues and claims: docket order, independence (S22), expiring claims, release and reassignment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from appeals import services
from appeals.models import Appeal, Queue, QueueMembership
from appeals.services import NotIndependent
from appeals.workflow import State
from core import clock
from core.errors import PermissionDenied
from tests.appeals.conftest import RATIONALE, World, events
from tests.factories import reviewer

pytestmark = pytest.mark.django_db


def _claim_all(w: World, who: Any) -> list[str]:
    out = []
    while (a := services.review_claim_next(reviewer=who)) is not None:
        out.append(a.reference)
    return out


def test_next_case_takes_escalated_then_stayed_then_the_oldest_filed(world: World, frozen: Any) -> None:
    start = clock.now()
    frozen.set(start)
    oldest = world.appeal()
    frozen.set(start + timedelta(minutes=1))
    newer = world.appeal()
    frozen.set(start + timedelta(minutes=2))
    newest = world.appeal()
    # An appeal whose decision is not stayed (a system that keeps effects) comes after the stayed ones.
    Appeal.objects.filter(pk=oldest.pk).update(stay=Appeal.Stay.REFUSED)
    Appeal.objects.filter(pk=newest.pk).update(escalated=True)
    assert _claim_all(world, world.alice) == [newest.reference, newer.reference, oldest.reference]


def test_the_due_date_rule_orders_by_the_nearest_due_date_and_its_change_is_audited(world: World) -> None:
    first, second = world.appeal(), world.appeal()
    Appeal.objects.filter(pk=second.pk).update(due_date=first.due_date - timedelta(days=5))
    with pytest.raises(PermissionDenied):
        services.queue_set_ordering(queue=world.queue, ordering=Queue.Ordering.DUE_DATE, actor=world.alice)
    services.queue_set_ordering(queue=world.queue, ordering=Queue.Ordering.DUE_DATE, actor=world.senior)
    (change,) = events(world.queue, "queue.ordering_changed")
    assert change.data["old"] == "docket" and change.data["new"] == "due_date"
    assert _claim_all(world, world.alice) == [second.reference, first.reference]


def test_a_claim_moves_the_appeal_into_review_and_is_audited(world: World) -> None:
    a = world.appeal()
    claimed = services.review_claim_next(reviewer=world.alice)
    assert claimed is not None and claimed.pk == a.pk
    assert claimed.status == State.IN_REVIEW and claimed.claimed_by == world.alice
    assert claimed.claimed_at is not None
    assert claimed.claim_expires_at == claimed.claimed_at + services.claim_idle()
    (event,) = events(a, "appeal.claimed")
    assert event.data["from"] == State.QUEUED and event.data["to"] == State.IN_REVIEW
    assert event.data["reviewer"] == world.alice.pk and event.actor_id == str(world.alice.pk)
    assert services.review_claim_next(reviewer=world.bob) is None  # never two reviewers on one appeal


def test_a_reviewer_outside_the_queue_is_offered_nothing(world: World) -> None:
    world.appeal()
    assert services.review_claim_next(reviewer=reviewer()) is None


# ------------------------------------------------------------------------------------- S22 independence


def test_whoever_took_or_approved_the_original_decision_may_not_review_it(world: World) -> None:
    for kind in ("decision", "approval", "review"):
        d = world.decision(
            human_involvement=[{"kind": kind, "by": "EMP-ALICE", "at": "2026-01-01T10:00:00Z"}]
        )
        a = world.appeal(d)
        assert services.review_claim_next(reviewer=world.alice) is None, kind
        with pytest.raises(NotIndependent) as exc:
            services.review_reassign(appeal=a, to=world.alice, actor=world.senior)
        assert "took, approved or reviewed the original decision" in exc.value.detail
        claimed = services.review_claim_next(reviewer=world.bob)
        assert claimed is not None and claimed.pk == a.pk


def test_whoever_detected_the_case_may_still_review_it(world: World) -> None:
    d = world.decision(
        human_involvement=[{"kind": "detection", "by": "EMP-ALICE", "at": "2026-01-01T10:00:00Z"}]
    )
    a = world.appeal(d)
    claimed = services.review_claim_next(reviewer=world.alice)
    assert claimed is not None and claimed.pk == a.pk


def test_the_reviewer_of_an_earlier_appeal_on_the_decision_may_not_review_the_next(world: World) -> None:
    from appeals.models import Review

    a = world.claimed()
    d = a.decision
    world.open_everything(a, world.alice)
    a = services.review_decide(
        appeal=a,
        reviewer=world.alice,
        outcome="upheld",
        rationale=RATIONALE,
        evidence_relied_on=["statement"],
    )
    # A fresh appeal on the same decision (re-filed by staff after a closed appeal, for instance).
    later = Appeal.objects.create(
        **{
            f.attname: getattr(a, f.attname)
            for f in Appeal._meta.concrete_fields
            if f.name not in ("id", "reference")
        }
        | {"reference": "APL-TEST-0002", "status": State.QUEUED, "outcome": "", "claimed_by_id": None}
    )
    Appeal.objects.filter(pk=a.pk).update(status=State.CLOSED)
    assert Review.objects.filter(reviewer=world.alice, appeal=a).exists()
    assert services.review_claim_next(reviewer=world.alice) is None
    with pytest.raises(NotIndependent) as exc:
        services.review_reassign(appeal=later, to=world.alice, actor=world.senior)
    assert "reviewed an earlier appeal on this decision" in exc.value.detail
    claimed = services.review_claim_next(reviewer=world.bob)
    assert claimed is not None and claimed.pk == later.pk
    assert d.pk == later.decision_id


def test_a_reviewer_who_declared_a_conflict_is_refused(world: World) -> None:
    d1, d2 = world.decision(), world.decision()
    a1, a2 = world.appeal(d1), world.appeal(d2)
    services.conflict_declare(reviewer=world.alice, decision=d1, reason="My neighbour.")
    services.conflict_declare(reviewer=world.bob, subject=d2.subject, reason="A relative.")
    assert services.review_claim_next(reviewer=world.alice).pk == a2.pk  # type: ignore[union-attr]
    assert services.review_claim_next(reviewer=world.alice) is None
    services.review_release(appeal=a2, actor=world.alice)
    assert services.review_claim_next(reviewer=world.bob).pk == a1.pk  # type: ignore[union-attr]
    assert services.review_claim_next(reviewer=world.bob) is None
    with pytest.raises(NotIndependent) as exc:
        services.review_reassign(appeal=a2, to=world.bob, actor=world.senior)
    assert "declared a conflict of interest" in exc.value.detail


def test_declaring_a_conflict_on_a_held_case_releases_it(world: World) -> None:
    a = world.claimed()
    services.conflict_declare(reviewer=world.alice, decision=a.decision, reason="I know this person.")
    a.refresh_from_db()
    assert a.status == State.QUEUED and a.claimed_by is None
    assert events(a, "appeal.released")[0].data["why"] == "conflict declared"
    assert events(a, "appeal.released")[0].data["reviewer"] == world.alice.pk


def test_deciding_re_checks_independence(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)
    from appeals.models import ConflictDeclaration

    # A conflict recorded behind the service's back (an import, say) still stops the decision.
    ConflictDeclaration.objects.create(
        reviewer=world.alice, decision=a.decision, reason="x", declared_at=clock.now()
    )
    with pytest.raises(NotIndependent):
        services.review_decide(
            appeal=a,
            reviewer=world.alice,
            outcome="upheld",
            rationale=RATIONALE,
            evidence_relied_on=["statement"],
        )


# ------------------------------------------------------------------------------------- claims over time


def test_an_idle_claim_lapses_and_the_case_goes_back_to_the_queue(world: World, frozen: Any) -> None:
    a = world.claimed()
    frozen.set(clock.now() + services.claim_idle() - timedelta(seconds=1))
    assert services.claims_release_lapsed() == 0
    services.evidence_open(appeal=a, reviewer=world.alice)  # activity keeps the claim alive
    frozen.set(clock.now() + services.claim_idle() - timedelta(seconds=1))
    assert services.claims_release_lapsed() == 0
    frozen.set(clock.now() + timedelta(seconds=2))
    assert services.claims_release_lapsed() == 1
    a.refresh_from_db()
    assert a.status == State.QUEUED and a.claimed_by is None
    (lapse,) = events(a, "appeal.claim_lapsed")
    assert lapse.data["reviewer"] == world.alice.pk and lapse.actor_type == "system"
    assert services.review_claim_next(reviewer=world.bob).pk == a.pk  # type: ignore[union-attr]


def test_the_idle_time_is_a_setting(world: World, settings: Any, frozen: Any) -> None:
    settings.APPEALS_CLAIM_IDLE_MINUTES = 5
    a = world.claimed()
    assert a.claimed_at is not None and a.claim_expires_at == a.claimed_at + timedelta(minutes=5)


def test_a_claim_waiting_on_the_person_does_not_lapse(world: World, frozen: Any) -> None:
    a = world.claimed()
    services.information_request(appeal=a, reviewer=world.alice, question="Send your March payslip.")
    frozen.set(clock.now() + timedelta(days=3))
    assert services.claims_release_lapsed() == 0
    a.refresh_from_db()
    assert a.status == State.AWAITING_APPELLANT and a.claimed_by == world.alice


def test_staff_release_and_reassign_are_audited_and_reviewers_cannot_take_others_cases(world: World) -> None:
    a = world.claimed()
    with pytest.raises(PermissionDenied):
        services.review_release(appeal=a, actor=world.bob)
    a = services.review_reassign(appeal=a, to=world.bob, actor=world.senior, reason="Alice is on leave")
    assert a.claimed_by == world.bob and a.status == State.IN_REVIEW
    (assigned,) = events(a, "appeal.assigned")
    assert assigned.data["previous"] == world.alice.pk and assigned.data["reviewer"] == world.bob.pk
    assert assigned.actor_id == str(world.senior.pk)
    a = services.review_release(appeal=a, actor=world.senior, reason="rebalancing")
    assert a.status == State.QUEUED and a.claimed_by is None
    assert events(a, "appeal.released")[0].data["reviewer"] == world.bob.pk


def test_reassigning_needs_a_member_of_the_queue(world: World) -> None:
    a = world.appeal()
    outsider = reviewer()
    with pytest.raises(PermissionDenied) as exc:
        services.review_reassign(appeal=a, to=outsider, actor=world.senior)
    assert exc.value.code == "not-queue-member"
    services.queue_member_add(queue=world.queue, user=outsider, actor=world.senior)
    assert services.review_reassign(appeal=a, to=outsider, actor=world.senior).claimed_by == outsider
    assert QueueMembership.objects.filter(queue=world.queue, user=outsider).exists()
    assert events(world.queue, "queue.member_added")[0].data["user"] == outsider.pk
