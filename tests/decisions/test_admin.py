"""The admin configures systems through the services (checked and audited) and never edits records (S5)."""

from __future__ import annotations

import pytest
from django.test import Client

from core.actors import SYSTEM
from core.models import AuditEvent
from decisions import services
from decisions.models import Decision, DecisionSystem, Feature, ImpactAssessment, ReasonCode
from tests.factories import DecisionSystemFactory, UserFactory, decision_payload, live_system

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True, staff_ref="EMP-ADMIN"))
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_go_live_from_the_admin_shows_the_refusal_as_an_error(admin_client):
    system = DecisionSystemFactory.create(status=DecisionSystem.Status.DRAFT)
    response = admin_client.post(
        "/admin/decisions/decisionsystem/",
        {"action": "go_live", "_selected_action": [system.pk]},
        follow=True,
    )
    assert any("cannot go live" in m and "impact assessment" in m for m in _messages(response))
    system.refresh_from_db()
    assert system.status == DecisionSystem.Status.DRAFT


def test_go_live_from_the_admin_switches_a_ready_system_live_and_audits_it(admin_client):
    system, _ = live_system(status=DecisionSystem.Status.DRAFT)
    response = admin_client.post(
        "/admin/decisions/decisionsystem/",
        {"action": "go_live", "_selected_action": [system.pk]},
        follow=True,
    )
    assert any("is live" in m for m in _messages(response))
    system.refresh_from_db()
    assert system.status == DecisionSystem.Status.LIVE
    assert AuditEvent.objects.filter(action="system.went_live", actor_type="user").count() == 1


def test_an_impact_assessment_added_inline_is_recorded_through_its_service(admin_client):
    system = DecisionSystemFactory.create(status=DecisionSystem.Status.DRAFT, impact_level=1)
    url = f"/admin/decisions/decisionsystem/{system.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data.update(
        {
            "external_routes": "[]",
            "stay_on_appeal": "on",
            "assessments-TOTAL_FORMS": "1",
            "assessments-INITIAL_FORMS": "0",
            "assessments-0-score": "80",
            "assessments-0-max_score": "100",
            "assessments-0-approver": "CDO",
            "assessments-0-approved_on": "2026-01-02",
            "peer_reviews-TOTAL_FORMS": "0",
            "peer_reviews-INITIAL_FORMS": "0",
        }
    )
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assessment = ImpactAssessment.objects.get(system=system)
    assert assessment.level == 4
    system.refresh_from_db()
    assert system.impact_level == 4
    assert AuditEvent.objects.filter(action="system.impact_assessed").count() == 1


def test_a_reason_code_added_inline_is_refused_when_it_is_generic(admin_client):
    system = DecisionSystemFactory.create(status=DecisionSystem.Status.DRAFT)
    version = services.version_create(
        system=system,
        version="1.0",
        features=[
            {
                "name": "annual_income",
                "label": {"en": "Income", "es": "Ingresos"},
                "data_type": "number",
                "source": "Form",
                "context": "income",
            }
        ],
        actor=SYSTEM,
    )
    feature = Feature.objects.get(version=version)
    url = f"/admin/decisions/systemversion/{version.pk}/change/"
    base = {
        "features-TOTAL_FORMS": "1",
        "features-INITIAL_FORMS": "1",
        "features-0-id": str(feature.pk),
        "features-0-version": str(version.pk),
        "reason_codes-TOTAL_FORMS": "1",
        "reason_codes-INITIAL_FORMS": "0",
        "reason_codes-0-code": "INSUFFICIENT_SCORE",
        "reason_codes-0-feature": str(feature.pk),
        "reason_codes-0-text_en": "Insufficient score",
        "reason_codes-0-text_es": "Puntuación insuficiente",
        "outcomes-TOTAL_FORMS": "0",
        "outcomes-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, base)
    assert response.status_code == 200  # the form comes back with the error
    assert "generic reason" in response.content.decode()
    assert not ReasonCode.objects.exists()

    base.update({"reason_codes-0-code": "INCOME_LOW", "reason_codes-0-text_en": "Your income is low."})
    base["reason_codes-0-text_es"] = "Sus ingresos son bajos."
    assert admin_client.post(url, base).status_code == 302
    assert ReasonCode.objects.get().text == {"en": "Your income is low.", "es": "Sus ingresos son bajos."}
    assert AuditEvent.objects.filter(action="version.reason_code_added").count() == 1


def test_decisions_are_read_only_in_the_admin(admin_client):
    system, version = live_system()
    decision = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision
    assert admin_client.get(f"/admin/decisions/decision/{decision.pk}/change/").status_code == 200
    assert admin_client.get("/admin/decisions/decision/add/").status_code == 403
    assert admin_client.post(f"/admin/decisions/decision/{decision.pk}/delete/").status_code == 403
    before = Decision.objects.get(pk=decision.pk)
    admin_client.post(f"/admin/decisions/decision/{decision.pk}/change/", {"status": "effective"})
    assert Decision.objects.get(pk=decision.pk).status == before.status


def test_the_subject_list_shows_no_contact_data(admin_client):
    system, version = live_system()
    payload = decision_payload(system, version)
    services.decision_record(data=payload, actor=SYSTEM)
    page = admin_client.get("/admin/decisions/subject/").content.decode()
    assert payload["subject"]["email"] not in page
    assert payload["subject"]["name"] not in page


def test_a_held_decision_is_approved_from_the_admin_by_a_staff_member(admin_client):
    system, version = live_system(impact_level=3)
    decision = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision
    admin_client.post(
        "/admin/decisions/decision/",
        {"action": "approve_as_human", "_selected_action": [str(decision.pk)]},
        follow=True,
    )
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING_NOTICE
    assert decision.human_involvement.get().by == "EMP-ADMIN"
