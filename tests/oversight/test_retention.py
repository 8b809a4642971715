"""Retention (S33): personal data and flags expire after the system's retention period, while the decision
records, the figures and the audit chain stay whole (``verify_audit`` still passes)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from appeals import services as appeal_services
from appeals.models import Appeal, AppealContact, DataDispute, EvidenceFile
from core import audit, clock
from core.actors import Actor
from decisions import outcomes
from decisions.models import Decision, DecisionInput, Subject, SubjectContact
from notifications.models import Notice
from oversight import retention
from oversight.models import GroupAttribute
from tests.appeals.conftest import PDF
from tests.oversight.controls import World, decide, events, make_world

RETENTION = 200


@pytest.fixture
def world(db: Any, settings: Any, tmp_path: Path) -> World:
    settings.MEDIA_ROOT = tmp_path / "private"
    return make_world(retention_days=RETENTION)


def later(days: int = RETENTION + 1) -> Any:
    return clock.now() + timedelta(days=days)


def contact(d: Decision) -> SubjectContact | None:
    return SubjectContact.objects.filter(subject_id=d.subject_id).first()


def group_attribute(d: Decision, value: str = "35-44") -> GroupAttribute:
    return GroupAttribute.objects.create(
        subject_pseudonym=d.subject.pseudonym,
        attribute="age_band",
        value=value,
        source="Application form",
        lawful_basis="GDPR Art. 9(2)(g)",
        recorded_at=clock.now(),
    )


def test_the_sweep_erases_personal_data_past_retention_and_the_chain_still_verifies(
    world: World, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    # A: decided long ago, appealed with a representative and a file, disputed, with group data.
    old = world.decision()
    appeal = appeal_services.appeal_file(
        decision=old,
        statement="My name is on the payslip attached; I earn more than you think.",
        actor=Actor.subject(old.subject.pseudonym),
        filed_by=Appeal.FiledBy.REPRESENTATIVE,
        representative={"name": "Rita Rep", "email": "rita@advice.example", "authority": "Signed form"},
        phone="+34 600 000 000",
        evidence=[("payslip.pdf", PDF)],
    )
    person = Actor.subject(old.subject.pseudonym)
    appeal_services.appeal_withdraw(appeal=appeal, actor=person, reason="Sorted.")
    (evidence,) = EvidenceFile.objects.filter(appeal=appeal)
    stored = Path(settings.MEDIA_ROOT) / evidence.path
    assert stored.exists()
    dispute = appeal_services.dispute_file(
        decision=old,
        feature="annual_income",
        what_is_wrong="I earn 30,000, not 21,000.",
        actor=Actor.subject("p"),
    )
    appeal_services.dispute_resolve(
        dispute=dispute, corrected=False, note="Bureau figure confirmed.", actor=world.alice
    )
    stale = DecisionInput.objects.get(decision=old, feature__name="years_at_address")
    outcomes.decision_input_mark_disputed(
        decision_input=stale, disputed=True, actor=world.alice, reference="X"
    )
    group_attribute(old)
    # B: as old, but the person has an appeal still open. C: a decision within the retention period.
    kept_open = world.decision()
    appeal_services.appeal_file(
        decision=kept_open, statement="Still waiting on this one.", actor=Actor.subject("b")
    )
    group_attribute(kept_open)
    recent = world.decision()
    Decision.objects.filter(pk=recent.pk).update(recorded_at=later(100))
    emails_before = Notice.objects.filter(recipient=old.subject.pseudonym, channel="email").count()
    assert emails_before >= 1

    audit.seal()
    assert audit.verify().ok
    with django_capture_on_commit_callbacks(execute=True):
        result = retention.retention_sweep(now=later())
    audit.seal()

    # The chain and the records are whole.
    verified = audit.verify()
    assert verified.ok and verified.unsealed == 0
    call_command("verify_audit")
    assert Decision.objects.filter(pk=old.pk).exists()
    # A is erased.
    subject = Subject.objects.get(pk=old.subject_id)
    assert subject.erased_at is not None and subject.external_ref == f"erased:{subject.pseudonym}"
    assert contact(old) is None
    notices = Notice.objects.filter(recipient=subject.pseudonym, channel="email")
    assert notices.count() == emails_before and set(notices.values_list("to_address", flat=True)) == {""}
    appeal.refresh_from_db()
    assert appeal.statement == retention.ERASED and not AppealContact.objects.filter(appeal=appeal).exists()
    evidence.refresh_from_db()
    assert evidence.original_name == "" and not stored.exists()
    dispute.refresh_from_db()
    assert dispute.what_is_wrong == retention.ERASED and dispute.disputed_value is None
    assert not GroupAttribute.objects.filter(subject_pseudonym=subject.pseudonym).exists()
    stale.refresh_from_db()
    assert stale.disputed is False
    # B and C are kept.
    for d in (kept_open, recent):
        assert contact(d) is not None
        assert Subject.objects.get(pk=d.subject_id).erased_at is None
    assert GroupAttribute.objects.filter(subject_pseudonym=kept_open.subject.pseudonym).exists()
    # One event, with counts only.
    (ev,) = events("retention.swept")
    assert ev.data["subjects"] == result.subjects == 1
    assert ev.data["per_system"] == {world.system.slug: 1}
    assert (
        ev.data["evidence_files"] == 1 and ev.data["group_attributes"] == 1 and ev.data["flags_lifted"] >= 1
    )
    text = str(ev.data)
    for personal in ("Rita", "rita@", "payslip", "30,000", subject.pseudonym, old.subject.external_ref):
        assert personal not in text


def test_nothing_is_erased_before_the_retention_period_ends(world: World) -> None:
    d = world.decision()
    result = retention.retention_sweep(now=later(RETENTION - 1))
    assert result.subjects == 0 and contact(d) is not None
    (ev,) = events("retention.swept")
    assert ev.data["subjects"] == 0


def test_a_recent_appeal_outcome_keeps_the_person_s_data(world: World) -> None:
    a = decide(world, "upheld")
    Appeal.objects.filter(pk=a.pk).update(decided_at=later(50))
    assert retention.retention_sweep(now=later()).subjects == 0
    assert contact(a.decision) is not None


def test_a_second_sweep_finds_nothing_more_to_erase(world: World) -> None:
    world.decision()
    assert retention.retention_sweep(now=later()).subjects == 1
    again = retention.retention_sweep(now=later())
    assert (again.subjects, again.contacts, again.notices, again.appeals) == (0, 0, 0, 0)
    assert len(events("retention.swept")) == 2


def test_a_person_decided_about_again_after_erasure_is_a_new_subject(world: World) -> None:
    from decisions.services import decision_record
    from tests.factories import decision_payload

    d = world.decision()
    ref = d.subject.external_ref
    retention.retention_sweep(now=later())
    payload = decision_payload(world.system, world.version)
    payload["subject"]["external_ref"] = ref
    again = decision_record(data=payload, actor=world.client, client=world.client).decision
    assert again.subject_id != d.subject_id
    assert Subject.objects.get(pk=again.subject_id).external_ref == ref


def test_an_open_dispute_keeps_its_disputed_marker(world: World) -> None:
    d = world.decision()
    appeal_services.dispute_file(
        decision=d, feature="annual_income", what_is_wrong="Wrong income.", actor=Actor.subject("p")
    )
    row = DecisionInput.objects.get(decision=d, feature__name="annual_income")
    assert row.disputed
    retention.retention_sweep(now=later())
    row.refresh_from_db()
    assert row.disputed and DataDispute.objects.get(decision=d).what_is_wrong == "Wrong income."
