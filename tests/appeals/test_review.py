"""Review and outcome (S21, S23, S24, S26, S27): what must happen before deciding, and what deciding does."""

from __future__ import annotations

from typing import Any

import pytest

from appeals import selectors, services
from appeals.models import Appeal, EvidenceFile, EvidenceOpened, Review
from appeals.services import BlindAssessmentRequired, EvidenceNotOpened, NoAuthority, NotClaimant
from appeals.workflow import State
from core.errors import TransitionNotAllowed, ValidationFailed
from core.models import AuditEvent
from decisions.models import Decision, HumanInvolvement, ImpactLevel
from notifications.models import Notice
from tests.appeals.conftest import (
    PDF,
    PNG,
    RATIONALE,
    World,
    actions,
    events,
    make_world,
    notices_about,
    webhooks,
)
from tests.factories import reviewer

pytestmark = pytest.mark.django_db


def _decide(w: World, a: Appeal, by: Any = None, **kwargs: Any) -> Appeal:
    kwargs.setdefault("rationale", RATIONALE)
    kwargs.setdefault("evidence_relied_on", ["statement", "decision_record"])
    return services.review_decide(appeal=a, reviewer=by or w.alice, **kwargs)


# ------------------------------------------------------------------------------------- S21 evidence opened


def test_deciding_is_refused_until_the_statement_and_every_file_were_opened(world: World) -> None:
    a = world.claimed(evidence=[("payslip.pdf", PDF), ("letter.png", PNG)])
    files = list(EvidenceFile.objects.filter(appeal=a))
    with pytest.raises(EvidenceNotOpened) as exc:
        _decide(world, a, outcome="overturned")
    assert sorted(exc.value.extra["unopened"]) == sorted(["statement", *(str(f.pk) for f in files)])
    services.evidence_open(appeal=a, reviewer=world.alice)
    services.evidence_open(appeal=a, reviewer=world.alice, evidence=files[0])
    with pytest.raises(EvidenceNotOpened) as exc:
        _decide(world, a, outcome="overturned")
    assert exc.value.extra["unopened"] == [str(files[1].pk)]
    # Someone else opening it does not count for Alice.
    services.evidence_open(appeal=a, reviewer=world.bob, evidence=files[1])
    with pytest.raises(EvidenceNotOpened):
        _decide(world, a, outcome="overturned")
    services.evidence_open(appeal=a, reviewer=world.alice, evidence=files[1])
    a = _decide(world, a, outcome="overturned")
    assert a.status == State.DECIDED
    opened = events(a, "appeal.evidence_opened")
    assert [e.data["opened"] for e in opened][:2] == ["statement", str(files[0].pk)]
    assert EvidenceOpened.objects.filter(appeal=a, reviewer=world.alice).count() == 3


def test_a_file_added_after_opening_everything_must_be_opened_too(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)
    services.evidence_add(appeal=a, files=[("late.pdf", PDF)], actor=world.person)
    with pytest.raises(EvidenceNotOpened):
        _decide(world, a, outcome="upheld")


def test_only_the_claimant_decides_and_only_a_reviewer_claims(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.bob)
    with pytest.raises(NotClaimant):
        _decide(world, a, by=world.bob, outcome="upheld")
    outsider = reviewer()
    outsider.groups.clear()
    with pytest.raises(NoAuthority):
        services.review_claim_next(reviewer=outsider)


def test_an_outcome_needs_written_reasons_and_cited_evidence(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)
    with pytest.raises(ValidationFailed) as exc:
        services.review_decide(
            appeal=a, reviewer=world.alice, outcome="upheld", rationale="no", evidence_relied_on=[]
        )
    assert {e["field"] for e in exc.value.errors} == {"rationale"}
    with pytest.raises(ValidationFailed) as exc:
        _decide(world, a, outcome="upheld", evidence_relied_on=[])
    assert exc.value.errors[0]["field"] == "evidence_relied_on"
    with pytest.raises(ValidationFailed):
        _decide(world, a, outcome="upheld", evidence_relied_on=["somebody-elses-file"])
    a.refresh_from_db()
    assert a.status == State.IN_REVIEW


# ------------------------------------------------------------------------------------- S23 blind review


