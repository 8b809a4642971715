"""Data disputes (S19): the value is marked disputed, a 30-day clock (+15), and a correction re-evaluates
every decision that used it: scorecards re-score at once, other systems are asked to decide again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from appeals import services
from appeals.models import Appeal, DataDispute
from appeals.services import DisputeAlreadyOpen
from appeals.workflow import State
from core.errors import PermissionDenied, TransitionNotAllowed, ValidationFailed
from decisions.models import Decision, DecisionInput
from notifications.models import Notice
from tests.appeals.conftest import PDF, World, events, make_world, notices_about, webhooks

pytestmark = pytest.mark.django_db

CARD = {
    "base": 300,
    "threshold": 600,
    "score_min": 300,
    "score_max": 850,
    "outcomes": {"pass": "approved", "fail": "declined"},
    "features": [
        {
            "name": "annual_income",
            "kind": "numeric",
            "actionable": True,
            "reason": "INCOME_LOW",
            "step": 1000,
            "bands": [{"max": 25000, "points": 0}, {"min": 25000, "points": 300}],
        },
        {
            "name": "late_payments_12m",
            "kind": "numeric",
            "actionable": True,
            "reason": "LATE_PAYMENTS",
            "bands": [{"max": 1, "points": 250}, {"min": 1, "points": 0}],
        },
    ],
}
PERSON = {"external_ref": "cust-ana", "name": "Ana", "email": "ana@mail.example", "language": "en"}


@pytest.fixture
def scored(db: Any) -> World:
    w = make_world()
    w.version.scorecard = CARD
    w.version.save(update_fields=["scorecard"])
    return w


def _scored_decision(w: World, **overrides: Any) -> Decision:
    overrides.setdefault("subject", PERSON)
    return w.decision(score=None, reasons=[], outcome="", **overrides)


def test_a_dispute_marks_the_value_and_starts_a_30_day_clock(scored: World, frozen: Any) -> None:
    frozen.set(datetime(2027, 5, 3, 10, 0, tzinfo=UTC))
    d = _scored_decision(scored)
    dsp = services.dispute_file(
        decision=d,
        feature="annual_income",
        what_is_wrong="I earn 30,000 now.",
        proposed_value=30000,
        evidence=[("contract.pdf", PDF)],
        actor=scored.person,
    )
    assert dsp.status == DataDispute.Status.OPEN and dsp.reference.startswith("DSP-")
    assert dsp.disputed_value == 21000 and dsp.due_date.isoformat() == "2027-06-02"
    assert DecisionInput.objects.get(decision=d, feature__name="annual_income").disputed is True
    assert dsp.evidence.count() == 1
    assert events(dsp, "dispute.filed")[0].data["feature"] == "annual_income"
    assert events(d, "decision.input_disputed")[0].data["by"] == dsp.reference
    with pytest.raises(DisputeAlreadyOpen):
        services.dispute_file(decision=d, feature="annual_income", what_is_wrong="again", actor=scored.person)
    with pytest.raises(ValidationFailed):
        services.dispute_file(decision=d, feature="shoe_size", what_is_wrong="?", actor=scored.person)


def test_adding_information_in_time_gives_15_more_days_once(scored: World, frozen: Any) -> None:
    frozen.set(datetime(2027, 5, 3, 10, 0, tzinfo=UTC))
    dsp = services.dispute_file(
        decision=_scored_decision(scored),
        feature="annual_income",
        what_is_wrong="Wrong.",
        actor=scored.person,
    )
    frozen.set(datetime(2027, 5, 20, 10, 0, tzinfo=UTC))
    dsp = services.dispute_add_information(dispute=dsp, information="My new contract.", actor=scored.person)
    assert dsp.extended and dsp.due_date.isoformat() == "2027-06-17"
    dsp = services.dispute_add_information(dispute=dsp, information="And a payslip.", actor=scored.person)
    assert dsp.due_date.isoformat() == "2027-06-17"  # once
    assert "My new contract." in dsp.additional_information and "And a payslip." in dsp.additional_information
    assert [e.data["extended"] for e in events(dsp, "dispute.information_added")] == [True, True]


def test_information_added_after_the_30_days_does_not_extend(scored: World, frozen: Any) -> None:
    frozen.set(datetime(2027, 5, 3, 10, 0, tzinfo=UTC))
    dsp = services.dispute_file(
        decision=_scored_decision(scored),
        feature="annual_income",
        what_is_wrong="Wrong.",
        actor=scored.person,
    )
    frozen.set(datetime(2027, 6, 10, 10, 0, tzinfo=UTC))
    dsp = services.dispute_add_information(dispute=dsp, information="Late addition.", actor=scored.person)
    assert not dsp.extended and dsp.due_date == dsp.original_due_date


def test_a_correction_that_flips_a_scorecard_decision_supersedes_it_and_tells_the_person(
    scored: World,
) -> None:
    d = _scored_decision(scored)
    other = _scored_decision(scored)  # the same person, the same income value, another application
    stranger = _scored_decision(
        scored, subject={**PERSON, "external_ref": "cust-ben", "email": "ben@mail.example"}
    )
    assert d.outcome.code == other.outcome.code == "declined" and d.score == 300
    appeal = scored.appeal(other)
    dsp = services.dispute_file(
        decision=d, feature="annual_income", what_is_wrong="I earn 30,000.", actor=scored.person
    )
    with pytest.raises(PermissionDenied):
        services.dispute_resolve(
            dispute=dsp, corrected=True, corrected_value=30000, note="ok", actor=scored.person
        )
    dsp = services.dispute_resolve(
        dispute=dsp,
        corrected=True,
        corrected_value=30000,
        note="Employer confirmed the new salary.",
        actor=scored.alice,
    )
    assert dsp.status == DataDispute.Status.CORRECTED
    for old in (d, other):
        old.refresh_from_db()
        assert old.status == Decision.Status.SUPERSEDED
        new = Decision.objects.get(supersedes=old)
        assert new.outcome.code == "approved" and new.score == 600 and new.adverse is False
        assert new.inputs.get(feature__name="annual_income").value == 30000
        assert events(old, "decision.rescored")[0].data["new_outcome"] == "approved"
    stranger.refresh_from_db()
    assert stranger.status == Decision.Status.PENDING_NOTICE  # another person's data is not touched
    assert [e["action"] for e in dsp.effects] == ["superseded", "superseded"]
    # The open appeal on the replaced decision is moot, and its stay is over.
    appeal.refresh_from_db()
    assert appeal.status == State.CLOSED and "data dispute" in appeal.close_reason
    assert events(appeal, "appeal.moot")[0].data["from"] == State.QUEUED
    (closed,) = [n for n in notices_about(appeal, Notice.Kind.APPEAL_OUTCOME) if n.channel == "email"]
    assert "We corrected the information the decision used" in closed.body_text
    # The person is told; the integrator too (S19: the data's recipients).
    (email,) = [n for n in notices_about(dsp, Notice.Kind.DISPUTE_OUTCOME) if n.channel == "email"]
    assert "You were right. We changed Annual income from 21,000 to 30,000." in email.body_text
    assert (
        f"Decision {d.public_reference}: we looked at it again with the right information." in email.body_text
    )
    assert "The new decision is: Approved." in email.body_text
    hooks = webhooks("decision.data_corrected")
    assert {h.payload["decision"]["id"] for h in hooks} == {str(d.pk), str(other.pk)}
    assert all(h.payload["corrections"] == {"annual_income": 30000} for h in hooks)
    assert DecisionInput.objects.get(decision=d, feature__name="annual_income").disputed is False
    assert events(dsp, "dispute.resolved")[0].data["status"] == "corrected"


def test_a_correction_that_does_not_change_the_outcome_keeps_the_decision(scored: World) -> None:
    d = _scored_decision(scored)
    dsp = services.dispute_file(
        decision=d, feature="late_payments_12m", what_is_wrong="Only two were late.", actor=scored.person
    )
    dsp = services.dispute_resolve(
        dispute=dsp, corrected=True, corrected_value=2, note="Bank confirmed two.", actor=scored.alice
    )
    d.refresh_from_db()
    assert d.status == Decision.Status.PENDING_NOTICE
    assert dsp.effects[0]["action"] == "unchanged"
    # The recorded value is still the disputed one, so it stays flagged.
    assert DecisionInput.objects.get(decision=d, feature__name="late_payments_12m").disputed is True
    (email,) = [n for n in notices_about(dsp) if n.channel == "email"]
    assert "The decision stays the same." in email.body_text


def test_other_systems_are_asked_to_decide_again(world: World) -> None:
    d = world.decision()
    dsp = services.dispute_file(
        decision=d, feature="annual_income", what_is_wrong="Old job.", actor=world.person
    )
    dsp = services.dispute_resolve(
        dispute=dsp, corrected=True, corrected_value=40000, note="Checked payslips.", actor=world.alice
    )
    d.refresh_from_db()
    assert d.status == Decision.Status.PENDING_NOTICE  # the integrator supersedes it when they re-decide
    (hook,) = webhooks("decision.redecide_requested")
    assert hook.payload["decision"]["external_id"] == d.external_id
    assert hook.payload["corrections"] == {"annual_income": 40000}
    (email,) = [n for n in notices_about(dsp) if n.channel == "email"]
    assert "we asked Example Institution to make the decision again" in email.body_text


def test_a_rejected_dispute_gives_the_reasons_and_clears_the_mark(world: World) -> None:
    d = world.decision()
    dsp = services.dispute_file(
        decision=d, feature="annual_income", what_is_wrong="Too low.", actor=world.person
    )
    with pytest.raises(ValidationFailed):
        services.dispute_resolve(dispute=dsp, corrected=False, note=" ", actor=world.alice)
    dsp = services.dispute_resolve(
        dispute=dsp, corrected=False, note="Your tax return shows 21,000.", actor=world.alice
    )
    assert dsp.status == DataDispute.Status.REJECTED and dsp.effects == []
    assert DecisionInput.objects.get(decision=d, feature__name="annual_income").disputed is False
    (email,) = [n for n in notices_about(dsp) if n.channel == "email"]
    assert "We checked Annual income and found it was right. This is why: Your tax return shows 21,000." in (
        email.body_text
    )
    with pytest.raises(TransitionNotAllowed):
        services.dispute_resolve(dispute=dsp, corrected=False, note="again", actor=world.alice)


def test_a_decision_replaced_before_the_dispute_cannot_be_disputed(scored: World) -> None:
    d = _scored_decision(scored)
    Decision.objects.filter(pk=d.pk).update(status=Decision.Status.SUPERSEDED)
    with pytest.raises(services.DecisionNotAppealable):
        services.dispute_file(decision=d, feature="annual_income", what_is_wrong="x", actor=scored.person)
    assert not Appeal.objects.exists() and not DataDispute.objects.exists()
