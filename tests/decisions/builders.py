"""Build complete decision records straight through the ORM, for the notice, explanation, effect and DSA
tests. (The recording service has its own tests; these tests are about what is made from a record.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from core.ids import pseudonym, public_reference
from decisions import access
from decisions.models import (
    Decision,
    DecisionInput,
    DecisionReason,
    DecisionSystem,
    Explanation,
    Feature,
    Outcome,
    ReasonCode,
    Subject,
    SubjectContact,
    SystemVersion,
)

DECIDED_AT = dt.datetime(2027, 3, 4, 10, 30, tzinfo=dt.UTC)

ROUTES = [
    {"kind": "ombudsman", "name": "Financial Ombudsman Service", "url": "https://ombudsman.example"},
    {"kind": "odr", "name": "Appeals Centre Europe", "url": "https://odr.example"},
    {"kind": "court", "name": "District Court of Brussels", "url": ""},
    {"kind": "regulator", "name": "Consumer Finance Authority", "url": "https://regulator.example"},
]

_DOMAINS: dict[str, dict[str, Any]] = {
    "credit": {
        "features": [
            ("payment_history_pct", {"en": "Payments made on time", "es": "Pagos hechos a tiempo"}, "%",
             "Example Credit Bureau", "credit_history", True, 82),
            ("monthly_income", {"en": "Monthly income", "es": "Ingresos al mes"}, "EUR",
             "Your application", "income", True, "2100.50"),
        ],
        "reasons": [
            ("LATE_PAYMENTS", "payment_history_pct",
             {"en": "You missed some payments in the last 12 months.",
              "es": "No pagó a tiempo algunas cuotas en los últimos 12 meses."}),
            ("LOW_INCOME", "monthly_income",
             {"en": "Your income is low compared with the limit you asked for.",
              "es": "Sus ingresos son bajos para el límite que pidió."}),
        ],
        "outcome": ("declined", {"en": "Credit limit refused", "es": "Límite de crédito denegado"},
                    {"en": "You will not get the credit limit you asked for.",
                     "es": "No tendrá el límite de crédito que pidió."}),
        "favourable": ("approved", {"en": "Credit limit approved", "es": "Límite de crédito aprobado"},
                       {"en": "You will get the credit limit you asked for.",
                        "es": "Tendrá el límite de crédito que pidió."}),
    },
    "public_benefits": {
        "features": [
            ("household_income", {"en": "Household income", "es": "Ingresos del hogar"}, "EUR",
             "Tax office", "income", True, 1900),
            ("household_size", {"en": "People in your household", "es": "Personas en su hogar"}, "",
             "Your claim", "household", True, 2),
        ],
        "reasons": [
            ("INCOME_ABOVE_LIMIT", "household_income",
             {"en": "Your household income is above the limit for this benefit.",
              "es": "Los ingresos de su hogar superan el límite de esta ayuda."}),
        ],
        "outcome": ("stopped", {"en": "Benefit stopped", "es": "Ayuda suspendida"},
                    {"en": "We will stop paying your housing benefit.",
                     "es": "Dejaremos de pagarle la ayuda para la vivienda."}),
        "favourable": ("continued", {"en": "Benefit continues", "es": "La ayuda continúa"},
                       {"en": "We will keep paying your benefit.", "es": "Seguiremos pagando su ayuda."}),
    },
    "content_moderation": {
        "features": [
            ("spam_links", {"en": "Links to sites known for spam", "es": "Enlaces a sitios de spam"}, "",
             "Link checker", "content", False, 3),
            ("posted_at", {"en": "Date the post was published", "es": "Fecha de publicación"}, "",
             "Our records", "content", False, "2027-03-01"),
        ],
        "reasons": [
            ("SPAM_LINKS", "spam_links",
             {"en": "Your post had links to sites that send spam. Our rules do not allow this.",
              "es": "Su publicación tenía enlaces a sitios de spam. Nuestras normas no lo permiten."}),
        ],
        "outcome": ("removed", {"en": "Post removed", "es": "Publicación retirada"},
                    {"en": "Other people can no longer see your post.",
                     "es": "Otras personas ya no pueden ver su publicación."}),
        "favourable": ("kept", {"en": "Post kept", "es": "Publicación mantenida"},
                       {"en": "Your post stays up.", "es": "Su publicación sigue visible."}),
        "dsa": {
            "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
            "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": "Community rules, section 3 (spam)",
            "category": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
            "content_type": ["CONTENT_TYPE_TEXT"],
            "source_type": "SOURCE_VOLUNTARY",
            "content_date_feature": "posted_at",
        },
    },
}  # fmt: skip
_DOMAINS["employment"] = {**_DOMAINS["public_benefits"]}


def make_system(domain: str = "credit", **overrides: Any) -> DecisionSystem:
    n = DecisionSystem.objects.count() + 1
    fields: dict[str, Any] = {
        "slug": f"{domain.replace('_', '-')}-{n}",
        "name": {"credit": "Credit limit", "public_benefits": "Housing benefit review"}.get(
            domain, "Post review"
        ),
        "owner_organisation": "Example Institution",
        "review_contact_name": "Review team",
        "review_contact_email": "review@institution.example",
        "review_contact_phone": "0800 123 456",
        "purpose": "Decide applications.",
        "legal_basis": "Consumer Credit Act, section 12, and your contract with us.",
        "domain": domain,
        "impact_level": 2,
        "status": DecisionSystem.Status.LIVE,
        "time_zone": "Europe/Brussels",
        "appeal_window_days": 184,
        "external_routes": ROUTES,
    }
    fields.update(overrides)
    return DecisionSystem.objects.create(**fields)


def make_version(system: DecisionSystem) -> SystemVersion:
    spec = _DOMAINS[system.domain]
    version = SystemVersion.objects.create(
        system=system,
        version="v1",
        score_min=Decimal(300),
        score_max=Decimal(850),
        threshold=Decimal(600),
        logic={"en": "Points for each input, added up.", "es": "Puntos por cada dato, sumados."},
        performance={"en": "Right 9 times out of 10 in tests.", "es": "Acierta 9 de cada 10 veces."},
        fairness={"en": "Checked every month for unfair results.", "es": "Revisado cada mes."},
    )
    for name, label, unit, source, context, actionable, _value in spec["features"]:
        Feature.objects.create(
            version=version, name=name, label=label, data_type="number", unit=unit, source=source,
            context=context, actionable=actionable,
        )  # fmt: skip
    for code, feature, text in spec["reasons"]:
        ReasonCode.objects.create(
            version=version, code=code, feature=version.features.get(name=feature), text=text
        )
    for key, adverse in (("outcome", True), ("favourable", False)):
        code, label, effect = spec[key]
        Outcome.objects.create(
            version=version, code=code, label=label, effect=effect, adverse=adverse,
            dsa=spec.get("dsa", {}) if adverse else {},
        )  # fmt: skip
    return version


def make_decision(
    system: DecisionSystem | None = None,
    *,
    domain: str = "credit",
    adverse: bool = True,
    language: str = "en",
    email: str = "ana.garcia@mail.example",
    name: str = "Ana García",
    external_ref: str | None = None,
    score: Decimal | None = Decimal("540"),
    status: str | None = None,
    automation: str = "full",
    with_explanation: bool = True,
    decided_at: dt.datetime = DECIDED_AT,
) -> tuple[Decision, str]:
    """A recorded decision with inputs, reasons and explanation. Returns it with its plaintext access code."""
    system = system or make_system(domain)
    version = system.versions.first() or make_version(system)
    spec = _DOMAINS[system.domain]
    n = Decision.objects.count() + 1
    subject = Subject.objects.create(
        system=system, external_ref=external_ref or f"CUST-{n:05d}", pseudonym=pseudonym(), language=language
    )
    SubjectContact.objects.create(subject=subject, name=name, email=email)
    outcome = version.outcomes.get(adverse=adverse)
    reference = public_reference("DEC")
    code = access.new_access_code()
    inputs = {name: value for name, *_rest, value in spec["features"]}
    decision = Decision.objects.create(
        system=system,
        version=version,
        external_id=f"ext-{n}",
        public_reference=reference,
        subject=subject,
        outcome=outcome,
        adverse=adverse,
        score=score,
        score_min=version.score_min if score is not None else None,
        score_max=version.score_max if score is not None else None,
        threshold=version.threshold,
        automation=automation,
        automated_detection=automation != "none",
        automated_decision=automation == "full",
        inputs_snapshot=inputs,
        inputs_hash="0" * 64,
        payload_hash="0" * 64,
        status=status or (Decision.Status.PENDING_NOTICE if adverse else Decision.Status.EFFECTIVE),
        decided_at=decided_at,
        recorded_at=decided_at,
        access_code_hash=access.hash_access_code(reference, code),
    )
    features = {f.name: f for f in version.features.all()}
    for fname, *_rest, value in spec["features"]:
        DecisionInput.objects.create(
            decision=decision, feature=features[fname], value=value, source=features[fname].source,
            as_of=dt.date(2027, 3, 1),
        )  # fmt: skip
    reasons = []
    if adverse:
        for rank, (code_name, fname, text) in enumerate(spec["reasons"], start=1):
            rc = version.reason_codes.get(code=code_name)
            DecisionReason.objects.create(
                decision=decision,
                reason_code=rc,
                feature=features[fname],
                rank=rank,
                weight=Decimal(10 * rank),
            )
            reasons.append(
                {"rank": rank, "code": code_name, "feature": fname, "weight": 10 * rank, "text": text}
            )
    if with_explanation:
        first = spec["features"][0]
        Explanation.objects.create(
            decision=decision,
            rationale=reasons,
            responsibility={
                "organisation": system.owner_organisation,
                "contact_name": system.review_contact_name,
                "contact_email": system.review_contact_email,
                "contact_phone": system.review_contact_phone,
            },
            data=[
                {
                    "feature": fname,
                    "label": label,
                    "value": value,
                    "unit": unit,
                    "source": source,
                    "as_of": "2027-03-01",
                }
                for fname, label, unit, source, _ctx, _act, value in spec["features"]
            ],
            counterfactual=[{"feature": first[0], "label": first[1], "from": first[6], "to": 95}]
            if adverse
            else [],
            performance=version.performance,
            fairness=version.fairness,
        )
    return decision, code