def test_blind_review_hides_the_machine_until_the_reviewer_records_an_assessment(db: Any) -> None:
    w = make_world(blind_review=True)
    a = w.claimed()
    w.open_everything(a, w.alice)
    assert selectors.case_file(a, w.alice)["machine"] is None
    assert selectors.case_file(a, w.alice)["inputs"]  # the data is shown, only the verdict is hidden
    with pytest.raises(BlindAssessmentRequired):
        _decide(w, a, outcome="upheld")
    review = services.review_record_blind_assessment(
        appeal=a, reviewer=w.alice, outcome="approved", note="Income ok"
    )
    assert review.blind_outcome is not None and review.blind_outcome.code == "approved"
    machine = selectors.case_file(a, w.alice)["machine"]
    assert machine is not None and machine["outcome"].code == "declined"
    with pytest.raises(services.Conflict):
        services.review_record_blind_assessment(appeal=a, reviewer=w.alice, outcome="declined")
    a = _decide(w, a, outcome="overturned")
    review.refresh_from_db()
    assert (review.blind_outcome.code, review.outcome) == ("approved", "overturned")  # both kept
    assert review.agrees_with_machine is False
    assert events(a, "appeal.blind_assessment_recorded")[0].data["outcome"] == "approved"
    assert events(a, "appeal.decided")[0].data["blind_outcome"] == "approved"


def test_time_spent_and_agreement_are_tracked_per_reviewer(world: World) -> None:
    for outcome in ("upheld", "overturned"):
        a = world.claimed()
        world.open_everything(a, world.alice)
        _decide(world, a, outcome=outcome)
    figures = selectors.reviewer_figures(world.alice)
    assert figures.reviews == 2 and figures.agreed == 1 and figures.agreement_rate == 0.5
    assert figures.median_seconds is not None


# ------------------------------------------------------------------------------------- S27 outcomes


def test_an_overturn_reverses_the_decision_lifts_the_stay_and_tells_the_person_and_the_integrator(
    world: World,
) -> None:
    d = world.decision()
    world.appeal(d, evidence=[("payslip.pdf", PDF)])
    claimed = services.review_claim_next(reviewer=world.alice)
    assert claimed is not None
    a = claimed
    world.open_everything(a, world.alice)
    files = [str(f.pk) for f in EvidenceFile.objects.filter(appeal=a)]
    a = _decide(
        world,
        a,
        outcome="overturned",
        evidence_relied_on=["statement", files[0]],
        remedy=["reinstatement", "correction"],
    )
    d.refresh_from_db()
    assert a.status == State.DECIDED and a.outcome == "overturned"
    assert d.status == Decision.Status.REVERSED
    new = a.resulting_decision
    assert new is not None and new.supersedes_id == d.pk and new.adverse is False
    assert new.outcome.code == "approved" and new.status == Decision.Status.EFFECTIVE
    # S7: the new decision was taken by a person, the reviewer.
    assert list(new.human_involvement.values_list("kind", "by")) == [
        (HumanInvolvement.Kind.DECISION, "EMP-ALICE")
    ]
    assert new.automation == Decision.Automation.NONE
    assert a.stay == Appeal.Stay.LIFTED and a.remedy == ["reinstatement", "correction"]
    decision_steps = [e.action for e in AuditEvent.objects.filter(target_id=str(d.pk)).order_by("id")]
    assert [x for x in decision_steps if x.startswith("decision.")] == [
        "decision.recorded",
        "decision.stayed",
        "decision.superseded",
        "decision.reversed",
    ]
    reversed_event = events(d, "decision.reversed")[0]
    assert reversed_event.data["new_decision"] == str(new.pk) and reversed_event.data["remedy"] == a.remedy
    # The person: a "decision reversed" notice with reasons, evidence, remedy and the next route (S26).
    (email,) = [n for n in notices_about(a, Notice.Kind.DECISION_REVERSED) if n.channel == "email"]
    text = email.body_text
    assert (
        RATIONALE in text and "Your file: payslip.pdf" in text and "What you told us in your appeal" in text
    )
    assert "We will put things back as they were before the decision." in text
    assert new.public_reference in text and "Financial Ombudsman" in text
    # The integrator: signed webhooks to undo the effect.
    (hook,) = webhooks("decision.reversed")
    assert hook.payload["decision"]["id"] == str(d.pk)
    assert hook.payload["new_decision"]["id"] == str(new.pk) and hook.payload["remedy"] == a.remedy
    timeline = [e.action for e in selectors.appeal_timeline(a)]
    assert (
        timeline.index("decision.stayed")
        < timeline.index("appeal.claimed")
        < timeline.index("decision.reversed")
    )
    assert "decision.recorded" not in timeline  # the decision's own history is on the decision page
    (decided,) = webhooks("appeal.decided")
    assert (
        decided.payload["outcome"] == "overturned" and decided.payload["appeal"]["reference"] == a.reference
    )


