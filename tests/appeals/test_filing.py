"""Filing and triage (S16, S17, S18): in time to the queue with a stay, late to a person, no duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from appeals import services
from appeals.models import Appeal, AppealContact
from appeals.services import AppealAlreadyDecided, AppealAlreadyOpen, DecisionNotAppealable
from appeals.workflow import State
from core import clock
from core.errors import PermissionDenied, ValidationFailed
from decisions.models import Decision
from notifications.models import Notice
from tests.appeals.conftest import PDF, World, actions, events, make_world, notices_about, webhooks

pytestmark = pytest.mark.django_db


def test_an_appeal_in_time_is_queued_and_stays_the_decision(world: World) -> None:
    d = world.decision()
    assert d.status == Decision.Status.PENDING_NOTICE
    a = world.appeal(d, evidence=[("payslip.pdf", PDF)], requested_remedy="Raise the limit as asked.")
    d.refresh_from_db()
    assert a.status == State.QUEUED
    assert a.late is False
    assert a.queue == world.queue
    assert a.stay == Appeal.Stay.APPLIED and a.stay_previous_status == Decision.Status.PENDING_NOTICE
    assert d.status == Decision.Status.STAYED
    assert a.due_date == clock.deadline_date(a.filed_at, world.system.review_due_days, world.system.time_zone)
    assert a.reference.startswith("APL-")
    assert actions(a) == ["appeal.filed", "appeal.stay_applied", "appeal.accepted"]
    filed, _stay, accepted = events(a)
    assert filed.data["subject"] == d.subject.pseudonym and filed.data["late"] is False
    assert accepted.data["from"] == State.SUBMITTED and accepted.data["to"] == State.QUEUED
    # No personal data in the audit log: not the statement, not the file name.
    assert STATEMENT_FRAGMENT not in str(filed.data) and "payslip" not in str(filed.data)
    assert [e.action for e in events(d) if e.action == "decision.stayed"] == ["decision.stayed"]
    assert [m.payload["appeal"]["reference"] for m in webhooks("appeal.filed")] == [a.reference]
    assert webhooks("decision.stayed")[0].payload["decision"]["id"] == str(d.pk)


STATEMENT_FRAGMENT = "old job"


def test_the_person_is_told_their_appeal_was_received_and_that_the_decision_is_on_hold(world: World) -> None:
    a = world.appeal()
    by_channel = {n.channel: n for n in notices_about(a, Notice.Kind.APPEAL_RECEIVED)}
    assert set(by_channel) == {"portal", "email"}
    text = by_channel["email"].body_text
    assert a.reference in text and a.decision.public_reference in text
    assert "We will not apply the decision until a person has decided on your appeal." in text
    assert "Review Team" in text  # the human contact
    assert by_channel["email"].recipient == a.decision.subject.pseudonym


def test_a_spanish_speaker_is_told_in_spanish(world: World) -> None:
    d = world.decision(
        subject={"external_ref": "es-1", "name": "Ana", "email": "ana@mail.example", "language": "es"}
    )
    a = world.appeal(d)
    (notice,) = [n for n in notices_about(a, Notice.Kind.APPEAL_RECEIVED) if n.channel == "email"]
    assert notice.language == "es"
    assert "Hemos recibido su apelación" in notice.subject
    assert "No aplicaremos la decisión" in notice.body_text


def test_a_system_that_does_not_stay_effects_gives_the_reason_and_says_so(db: Any) -> None:
    w = make_world(stay_on_appeal=False)
    d = w.decision()
    a = w.appeal(d)
    d.refresh_from_db()
    assert a.stay == Appeal.Stay.REFUSED and "does not put the decision on hold" in a.stay_reason
    assert d.status == Decision.Status.PENDING_NOTICE
    assert actions(a)[1] == "appeal.stay_refused"
    (email,) = [n for n in notices_about(a) if n.channel == "email"]
    assert "The decision still applies while we look at your appeal. This is why:" in email.body_text


def test_a_late_appeal_goes_to_a_person_with_the_good_cause_path(world: World, frozen: Any) -> None:
    d = world.decision()
    frozen.set(d.decided_at + timedelta(days=world.system.appeal_window_days + 3))
    a = world.appeal(d, good_cause="I was in hospital.")
    d.refresh_from_db()
    assert a.status == State.SUBMITTED and a.late is True
    assert a.stay == Appeal.Stay.REFUSED  # not stayed until a person accepts the reasons
    assert d.status == Decision.Status.PENDING_NOTICE
    assert actions(a) == ["appeal.filed", "appeal.stay_refused"]
    (email,) = [n for n in notices_about(a) if n.channel == "email"]
    assert "You appealed after the last day" in email.body_text
    assert "A person will read your reasons for being late" in email.body_text


def test_accepting_a_late_appeal_for_good_cause_queues_it_and_applies_the_stay(
    world: World, frozen: Any
) -> None:
    d = world.decision()
    frozen.set(d.decided_at + timedelta(days=world.system.appeal_window_days + 3))
    a = world.appeal(d, good_cause="I was in hospital.")
    a = services.appeal_triage_late(
        appeal=a, accept=True, reasons="Hospital stay shown; good cause.", actor=world.alice
    )
    d.refresh_from_db()
    assert a.status == State.QUEUED and a.triaged_by == world.alice
    assert a.stay == Appeal.Stay.APPLIED and d.status == Decision.Status.STAYED
    assert events(a, "appeal.accepted")[0].data["why"] == "good cause"
    assert [n.template_key for n in notices_about(a) if n.channel == "portal"] == [
        "appeals/appeal_received",
        "appeals/appeal_accepted",
    ]


def test_refusing_a_late_appeal_is_reasoned_and_names_the_external_routes(world: World, frozen: Any) -> None:
    d = world.decision()
    frozen.set(d.decided_at + timedelta(days=world.system.appeal_window_days + 40))
    a = world.appeal(d)
    a = services.appeal_triage_late(
        appeal=a, accept=False, reasons="No reason for the delay was given.", actor=world.alice
    )
    assert a.status == State.REFUSED
    assert events(a, "appeal.refused")[0].data["to"] == State.REFUSED
    (email,) = [n for n in notices_about(a, Notice.Kind.APPEAL_OUTCOME) if n.channel == "email"]
    assert "No reason for the delay was given." in email.body_text
    assert "Financial Ombudsman" in email.body_text and "District Court" in email.body_text


def test_triage_needs_reasons_and_a_reviewer(world: World, frozen: Any) -> None:
    d = world.decision()
    frozen.set(d.decided_at + timedelta(days=world.system.appeal_window_days + 3))
    a = world.appeal(d)
    with pytest.raises(ValidationFailed):
        services.appeal_triage_late(appeal=a, accept=False, reasons="  ", actor=world.alice)
    with pytest.raises(PermissionDenied):
        services.appeal_triage_late(appeal=a, accept=False, reasons="Too late.", actor=world.person)
    a.refresh_from_db()
    assert a.status == State.SUBMITTED


def test_a_second_open_appeal_on_the_same_decision_is_refused_with_the_reason(world: World) -> None:
    d = world.decision()
    first = world.appeal(d)
    with pytest.raises(AppealAlreadyOpen) as exc:
        world.appeal(d)
    assert first.reference in exc.value.detail
    assert exc.value.status == 409 and exc.value.extra["appeal"] == first.reference
    assert Appeal.objects.filter(decision=d).count() == 1


def test_after_a_withdrawal_the_person_may_appeal_again(world: World) -> None:
    d = world.decision()
    first = world.appeal(d)
    services.appeal_withdraw(appeal=first, actor=world.person)
    d.refresh_from_db()
    assert d.status == Decision.Status.PENDING_NOTICE  # the stay ended with the appeal
    second = world.appeal(d)
    assert second.status == State.QUEUED


def test_an_appeal_after_a_decided_one_is_refused_and_names_the_next_route(world: World) -> None:
    d = world.decision()
    a = world.claimed()
    world.open_everything(a, world.alice)
    services.review_decide(
        appeal=a,
        reviewer=world.alice,
        outcome="upheld",
        rationale=RATIONALE_UPHELD,
        evidence_relied_on=["statement"],
    )
    with pytest.raises(AppealAlreadyDecided) as exc:
        world.appeal(a.decision)
    assert "Financial Ombudsman" in exc.value.detail
    del d


RATIONALE_UPHELD = "The late payments are confirmed by the bureau records and the statement adds nothing new."


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"adverse": False}, "decision-not-adverse"),
    ],
)
def test_a_decision_in_the_persons_favour_cannot_be_appealed(
    world: World, change: dict[str, Any], code: str
) -> None:
    d = world.decision(**change)
    with pytest.raises(DecisionNotAppealable) as exc:
        world.appeal(d)
    assert exc.value.code == code
    assert not Appeal.objects.exists()


def test_a_representative_must_state_their_authority(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        world.appeal(filed_by="representative", representative={"name": "Legal Aid"})
    assert [e["field"] for e in exc.value.errors] == ["representative.authority"]
    a = world.appeal(
        filed_by="representative",
        representative={
            "name": "Legal Aid Clinic",
            "email": "clinic@legal.example",
            "authority": "Signed form of 2 May",
        },
        accessibility_needs="Large print, please.",
    )
    contact = AppealContact.objects.get(appeal=a)
    assert (
        contact.authority == "Signed form of 2 May" and contact.accessibility_needs == "Large print, please."
    )
    assert {n.to_address for n in notices_about(a) if n.channel == "email"} >= {"clinic@legal.example"}
    assert "Legal Aid" not in str([e.data for e in events(a)])


def test_an_oral_hearing_is_refused_where_the_system_does_not_hold_them(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        world.appeal(oral_hearing_requested=True)
    assert exc.value.errors[0]["code"] == "not-offered"
    w = make_world(oral_hearing_allowed=True)
    assert w.appeal(oral_hearing_requested=True).oral_hearing_requested is True


def test_an_empty_statement_is_refused_and_writes_nothing(world: World) -> None:
    d = world.decision()
    with pytest.raises(ValidationFailed):
        world.appeal(d, statement="   ")
    assert not Appeal.objects.exists()
    d.refresh_from_db()
    assert d.status == Decision.Status.PENDING_NOTICE


def test_an_appeal_on_a_decision_the_integrator_replaced_is_closed_and_the_person_told(world: World) -> None:
    from decisions.services import decision_supersede
    from tests.factories import decision_payload

    a = world.appeal()
    d = a.decision
    correction = decision_payload(
        world.system, world.version, subject={"external_ref": d.subject.external_ref}
    )
    new = decision_supersede(decision=d, data=correction, actor=world.client, client=world.client).decision
    assert new is not None
    assert services.appeals_close_replaced() == 1
    a.refresh_from_db()
    assert a.status == State.CLOSED and a.stay == Appeal.Stay.LIFTED and "replaced" in a.close_reason
    assert events(a, "appeal.moot")[0].data["corrected"] is False
    (email,) = [n for n in notices_about(a, Notice.Kind.APPEAL_OUTCOME) if n.channel == "email"]
    assert "The decision you appealed was replaced by a newer decision." in email.body_text
    assert new.public_reference in email.body_text and "you can appeal it" in email.body_text
    assert services.appeals_close_replaced() == 0
    assert world.appeal(new).status == State.QUEUED  # the new decision can be appealed
