"""decision_record: what it stores (S5, S7, S8), what it refuses (S1, S3, S6, S7) and that a refusal writes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from core.errors import ApplicationError
from core.models import AuditEvent
from decisions import access, services
from decisions.models import (
    DataContext,
    Decision,
    DecisionInput,
    DecisionReason,
    DecisionSystem,
    Explanation,
    HumanInvolvement,
    Subject,
    SubjectContact,
)
from tests.factories import (
    ApiClientFactory,
    FeatureFactory,
    ReasonCodeFactory,
    SystemVersionFactory,
    decision_payload,
    live_system,
)

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "decisions": Decision.objects.count(),
        "subjects": Subject.objects.count(),
        "contacts": SubjectContact.objects.count(),
        "inputs": DecisionInput.objects.count(),
        "reasons": DecisionReason.objects.count(),
        "explanations": Explanation.objects.count(),
        "human": HumanInvolvement.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def credit():
    return live_system()


def test_it_records_an_adverse_decision_with_inputs_reasons_explanation_and_one_audit_event(credit):
    system, version = credit
    payload = decision_payload(system, version)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    result = services.decision_record(data=payload, actor=SYSTEM)

    d = result.decision
    assert result.created is True
    assert d.adverse is True
    assert d.status == Decision.Status.PENDING_NOTICE
    assert d.effective_at is None
    assert d.public_reference.startswith("CRD-")
    assert d.version == version
    assert d.score == Decimal("512.5")
    assert (d.score_min, d.score_max, d.threshold) == (
        version.score_min,
        version.score_max,
        version.threshold,
    )
    assert d.automation == Decision.Automation.FULL
    assert d.automated_detection is True and d.automated_decision is True
    assert [row["feature"] for row in d.inputs_snapshot] == sorted(i["feature"] for i in payload["inputs"])
    assert len(d.inputs_hash) == 64
    assert d.inputs.count() == len(payload["inputs"])
    assert [(r.reason_code.code, r.rank, r.weight) for r in d.reasons.all()] == [
        ("INCOME_LOW", 1, Decimal("40")),
        ("DEBT_HIGH", 2, Decimal("30")),
    ]
    expl = Explanation.objects.get(decision=d)
    assert [r["code"] for r in expl.rationale] == ["INCOME_LOW", "DEBT_HIGH"]
    assert expl.rationale[0]["text"]["es"].startswith("Sus ingresos")
    assert expl.responsibility["contact_email"] == system.review_contact_email
    assert {row["feature"] for row in expl.data} == {i["feature"] for i in payload["inputs"]}
    assert all(row["source"] and row["as_of"] for row in expl.data)
    assert expl.performance == version.performance
    subject = d.subject
    assert subject.external_ref == payload["subject"]["external_ref"]
    assert subject.contact.email == payload["subject"]["email"]

    events = list(AuditEvent.objects.filter(id__gt=last, action__startswith="decision.").order_by("id"))
    assert [e.action for e in events] == ["decision.recorded"]
    event = events[0]
    assert event.target_id == str(d.pk)
    assert event.data["subject"] == subject.pseudonym
    assert event.data["public_reference"] == d.public_reference
    assert event.data["inputs_hash"] == d.inputs_hash
    flat = str(event.data)
    for personal in (
        payload["subject"]["name"],
        payload["subject"]["email"],
        payload["subject"]["external_ref"],
    ):
        assert personal not in flat


def test_the_access_code_is_returned_once_and_only_its_hash_is_stored(credit):
    system, version = credit
    result = services.decision_record(data=decision_payload(system, version), actor=SYSTEM)
    d = Decision.objects.get(pk=result.decision.pk)
    assert result.access_code and len(result.access_code) == 8
    assert result.access_code not in d.access_code_hash
    assert access.access_code_matches(d.access_code_hash, d.public_reference, result.access_code)
    assert not access.access_code_matches(d.access_code_hash, d.public_reference, "00000000")


def test_a_favourable_decision_takes_effect_when_recorded(credit):
    system, version = credit
    result = services.decision_record(data=decision_payload(system, version, adverse=False), actor=SYSTEM)
    d = result.decision
    assert d.adverse is False
    assert d.status == Decision.Status.EFFECTIVE
    assert d.effective_at == d.recorded_at


def test_at_level_three_an_adverse_outcome_without_a_human_decision_waits_for_one():
    system, version = live_system(impact_level=3)
    result = services.decision_record(data=decision_payload(system, version), actor=SYSTEM)
    assert result.decision.status == Decision.Status.AWAITING_HUMAN


def test_at_level_four_an_adverse_outcome_approved_by_a_person_goes_to_notice():
    system, version = live_system(impact_level=4)
    at = (timezone.now() - timedelta(minutes=1)).isoformat()
    payload = decision_payload(
        system, version, human_involvement=[{"kind": "approval", "by": "EMP-7", "at": at}]
    )
    d = services.decision_record(data=payload, actor=SYSTEM).decision
    assert d.status == Decision.Status.PENDING_NOTICE
    assert d.automation == Decision.Automation.PARTIAL
    assert list(d.human_involvement.values_list("kind", "by")) == [("approval", "EMP-7")]


def test_a_suspended_system_still_records_but_adverse_outcomes_wait_for_a_human():
    system, version = live_system(status=DecisionSystem.Status.SUSPENDED)
    adverse = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision
    favourable = services.decision_record(data=decision_payload(system, version, adverse=False), actor=SYSTEM)
    assert adverse.status == Decision.Status.AWAITING_HUMAN
    assert favourable.decision.status == Decision.Status.EFFECTIVE


@pytest.mark.parametrize(
    ("kinds", "level", "detection"),
    [
        ([], "full", True),
        (["detection"], "full", False),
        (["review"], "partial", True),
        (["detection", "approval"], "partial", False),
        (["decision"], "none", True),
    ],
)
def test_automation_flags_are_derived_from_the_recorded_human_involvement(credit, kinds, level, detection):
    system, version = credit
    at = (timezone.now() - timedelta(minutes=1)).isoformat()
    payload = decision_payload(
        system, version, human_involvement=[{"kind": k, "by": "EMP-1", "at": at} for k in kinds]
    )
    d = services.decision_record(data=payload, actor=SYSTEM).decision
    assert (d.automation, d.automated_detection, d.automated_decision) == (level, detection, level != "none")


def test_a_claimed_automation_level_that_matches_the_record_is_accepted(credit):
    system, version = credit
    at = (timezone.now() - timedelta(minutes=1)).isoformat()
    payload = decision_payload(
        system,
        version,
        automation_level="none",
        human_involvement=[{"kind": "decision", "by": "EMP-1", "at": at}],
    )
    assert services.decision_record(data=payload, actor=SYSTEM).decision.automation == "none"


def test_reasons_default_to_their_codes_feature_and_weights_may_be_left_out(credit):
    system, version = credit
    payload = decision_payload(system, version, reasons=[{"code": "LATE_PAYMENTS"}, {"code": "INCOME_LOW"}])
    d = services.decision_record(data=payload, actor=SYSTEM).decision
    assert [(r.feature.name, r.rank, r.weight) for r in d.reasons.all()] == [
        ("late_payments_12m", 1, None),
        ("annual_income", 2, None),
    ]


def test_counterfactuals_are_stored_with_the_value_they_change_from(credit):
    system, version = credit
    payload = decision_payload(
        system, version, counterfactuals=[{"feature": "annual_income", "value": 30000}]
    )
    d = services.decision_record(data=payload, actor=SYSTEM).decision
    assert d.counterfactuals == [{"feature": "annual_income", "from": 21000, "to": 30000}]
    assert d.explanation.counterfactual[0]["from"] == 21000


def test_an_existing_subject_is_reused_and_their_contact_kept_current(credit):
    system, version = credit
    first = decision_payload(system, version)
    services.decision_record(data=first, actor=SYSTEM)
    second = decision_payload(
        system, version, subject={**first["subject"], "email": "new@mail.example", "language": "es"}
    )
    d = services.decision_record(data=second, actor=SYSTEM).decision
    assert Subject.objects.count() == 1
    d.subject.refresh_from_db()
    assert d.subject.language == "es"
    assert d.subject.contact.email == "new@mail.example"


# ---------------------------------------------------------------------------------------------- refusals


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(payload: dict[str, Any]) -> None:
        target = payload
        *parents, last = path.split(".")
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return apply


def _future(payload: dict[str, Any]) -> None:
    payload["decided_at"] = (timezone.now() + timedelta(hours=1)).isoformat()


def _drop_income_input(payload: dict[str, Any]) -> None:
    payload["inputs"] = [i for i in payload["inputs"] if i["feature"] != "annual_income"]


def _duplicate_input(payload: dict[str, Any]) -> None:
    payload["inputs"].append(dict(payload["inputs"][0]))


def _unordered(payload: dict[str, Any]) -> None:
    payload["reasons"][0]["weight"], payload["reasons"][1]["weight"] = "10", "30"


def _automation_contradiction(payload: dict[str, Any]) -> None:
    at = (timezone.now() - timedelta(minutes=1)).isoformat()
    payload["human_involvement"] = [{"kind": "decision", "by": "EMP-1", "at": at}]
    payload["automation_level"] = "full"


REFUSALS = [
    # (test id, mutation, field, code)
    ("unknown system", _set("system", "no-such-system"), "system", "unknown-system"),
    ("unknown version", _set("system_version", "9.9"), "system_version", "unknown-version"),
    ("undeclared feature", _set("inputs.0.feature", "shoe_size"), "inputs.0.feature", "undeclared-feature"),
    ("adverse without reasons", _set("reasons", []), "reasons", "reasons-required"),
    ("generic reason code", _set("reasons.0.code", "OTHER"), "reasons.0.code", "generic-reason"),
    (
        "generic reason phrase",
        _set("reasons.0.code", "Does not meet our criteria"),
        "reasons.0.code",
        "generic-reason",
    ),
    (
        "reason code of another version",
        _set("reasons.0.code", "NOPE"),
        "reasons.0.code",
        "unknown-reason-code",
    ),
    ("reason at an unused input", _drop_income_input, "reasons.0.feature", "reason-feature-not-used"),
    (
        "reason at another feature than its code's",
        _set("reasons.0.feature", "debt_to_income"),
        "reasons.0.feature",
        "reason-feature-mismatch",
    ),
    ("reasons not ordered by weight", _unordered, "reasons.1.weight", "reasons-not-ordered"),
    (
        "automation contradicting the record",
        _automation_contradiction,
        "automation_level",
        "automation-contradicts-record",
    ),
    ("unknown outcome", _set("outcome", "maybe"), "outcome", "unknown-outcome"),
    ("score above the range", _set("score", "900"), "score", "score-out-of-range"),
    ("score below the range", _set("score", -1), "score", "score-out-of-range"),
    ("duplicate input feature", _duplicate_input, "inputs.4.feature", "duplicate-feature"),
    ("decided in the future", _future, "decided_at", "in-the-future"),
    ("decided_at missing", _set("decided_at", None), "decided_at", "required"),
    ("decided_at without a zone", _set("decided_at", "2026-01-01T10:00:00"), "decided_at", "naive-datetime"),
    ("value of the wrong type", _set("inputs.0.value", "lots"), "inputs.0.value", "invalid-value"),
    ("unsupported language", _set("subject.language", "fr"), "subject.language", "unsupported-language"),
    ("invalid email", _set("subject.email", "not-an-email"), "subject.email", "invalid"),
    ("no external id", _set("external_id", ""), "external_id", "required"),
    (
        "counterfactual on an immutable feature",
        _set("counterfactuals", [{"feature": "years_at_address", "value": 5}]),
        "counterfactuals.0.feature",
        "not-actionable",
    ),
    (
        "unknown human step",
        _set("human_involvement", [{"kind": "vibes", "by": "x", "at": "2026-01-01T00:00:00Z"}]),
        "human_involvement.0.kind",
        "invalid",
    ),
    ("unknown field", _set("colour", "blue"), "colour", "unknown-field"),
]


@pytest.mark.parametrize(("mutate", "field", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_it_refuses_and_writes_nothing(credit, mutate, field, code):
    system, version = credit
    payload = decision_payload(system, version)
    mutate(payload)
    before = counts()

    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=payload, actor=SYSTEM)

    assert exc.value.status == 422
    assert (field, code) in [(e["field"], e["code"]) for e in exc.value.errors], exc.value.errors
    assert counts() == before


def test_it_refuses_more_than_four_reasons(credit):
    system, version = credit
    extra = ReasonCodeFactory.create(
        version=version, feature=version.features.get(name="annual_income"), code="INCOME_IRREGULAR"
    )
    payload = decision_payload(system, version)
    payload["reasons"] = [
        {"code": c, "weight": str(w)}
        for c, w in [("INCOME_LOW", 50), ("DEBT_HIGH", 40), ("LATE_PAYMENTS", 30), ("SHORT_RESIDENCE", 20)]
    ] + [{"code": extra.code, "weight": "10"}]
    before = counts()
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=payload, actor=SYSTEM)
    assert ("reasons", "too-many-reasons") in [(e["field"], e["code"]) for e in exc.value.errors]
    assert counts() == before


def test_it_refuses_a_generic_reason_code_even_when_the_version_declares_it(credit):
    system, version = credit
    ReasonCodeFactory.create(
        version=version,
        feature=version.features.get(name="annual_income"),
        code="INSUFFICIENT_SCORE",
        text={"en": "Insufficient score.", "es": "Puntuación insuficiente."},
    )
    payload = decision_payload(system, version, reasons=[{"code": "INSUFFICIENT_SCORE"}])
    before = counts()
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=payload, actor=SYSTEM)
    assert ("reasons.0.code", "generic-reason") in [(e["field"], e["code"]) for e in exc.value.errors]
    assert counts() == before


@pytest.mark.parametrize(
    ("context", "protected", "legal_basis", "code"),
    [
        (DataContext.SOCIAL_BEHAVIOUR, False, "", "social-scoring"),
        (DataContext.CONTENT, False, "", "unrelated-context"),
        (DataContext.HEALTH, True, "Health law", "unrelated-context"),  # health is no credit context
        (DataContext.IDENTITY, True, "", "protected-without-legal-basis"),
    ],
)
def test_it_refuses_features_the_domain_may_not_use(credit, context, protected, legal_basis, code):
    system, version = credit
    FeatureFactory.create(
        version=version,
        name="questionable",
        context=context,
        protected=protected,
        legal_basis=legal_basis,
        actionable=False,
    )
    payload = decision_payload(system, version)
    payload["inputs"].append({"feature": "questionable", "value": 1, "source": "x", "as_of": None})
    before = counts()
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=payload, actor=SYSTEM)
    assert ("inputs.4.feature", code) in [(e["field"], e["code"]) for e in exc.value.errors]
    assert counts() == before


def test_a_protected_attribute_with_a_recorded_legal_basis_is_accepted(credit):
    system, version = credit
    FeatureFactory.create(
        version=version,
        name="age_band",
        data_type="category",
        context=DataContext.IDENTITY,
        protected=True,
        legal_basis="Consumer credit law requires age checks.",
        actionable=False,
    )
    payload = decision_payload(system, version)
    payload["inputs"].append({"feature": "age_band", "value": "18-25", "source": "ID", "as_of": None})
    assert services.decision_record(data=payload, actor=SYSTEM).created


def test_health_data_is_accepted_for_benefits_only_as_a_protected_attribute_with_a_basis():
    system, version = live_system(domain="public_benefits")
    FeatureFactory.create(
        version=version,
        name="disability",
        data_type="boolean",
        context=DataContext.HEALTH,
        protected=False,
        actionable=False,
    )
    payload = decision_payload(system, version)
    payload["inputs"].append({"feature": "disability", "value": True, "source": "Medical", "as_of": None})
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=payload, actor=SYSTEM)
    assert exc.value.errors[0]["code"] == "special-category-not-protected"
    version.features.filter(name="disability").update(protected=True, legal_basis="Disability benefit law")
    assert services.decision_record(data=payload, actor=SYSTEM).created


def test_it_refuses_a_system_that_has_not_gone_live():
    system, version = live_system(status=DecisionSystem.Status.DRAFT)
    before = counts()
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=decision_payload(system, version), actor=SYSTEM)
    assert exc.value.code == "system-not-live"
    assert ("system", "system-not-live") in [(e["field"], e["code"]) for e in exc.value.errors]
    assert counts() == before


def test_an_api_client_may_record_only_for_its_systems(credit):
    system, version = credit
    outsider = ApiClientFactory.create()
    before = counts()
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=decision_payload(system, version), actor=outsider)
    assert exc.value.status == 403
    assert exc.value.code == "system-not-in-scope"
    assert counts() == before

    system.api_clients.add(outsider)
    result = services.decision_record(data=decision_payload(system, version), actor=outsider)
    assert result.decision.recorded_by == outsider
    assert AuditEvent.objects.filter(action="decision.recorded", actor_type="api_client").count() == 1


# ---------------------------------------------------------------------------------------------- idempotency


def test_the_same_decision_sent_again_returns_the_recorded_one_and_writes_nothing(credit):
    system, version = credit
    payload = decision_payload(system, version)
    first = services.decision_record(data=payload, actor=SYSTEM)
    before = counts()

    again = services.decision_record(data=payload, actor=SYSTEM)

    assert again.created is False
    assert again.decision.pk == first.decision.pk
    assert again.access_code is None
    assert counts() == before


def test_a_different_decision_under_a_used_external_id_is_a_conflict(credit):
    system, version = credit
    payload = decision_payload(system, version)
    services.decision_record(data=payload, actor=SYSTEM)
    before = counts()
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data={**payload, "score": "600"}, actor=SYSTEM)
    assert exc.value.status == 409
    assert exc.value.code == "external-id-conflict"
    assert counts() == before


def test_the_same_external_id_may_be_used_by_another_system(credit):
    system, version = credit
    other, other_version = live_system()
    payload = decision_payload(system, version)
    services.decision_record(data=payload, actor=SYSTEM)
    again = decision_payload(other, other_version, external_id=payload["external_id"])
    assert services.decision_record(data=again, actor=SYSTEM).created


def test_unknown_versions_of_other_systems_are_not_confused(credit):
    system, _version = credit
    other, _ = live_system()
    SystemVersionFactory.create(system=other, version="2.0")
    payload = decision_payload(system, _version, system_version="2.0")
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=payload, actor=SYSTEM)
    assert exc.value.errors[0]["code"] == "unknown-version"


# ---------------------------------------------------------------------------------------------- scorecards

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


def test_a_scorecard_version_fills_in_the_score_reasons_and_counterfactual(credit):
    system, version = credit
    version.scorecard = CARD
    version.save()
    payload = decision_payload(system, version, score=None, reasons=[], outcome="")

    d = services.decision_record(data=payload, actor=SYSTEM).decision

    assert d.score == Decimal("300")
    assert d.outcome.code == "declined"
    assert [(r.reason_code.code, r.weight) for r in d.reasons.all()] == [
        ("INCOME_LOW", Decimal("300")),
        ("LATE_PAYMENTS", Decimal("250")),
    ]
    assert d.counterfactuals and d.counterfactuals[0]["feature"] in {"annual_income", "late_payments_12m"}


def test_a_score_that_contradicts_the_scorecard_is_refused(credit):
    system, version = credit
    version.scorecard = CARD
    version.save()
    payload = decision_payload(system, version, score="700", reasons=[], outcome="")
    with pytest.raises(ApplicationError) as exc:
        services.decision_record(data=payload, actor=SYSTEM)
    assert ("score", "score-contradicts-scorecard") in [(e["field"], e["code"]) for e in exc.value.errors]


def test_a_known_person_keeps_their_language_when_a_decision_does_not_give_one(credit):
    system, version = credit
    first = decision_payload(system, version)
    first["subject"]["language"] = "es"
    services.decision_record(data=first, actor=SYSTEM)
    second = decision_payload(system, version, subject={"external_ref": first["subject"]["external_ref"]})
    d = services.decision_record(data=second, actor=SYSTEM).decision
    d.subject.refresh_from_db()
    assert d.subject.language == "es"
    assert d.subject.contact.email == first["subject"]["email"]
    new = decision_payload(system, version, subject={"external_ref": "someone-new"})
    assert services.decision_record(data=new, actor=SYSTEM).decision.subject.language == "en"