def test_upholding_lifts_the_stay_and_the_decision_applies_again(world: World) -> None:
    a = world.claimed()
    d = a.decision
    assert d.status == Decision.Status.STAYED
    world.open_everything(a, world.alice)
    a = _decide(world, a, outcome="upheld")
    d.refresh_from_db()
    assert d.status == Decision.Status.PENDING_NOTICE  # back where it was before the stay
    assert a.stay == Appeal.Stay.LIFTED and a.resulting_decision is None
    assert events(d, "decision.stay_lifted")[0].data["to"] == Decision.Status.PENDING_NOTICE
    (email,) = [n for n in notices_about(a, Notice.Kind.APPEAL_OUTCOME) if n.channel == "email"]
    assert "The decision stays as it was." in email.body_text
    assert "It applies again from now." in email.body_text and "District Court" in email.body_text


def test_a_decision_whose_notice_was_delivered_while_stayed_takes_effect_when_the_stay_lifts(
    world: World,
) -> None:
    from notifications.services import notice_deliver

    a = world.claimed()
    d = a.decision
    (notice,) = Notice.objects.filter(topic_id=str(d.pk), kind="decision", channel="portal")
    notice_deliver(notice_id=notice.pk)
    d.refresh_from_db()
    assert d.status == Decision.Status.STAYED and d.effective_at is None  # no effect while stayed (S18)
    world.open_everything(a, world.alice)
    _decide(world, a, outcome="upheld")
    d.refresh_from_db()
    assert d.status == Decision.Status.EFFECTIVE and d.effective_at is not None


def test_a_modification_supersedes_the_decision_with_the_chosen_outcome(db: Any) -> None:
    w = make_world()
    from tests.factories import OutcomeFactory

    OutcomeFactory(
        version=w.version,
        code="reduced_limit",
        adverse=True,
        label={"en": "Lower limit granted", "es": "Límite menor concedido"},
        effect={"en": "You get a lower limit.", "es": "Tendrá un límite menor."},
    )
    a = w.claimed()
    w.open_everything(a, w.alice)
    with pytest.raises(ValidationFailed):
        _decide(w, a, outcome="modified", new_outcome="declined")  # the same outcome is not a modification
    a = _decide(w, a, outcome="modified", new_outcome="reduced_limit")
    d = a.decision
    d.refresh_from_db()
    assert d.status == Decision.Status.SUPERSEDED
    assert a.resulting_decision is not None and a.resulting_decision.outcome.code == "reduced_limit"
    assert a.resulting_decision.reasons.count() == d.reasons.count()  # the adverse reasons carry over (S6)
    assert webhooks("decision.modified")[0].payload["new_decision"]["outcome"] == "reduced_limit"
    (email,) = [n for n in notices_about(a, Notice.Kind.APPEAL_OUTCOME) if n.channel == "email"]
    assert "We changed the decision. The new decision is: Lower limit granted." in email.body_text


def test_an_overturn_must_replace_the_decision_with_an_outcome_that_is_not_adverse(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)
    with pytest.raises(ValidationFailed) as exc:
        _decide(world, a, outcome="overturned", new_outcome="declined")
    assert exc.value.errors[0]["code"] == "adverse-outcome"
    with pytest.raises(ValidationFailed):
        _decide(world, a, outcome="upheld", remedy=["refund"])


def test_a_decided_appeal_is_closed_once_the_remedy_is_carried_out(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)
    a = _decide(world, a, outcome="overturned", remedy=["refund"])
    with pytest.raises(services.PermissionDenied):
        services.appeal_close(appeal=a, actor=world.alice)
    a = services.appeal_close(appeal=a, actor=world.senior, note="Refund paid on 3 May.")
    assert a.status == State.CLOSED and a.remedy_completed_at is not None
    assert events(a, "appeal.closed")[0].data["remedy"] == ["refund"]
    with pytest.raises(TransitionNotAllowed):
        services.appeal_withdraw(appeal=a, actor=world.person)


# ------------------------------------------------------------------------------------- S24 four eyes


@pytest.fixture
def high_impact(db: Any) -> World:
    w = make_world(impact_level=ImpactLevel.III)
    from appeals.models import ReviewerTraining
    from core import clock

    for user in (w.alice, w.bob, w.carol, w.senior):
        ReviewerTraining.objects.create(
            user=user,
            course="Appeals at high impact",
            completed_on=clock.now().date(),
            recorded_at=clock.now(),
        )
    return w


