"""Corrections (S5): a recorded decision is never edited; a new decision supersedes it. And the human
approval that lets a held adverse decision go to notice (S2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from core.errors import ApplicationError
from core.models import AuditEvent
from decisions import access, services
from decisions.models import Decision
from tests.factories import ApiClientFactory, decision_payload, live_system

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded():
    system, version = live_system()
    payload = decision_payload(system, version)
    result = services.decision_record(data=payload, actor=SYSTEM)
    return system, version, payload, result.decision


def correction(system, version, payload, **overrides):
    return decision_payload(system, version, subject=payload["subject"], **overrides)


def test_a_correction_is_a_new_decision_that_supersedes_the_old_one(recorded):
    system, version, payload, old = recorded
    inputs = [dict(i) for i in payload["inputs"]]
    inputs[0]["value"] = 48000
    new_payload = correction(system, version, payload, inputs=inputs, adverse=False)

    result = services.decision_supersede(decision=old, data=new_payload, actor=SYSTEM)

    old.refresh_from_db()
    assert result.created is True
    assert result.decision.supersedes_id == old.pk
    assert result.decision.status == Decision.Status.EFFECTIVE
    assert old.status == Decision.Status.SUPERSEDED
    assert old.inputs.get(feature__name="annual_income").value == 21000  # the old record is untouched
    event = AuditEvent.objects.get(action="decision.superseded")
    assert event.target_id == str(old.pk)
    assert event.data["superseded_by"] == str(result.decision.pk)
    recorded_event = AuditEvent.objects.get(action="decision.recorded", target_id=str(result.decision.pk))
    assert recorded_event.data["supersedes"] == str(old.pk)


def test_replaying_the_same_correction_returns_it(recorded):
    system, version, payload, old = recorded
    new_payload = correction(system, version, payload, adverse=False)
    first = services.decision_supersede(decision=old, data=new_payload, actor=SYSTEM)
    again = services.decision_supersede(decision=old, data=new_payload, actor=SYSTEM)
    assert again.created is False and again.decision.pk == first.decision.pk
    assert AuditEvent.objects.filter(action="decision.superseded").count() == 1


def test_a_superseded_decision_cannot_be_superseded_again(recorded):
    system, version, payload, old = recorded
    services.decision_supersede(decision=old, data=correction(system, version, payload), actor=SYSTEM)
    with pytest.raises(ApplicationError) as exc:
        services.decision_supersede(decision=old, data=correction(system, version, payload), actor=SYSTEM)
    assert exc.value.status == 409


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ("other-subject", "subject.external_ref", "subject-mismatch"),
        ("same-external-id", "external_id", "same-external-id"),
        ("other-system", "system", "system-mismatch"),
    ],
)
def test_a_correction_is_for_the_same_system_and_person_under_a_new_external_id(
    recorded, change, field, code
):
    system, version, payload, old = recorded
    new_payload = correction(system, version, payload)
    if change == "other-subject":
        new_payload["subject"] = {**payload["subject"], "external_ref": "someone-else"}
    elif change == "same-external-id":
        new_payload["external_id"] = payload["external_id"]
    else:
        new_payload["system"] = "another-system"
    before = Decision.objects.count()
    with pytest.raises(ApplicationError) as exc:
        services.decision_supersede(decision=old, data=new_payload, actor=SYSTEM)
    assert (field, code) in [(e["field"], e["code"]) for e in exc.value.errors]
    assert Decision.objects.count() == before
    old.refresh_from_db()
    assert old.status == Decision.Status.PENDING_NOTICE


def test_a_refused_correction_leaves_the_old_decision_as_it_was(recorded):
    system, version, payload, old = recorded
    with pytest.raises(ApplicationError):
        services.decision_supersede(
            decision=old, data=correction(system, version, payload, reasons=[]), actor=SYSTEM
        )
    old.refresh_from_db()
    assert old.status == Decision.Status.PENDING_NOTICE
    assert not AuditEvent.objects.filter(action="decision.superseded").exists()


def test_an_api_client_cannot_correct_decisions_of_systems_outside_its_scope(recorded):
    system, version, payload, old = recorded
    with pytest.raises(ApplicationError) as exc:
        services.decision_supersede(
            decision=old, data=correction(system, version, payload), actor=ApiClientFactory.create()
        )
    assert exc.value.status == 403


def test_a_human_approval_sends_a_held_adverse_decision_to_notice():
    system, version = live_system(impact_level=3)
    held = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision
    assert held.status == Decision.Status.AWAITING_HUMAN

    result = services.decision_human_confirm(decision=held, by="EMP-42", actor=SYSTEM)

    held.refresh_from_db()
    assert held.status == Decision.Status.PENDING_NOTICE
    assert held.automation == Decision.Automation.PARTIAL
    assert list(held.human_involvement.values_list("kind", "by")) == [("approval", "EMP-42")]
    assert access.access_code_matches(held.access_code_hash, held.public_reference, result.access_code or "")
    assert AuditEvent.objects.get(action="decision.human_confirmed").target_id == str(held.pk)
    with pytest.raises(ApplicationError) as exc:
        services.decision_human_confirm(decision=held, by="EMP-42", actor=SYSTEM)
    assert exc.value.status == 409


def test_a_correction_recorded_with_a_human_decision_replaces_a_held_one():
    system, version = live_system(impact_level=3)
    payload = decision_payload(system, version)
    held = services.decision_record(data=payload, actor=SYSTEM).decision
    at = (timezone.now() - timedelta(minutes=1)).isoformat()
    fixed = decision_payload(
        system,
        version,
        subject=payload["subject"],
        adverse=False,
        human_involvement=[{"kind": "decision", "by": "EMP-1", "at": at}],
    )
    new = services.decision_supersede(decision=held, data=fixed, actor=SYSTEM).decision
    assert new.automation == Decision.Automation.NONE
    assert new.status == Decision.Status.EFFECTIVE
