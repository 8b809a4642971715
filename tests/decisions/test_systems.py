"""Systems before they decide (S1, S2, S3, S6): creation, assessments, peer reviews, versions, go-live,
suspension and policy changes, each audited."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.actors import SYSTEM
from core.errors import ApplicationError
from core.models import AuditEvent
from decisions import services
from decisions.models import DecisionSystem, Feature, ImpactLevel, Outcome, ReasonCode, SystemVersion
from tests.factories import (
    DecisionSystemFactory,
    ImpactAssessmentFactory,
    PeerReviewFactory,
    UserFactory,
    decision_payload,
    live_system,
)

pytestmark = pytest.mark.django_db

FEATURES: list[dict[str, Any]] = [
    {
        "name": "annual_income",
        "label": {"en": "Annual income", "es": "Ingresos anuales"},
        "data_type": "number",
        "source": "Application form",
        "context": "income",
        "actionable": True,
    },
    {
        "name": "late_payments_12m",
        "label": {"en": "Late payments", "es": "Pagos atrasados"},
        "data_type": "integer",
        "source": "Credit bureau",
        "context": "credit_history",
        "actionable": True,
    },
]
REASONS: list[dict[str, Any]] = [
    {
        "code": "INCOME_LOW",
        "feature": "annual_income",
        "text": {
            "en": "Your income is low for this limit.",
            "es": "Sus ingresos son bajos para este límite.",
        },
    }
]
OUTCOMES: list[dict[str, Any]] = [
    {
        "code": "approved",
        "adverse": False,
        "label": {"en": "Approved", "es": "Aprobado"},
        "effect": {"en": "You get the limit.", "es": "Obtiene el límite."},
    },
    {
        "code": "declined",
        "adverse": True,
        "label": {"en": "Declined", "es": "Denegado"},
        "effect": {"en": "You do not get the limit.", "es": "No obtiene el límite."},
    },
]


def new_system(**overrides: Any) -> DecisionSystem:
    fields: dict[str, Any] = {
        "slug": "credit-limit",
        "name": "Credit limit",
        "owner_organisation": "Example Bank",
        "review_contact_name": "Credit review team",
        "review_contact_email": "review@bank.example",
        "purpose": "Set credit limits.",
        "legal_basis": "Contract (GDPR Art. 6(1)(b)).",
        "domain": "credit",
        "impact_level": ImpactLevel.II,
        "public_explanation": "A scorecard adds points for income and payment history.",
    }
    fields.update(overrides)
    return services.system_create(actor=SYSTEM, **fields)


def ready(system: DecisionSystem, *, score: int = 40, reviews: int = 1) -> None:
    services.impact_assessment_record(
        system=system, score=score, max_score=100, approver="CDO", approved_on=date(2026, 1, 5), actor=SYSTEM
    )
    for i in range(reviews):
        services.peer_review_record(
            system=system,
            reviewer=f"Reviewer {i}",
            organisation="Uni",
            reviewed_on=date(2026, 1, 9),
            actor=SYSTEM,
        )
    services.version_create(
        system=system, version="1.0", features=FEATURES, reason_codes=REASONS, outcomes=OUTCOMES, actor=SYSTEM
    )


def codes(exc: pytest.ExceptionInfo[ApplicationError]) -> set[str]:
    return {e["code"] for e in exc.value.errors}


def test_a_new_system_starts_in_draft_and_its_creation_is_audited():
    system = new_system()
    assert system.status == DecisionSystem.Status.DRAFT
    event = AuditEvent.objects.get(action="system.created")
    assert event.target_id == str(system.pk)
    assert event.data["impact_level"] == 2


def test_a_system_goes_live_with_its_assessment_peer_review_and_a_version():
    system = new_system()
    ready(system)
    user = UserFactory.create()
    system = services.system_go_live(system=system, actor=user)
    assert system.status == DecisionSystem.Status.LIVE
    assert system.went_live_at is not None
    event = AuditEvent.objects.get(action="system.went_live")
    assert (event.actor_type, event.actor_id) == ("user", str(user.pk))
    # Going live again changes nothing and is not audited twice.
    services.system_go_live(system=system, actor=SYSTEM)
    assert AuditEvent.objects.filter(action="system.went_live").count() == 1


def test_go_live_is_refused_without_an_impact_assessment():
    system = new_system()
    with pytest.raises(ApplicationError) as exc:
        services.system_go_live(system=system, actor=SYSTEM)
    assert exc.value.status == 422 and exc.value.code == "go-live-refused"
    assert {"impact-assessment-missing", "version-missing"} <= codes(exc)
    system.refresh_from_db()
    assert system.status == DecisionSystem.Status.DRAFT
    assert not AuditEvent.objects.filter(action="system.went_live").exists()


def test_go_live_is_refused_when_the_assessment_gives_another_level_than_the_system_declares():
    system = DecisionSystemFactory.create(status=DecisionSystem.Status.DRAFT, impact_level=ImpactLevel.II)
    ImpactAssessmentFactory.create(system=system, score=90, max_score=100, level=ImpactLevel.IV)
    PeerReviewFactory.create(system=system)
    with pytest.raises(ApplicationError) as exc:
        services.system_go_live(system=system, actor=SYSTEM)
    assert "impact-assessment-level-mismatch" in codes(exc)


@pytest.mark.parametrize(("score", "reviews_needed"), [(40, 1), (60, 1), (90, 2)])
def test_go_live_is_refused_without_the_peer_reviews_the_level_needs(score, reviews_needed):
    system = new_system()
    ready(system, score=score, reviews=reviews_needed - 1)
    with pytest.raises(ApplicationError) as exc:
        services.system_go_live(system=system, actor=SYSTEM)
    assert codes(exc) == {"peer-reviews-missing"}
    services.peer_review_record(
        system=system, reviewer="Last", organisation="Uni", reviewed_on=date(2026, 2, 1), actor=SYSTEM
    )
    assert services.system_go_live(system=system, actor=SYSTEM).status == DecisionSystem.Status.LIVE


def test_level_one_needs_no_peer_review():
    system = new_system(impact_level=ImpactLevel.I)
    ready(system, score=10, reviews=0)
    assert services.system_go_live(system=system, actor=SYSTEM).status == DecisionSystem.Status.LIVE


@pytest.mark.parametrize(
    "missing", ["owner_organisation", "review_contact_name", "legal_basis", "public_explanation"]
)
def test_go_live_is_refused_without_an_owner_a_review_contact_a_legal_basis_or_a_public_explanation(missing):
    system = new_system()
    ready(system)
    DecisionSystem.objects.filter(pk=system.pk).update(**{missing: ""})
    with pytest.raises(ApplicationError) as exc:
        services.system_go_live(system=system, actor=SYSTEM)
    assert (missing, "required") in [(e["field"], e["code"]) for e in exc.value.errors]


def test_the_assessment_sets_the_level_from_the_score_and_refuses_a_level_that_contradicts_it():
    system = new_system(impact_level=ImpactLevel.I)
    assessment = services.impact_assessment_record(
        system=system, score=51, max_score=100, approver="CDO", approved_on=date(2026, 1, 5), actor=SYSTEM
    )
    system.refresh_from_db()
    assert assessment.level == system.impact_level == ImpactLevel.III
    event = AuditEvent.objects.get(action="system.impact_assessed")
    assert (event.data["level"], event.data["previous_level"]) == (3, 1)
    with pytest.raises(ApplicationError) as exc:
        services.impact_assessment_record(
            system=system,
            score=10,
            max_score=100,
            level=4,
            approver="CDO",
            approved_on=date(2026, 1, 5),
            actor=SYSTEM,
        )
    assert codes(exc) == {"level-contradicts-score"}


def test_a_peer_review_is_audited():
    system = new_system()
    services.peer_review_record(
        system=system, reviewer="Prof", organisation="Uni", reviewed_on=date(2026, 1, 1), actor=SYSTEM
    )
    assert AuditEvent.objects.filter(action="system.peer_reviewed", target_id=str(system.pk)).count() == 1


def test_a_suspended_system_can_go_live_again_and_a_draft_cannot_be_suspended():
    system, _ = live_system()
    services.system_suspend(system=system, actor=SYSTEM, reason="overturn rate 40%")
    system.refresh_from_db()
    assert system.status == DecisionSystem.Status.SUSPENDED
    assert AuditEvent.objects.get(action="system.suspended").data["reason"] == "overturn rate 40%"
    assert services.system_go_live(system=system, actor=SYSTEM).status == DecisionSystem.Status.LIVE
    draft = DecisionSystemFactory.create(status=DecisionSystem.Status.DRAFT)
    with pytest.raises(ApplicationError) as exc:
        services.system_suspend(system=draft, actor=SYSTEM)
    assert exc.value.status == 409


def test_policy_changes_are_audited_with_old_and_new_values():
    system, _ = live_system()
    services.system_update_policy(
        system=system,
        changes={"appeal_window_days": 60, "review_contact_email": "new@bank.example"},
        actor=SYSTEM,
    )
    system.refresh_from_db()
    assert system.appeal_window_days == 60
    event = AuditEvent.objects.get(action="system.policy_updated")
    assert event.data["changes"]["appeal_window_days"] == {"old": 184, "new": 60}
    assert event.data["changes"]["review_contact_email"] == {"changed": True}
    assert "new@bank.example" not in str(event.data)


def test_a_policy_update_that_changes_nothing_is_not_audited():
    system, _ = live_system()
    services.system_update_policy(system=system, changes={"appeal_window_days": 184}, actor=SYSTEM)
    assert not AuditEvent.objects.filter(action="system.policy_updated").exists()


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"impact_level": 1}, "impact_level", "not-changeable"),
        ({"domain": "other"}, "domain", "not-changeable"),
        ({"appeal_window_days": -3}, "appeal_window_days", "invalid"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "invalid"),
        ({"stop_switch_overturn_rate": "1.5"}, "stop_switch_overturn_rate", "invalid"),
        ({"review_contact_email": ""}, "review_contact_email", "required"),
    ],
)
def test_policy_updates_are_checked(changes, field, code):
    system, _ = live_system()
    with pytest.raises(ApplicationError) as exc:
        services.system_update_policy(system=system, changes=changes, actor=SYSTEM)
    assert (field, code) in [(e["field"], e["code"]) for e in exc.value.errors]
    assert not AuditEvent.objects.filter(action="system.policy_updated").exists()


def test_content_moderation_systems_keep_an_appeal_window_of_at_least_six_months():
    system, _ = live_system(domain="content_moderation")
    with pytest.raises(ApplicationError) as exc:
        services.system_update_policy(system=system, changes={"appeal_window_days": 30}, actor=SYSTEM)
    assert codes(exc) == {"window-too-short"}


# ---------------------------------------------------------------------------------------------- versions


def test_a_version_is_created_with_its_features_reason_codes_and_outcomes_and_audited():
    system = new_system()
    version = services.version_create(
        system=system,
        version="1.0",
        features=FEATURES,
        reason_codes=REASONS,
        outcomes=OUTCOMES,
        score_min=300,
        score_max=850,
        threshold=600,
        actor=SYSTEM,
    )
    assert sorted(version.features.values_list("name", flat=True)) == ["annual_income", "late_payments_12m"]
    assert version.reason_codes.get().feature.name == "annual_income"
    assert set(version.outcomes.values_list("code", "adverse")) == {("approved", False), ("declined", True)}
    event = AuditEvent.objects.get(action="version.created")
    assert event.data["reason_codes"] == ["INCOME_LOW"]


@pytest.mark.parametrize(
    ("reason", "field", "code"),
    [
        (
            {
                "code": "INSUFFICIENT_SCORE",
                "text": {"en": "Insufficient score", "es": "Puntuación insuficiente"},
            },
            "reason_codes.0.code",
            "generic-reason",
        ),
        (
            {"code": "POLICY", "text": {"en": "Internal policy", "es": "Política interna"}},
            "reason_codes.0.code",
            "generic-reason",
        ),
        (
            {
                "code": "INCOME_LOW",
                "text": {"en": "Your income does not meet our criteria.", "es": "Ingresos bajos."},
            },
            "reason_codes.0.code",
            "generic-reason",
        ),
        ({"code": "INCOME_LOW", "text": {"en": "Your income is low."}}, "reason_codes.0.text.es", "required"),
        ({"code": "INCOME_LOW", "text": {"es": "Ingresos bajos."}}, "reason_codes.0.text.en", "required"),
    ],
)
def test_a_version_is_refused_with_generic_reason_codes_or_reasons_without_english_and_spanish(
    reason, field, code
):
    system = new_system()
    with pytest.raises(ApplicationError) as exc:
        services.version_create(
            system=system,
            version="1.0",
            features=FEATURES,
            reason_codes=[{"feature": "annual_income", **reason}],
            outcomes=OUTCOMES,
            actor=SYSTEM,
        )
    assert (field, code) in [(e["field"], e["code"]) for e in exc.value.errors]
    assert not SystemVersion.objects.exists() and not Feature.objects.exists()


@pytest.mark.parametrize(
    ("feature", "code"),
    [
        ({"context": "social_behaviour"}, "social-scoring"),
        ({"context": "content"}, "unrelated-context"),
        ({"context": "identity", "protected": True}, "protected-without-legal-basis"),
    ],
)
def test_a_version_is_refused_with_features_the_domain_may_not_use(feature, code):
    system = new_system()
    spec = {**FEATURES[0], "name": "odd", "actionable": False, **feature}
    with pytest.raises(ApplicationError) as exc:
        services.version_create(
            system=system, version="1.0", features=[spec], outcomes=OUTCOMES, actor=SYSTEM
        )
    assert ("features.0.context", code) in [(e["field"], e["code"]) for e in exc.value.errors]


def test_a_version_in_use_is_frozen():
    system, version = live_system()
    services.decision_record(data=decision_payload(system, version), actor=SYSTEM)
    with pytest.raises(ApplicationError) as exc:
        services.reason_code_create(
            version=version,
            code="NEW_REASON",
            feature="annual_income",
            text={"en": "Income changed.", "es": "Los ingresos cambiaron."},
            actor=SYSTEM,
        )
    assert exc.value.code == "version-in-use"


def test_features_reason_codes_and_outcomes_can_be_added_to_an_unused_version():
    system = new_system()
    version = services.version_create(system=system, version="1.0", outcomes=OUTCOMES, actor=SYSTEM)
    services.feature_create(version=version, actor=SYSTEM, **FEATURES[0])
    services.reason_code_create(version=version, actor=SYSTEM, **REASONS[0])
    services.outcome_create(
        version=version,
        actor=SYSTEM,
        code="referred",
        adverse=False,
        label={"en": "Referred", "es": "Derivado"},
        effect={"en": "A person looks at it.", "es": "Una persona lo revisa."},
    )
    assert ReasonCode.objects.filter(version=version).count() == 1
    assert Outcome.objects.filter(version=version).count() == 3
    assert AuditEvent.objects.filter(action__startswith="version.").count() == 4