def _high_impact_appeal(w: World) -> Appeal:
    d = w.decision(
        human_involvement=[{"kind": "approval", "by": "EMP-OFFICER", "at": "2026-01-01T10:00:00Z"}]
    )
    assert d.status == Decision.Status.PENDING_NOTICE
    w.appeal(d)
    a = services.review_claim_next(reviewer=w.alice)
    assert a is not None
    w.open_everything(a, w.alice)
    return a


def test_at_high_impact_upholding_waits_for_a_second_independent_reviewer(high_impact: World) -> None:
    w = high_impact
    a = _high_impact_appeal(w)
    a = _decide(w, a, outcome="upheld")
    d = a.decision
    d.refresh_from_db()
    assert a.status == State.AWAITING_SECOND_REVIEW and a.claimed_by is None
    assert d.status == Decision.Status.STAYED  # nothing applied yet
    assert not notices_about(a, Notice.Kind.APPEAL_OUTCOME)
    # The first reviewer cannot be the second.
    assert services.review_claim_next_second(reviewer=w.alice) is None
    with pytest.raises(services.NotIndependent):
        services.review_reassign(appeal=a, to=w.alice, actor=w.senior)
    second = services.review_claim_next_second(reviewer=w.bob)
    assert second is not None and second.pk == a.pk and second.status == State.AWAITING_SECOND_REVIEW
    with pytest.raises(EvidenceNotOpened):
        services.review_confirm_second(appeal=a, reviewer=w.bob, confirm=True, rationale=RATIONALE)
    w.open_everything(a, w.bob)
    a = services.review_confirm_second(appeal=a, reviewer=w.bob, confirm=True, rationale=RATIONALE)
    d.refresh_from_db()
    assert a.status == State.DECIDED and a.outcome == "upheld" and d.status == Decision.Status.PENDING_NOTICE
    assert Review.objects.get(appeal=a, stage="second").confirmed is True
    steps = [x for x in actions(a) if x.startswith("appeal.") and x != "appeal.evidence_opened"]
    assert steps[-3:] == ["appeal.sent_for_second_review", "appeal.claimed", "appeal.second_review_confirmed"]
    assert notices_about(a, Notice.Kind.APPEAL_OUTCOME)


def test_a_second_reviewer_who_disagrees_sends_it_back_escalated_for_fresh_eyes(high_impact: World) -> None:
    w = high_impact
    a = _decide(w, _high_impact_appeal(w), outcome="upheld")
    assert services.review_claim_next_second(reviewer=w.bob) is not None
    w.open_everything(a, w.bob)
    a = services.review_confirm_second(appeal=a, reviewer=w.bob, confirm=False, rationale=RATIONALE)
    assert a.status == State.QUEUED and a.escalated is True
    # Neither Alice (who upheld) nor Bob (who disagreed, and decided as second reviewer) takes it again.
    assert services.review_claim_next(reviewer=w.alice) is None
    assert services.review_claim_next(reviewer=w.bob) is None
    again = services.review_claim_next(reviewer=w.carol)
    assert again is not None and again.pk == a.pk


def test_an_overturn_at_high_impact_needs_no_second_reviewer(high_impact: World) -> None:
    w = high_impact
    a = _decide(w, _high_impact_appeal(w), outcome="overturned")
    assert a.status == State.DECIDED


def test_at_high_impact_an_untrained_reviewer_is_offered_nothing_and_may_not_decide(db: Any) -> None:
    w = make_world(impact_level=ImpactLevel.IV)
    w.decision(human_involvement=[{"kind": "approval", "by": "EMP-OFFICER", "at": "2026-01-01T10:00:00Z"}])
    d = Decision.objects.get()
    w.appeal(d)
    assert services.review_claim_next(reviewer=w.alice) is None
    with pytest.raises(NoAuthority) as exc:
        services.review_reassign(appeal=Appeal.objects.get(), to=w.alice, actor=w.senior)
    assert exc.value.code == "reviewer-training-missing"


def test_higher_floors_hear_of_every_outcome_through_a_registered_handler(world: World) -> None:
    from appeals import hooks

    heard: list[tuple[str, str]] = []

    def handler(appeal: Appeal) -> None:
        heard.append((appeal.reference, appeal.outcome))

    hooks.register_outcome_handler(handler)
    try:
        a = world.claimed()
        world.open_everything(a, world.alice)
        services.information_request(appeal=a, reviewer=world.alice, question="Which month?")
        assert heard == []  # not a step with an outcome
        services.information_reply(appeal=a, reply="March", actor=world.person)
        a = _decide(world, a, outcome="overturned")
    finally:
        hooks.unregister_outcome_handler(handler)
    assert heard == [(a.reference, "overturned")]
