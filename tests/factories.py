"""factory_boy factories shared by the whole suite (owned by the decisions work; others append at the end).

The quickest way to a system that can decide::

    system, version = live_system()                       # credit, level II, live, with everything declared
    payload = decision_payload(system, version)           # a valid adverse decision, JSON-ready
    payload = decision_payload(system, version, outcome="approved", reasons=[])

``live_system(domain=...)`` builds the features, reason codes (English and Spanish) and outcomes of
``DOMAIN_SPECS[domain]`` straight into the database (no service checks: tests that need a forbidden
configuration build it with the factories below). Systems made by the services are in the service tests.
Call ``SomeFactory.create(...)`` (not ``SomeFactory(...)``) where the type matters: mypy then knows it is the
model instance.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from core.models import ApiClient, User
from decisions.models import (
    DataContext,
    DecisionSystem,
    Domain,
    Feature,
    ImpactAssessment,
    ImpactLevel,
    Outcome,
    PeerReview,
    ReasonCode,
    SystemVersion,
)


def _en_es(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@institution.example")
    staff_ref = factory.LazyAttribute(lambda u: f"EMP-{u.username}")


class ApiClientFactory(DjangoModelFactory[ApiClient]):
    class Meta:
        model = ApiClient

    name = factory.Sequence(lambda n: f"Integrator {n}")
    contact_email = "integrations@institution.example"


class DecisionSystemFactory(DjangoModelFactory[DecisionSystem]):
    class Meta:
        model = DecisionSystem
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"system-{n}")
    name = factory.LazyAttribute(lambda s: f"System {s.slug}")
    owner_organisation = "Example Institution"
    review_contact_name = "Review Team"
    review_contact_email = "review@institution.example"
    review_contact_phone = "+34 900 000 000"
    purpose = "Decide on applications quickly and consistently."
    legal_basis = "Contract with the applicant (GDPR Art. 6(1)(b)); credit law."
    domain = Domain.CREDIT
    impact_level = ImpactLevel.II
    public_explanation = "A points-based model looks at the application and proposes an outcome."
    status = DecisionSystem.Status.LIVE
    went_live_at = factory.LazyFunction(timezone.now)
    external_routes = factory.LazyFunction(
        lambda: [{"kind": "ombudsman", "name": "Financial Ombudsman", "url": "https://ombudsman.example"}]
    )

    @factory.post_generation
    def api_clients(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.api_clients.add(*extracted)


class ImpactAssessmentFactory(DjangoModelFactory[ImpactAssessment]):
    class Meta:
        model = ImpactAssessment

    system = factory.SubFactory(DecisionSystemFactory)
    score = 40
    max_score = 100
    level = ImpactLevel.II
    approver = "Chief Data Officer"
    approved_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    summary = "Assessed with the AIA questionnaire."


class PeerReviewFactory(DjangoModelFactory[PeerReview]):
    class Meta:
        model = PeerReview

    system = factory.SubFactory(DecisionSystemFactory)
    reviewer = "Dr. Reviewer"
    organisation = "University Review Board"
    reviewed_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=20))
    summary = "Reviewed the model and its documentation."


class SystemVersionFactory(DjangoModelFactory[SystemVersion]):
    class Meta:
        model = SystemVersion

    system = factory.SubFactory(DecisionSystemFactory)
    version = "1.0"
    score_min = Decimal("300")
    score_max = Decimal("850")
    threshold = Decimal("600")
    higher_is_better = True
    logic = factory.LazyFunction(
        lambda: _en_es("Points for each factor are added up.", "Se suman los puntos de cada factor.")
    )
    performance = factory.LazyFunction(
        lambda: {
            "en": "Correct in 92 of 100 test cases.",
            "es": "Acierta en 92 de cada 100 casos de prueba.",
            "accuracy": 0.92,
        }
    )
    fairness = factory.LazyFunction(
        lambda: _en_es("Outcomes were compared across age groups.", "Se compararon resultados por edad.")
    )
    released_at = factory.LazyFunction(timezone.now)


class FeatureFactory(DjangoModelFactory[Feature]):
    class Meta:
        model = Feature

    version = factory.SubFactory(SystemVersionFactory)
    name = factory.Sequence(lambda n: f"feature_{n}")
    label = factory.LazyAttribute(lambda f: _en_es(f.name.replace("_", " "), f.name.replace("_", " ")))
    data_type = Feature.DataType.NUMBER
    unit = ""
    source = "Application form"
    context = DataContext.FINANCIAL
    actionable = True
    protected = False
    legal_basis = ""


class ReasonCodeFactory(DjangoModelFactory[ReasonCode]):
    class Meta:
        model = ReasonCode

    version = factory.SelfAttribute("feature.version")
    feature = factory.SubFactory(FeatureFactory)
    code = factory.Sequence(lambda n: f"REASON_{n}")
    text = factory.LazyAttribute(
        lambda r: _en_es(f"Your {r.feature.name} counted against you.", f"Su {r.feature.name} le perjudicó.")
    )


class OutcomeFactory(DjangoModelFactory[Outcome]):
    class Meta:
        model = Outcome

    version = factory.SubFactory(SystemVersionFactory)
    code = factory.Sequence(lambda n: f"outcome_{n}")
    label = factory.LazyAttribute(lambda o: _en_es(o.code, o.code))
    effect = factory.LazyFunction(lambda: _en_es("This is what happens.", "Esto es lo que pasa."))
    adverse = False


# ---------------------------------------------------------------------------------------------- builders

#: What ``live_system`` declares per domain: features (name, type, context, actionable, sample value),
#: reason codes (code, feature, English, Spanish), outcomes (code, adverse, English label, Spanish label).
DOMAIN_SPECS: dict[str, dict[str, Any]] = {
    Domain.CREDIT: {
        "features": [
            ("annual_income", Feature.DataType.NUMBER, DataContext.INCOME, True, 21000),
            ("debt_to_income", Feature.DataType.NUMBER, DataContext.FINANCIAL, True, 0.52),
            ("late_payments_12m", Feature.DataType.INTEGER, DataContext.CREDIT_HISTORY, True, 3),
            ("years_at_address", Feature.DataType.INTEGER, DataContext.IDENTITY, False, 1),
        ],
        "reasons": [
            (
                "INCOME_LOW",
                "annual_income",
                "Your income is low for this credit limit.",
                "Sus ingresos son bajos para este límite de crédito.",
            ),
            (
                "DEBT_HIGH",
                "debt_to_income",
                "Your debts are high compared with your income.",
                "Sus deudas son altas en comparación con sus ingresos.",
            ),
            (
                "LATE_PAYMENTS",
                "late_payments_12m",
                "You paid late several times in the last 12 months.",
                "Pagó tarde varias veces en los últimos 12 meses.",
            ),
            (
                "SHORT_RESIDENCE",
                "years_at_address",
                "You have lived at your address for a short time.",
                "Ha vivido poco tiempo en su domicilio.",
            ),
        ],
        "outcomes": [
            ("approved", False, "Approved", "Aprobado"),
            ("declined", True, "Declined", "Denegado"),
        ],
        "adverse": "declined",
        "favourable": "approved",
    },
    Domain.PUBLIC_BENEFITS: {
        "features": [
            ("monthly_income", Feature.DataType.NUMBER, DataContext.INCOME, True, 1900),
            ("household_size", Feature.DataType.INTEGER, DataContext.HOUSEHOLD, False, 2),
            ("claim_complete", Feature.DataType.BOOLEAN, DataContext.BENEFITS_CLAIM, True, False),
        ],
        "reasons": [
            (
                "INCOME_ABOVE_LIMIT",
                "monthly_income",
                "Your monthly income is above the limit for your household.",
                "Sus ingresos mensuales superan el límite para su hogar.",
            ),
            (
                "CLAIM_INCOMPLETE",
                "claim_complete",
                "Your claim is missing documents we asked for.",
                "A su solicitud le faltan documentos que pedimos.",
            ),
        ],
        "outcomes": [
            ("eligible", False, "Eligible", "Con derecho"),
            ("not_eligible", True, "Not eligible", "Sin derecho"),
        ],
        "adverse": "not_eligible",
        "favourable": "eligible",
    },
    Domain.CONTENT_MODERATION: {
        "features": [
            ("hate_speech_probability", Feature.DataType.NUMBER, DataContext.CONTENT, False, 0.97),
            ("prior_strikes", Feature.DataType.INTEGER, DataContext.ACCOUNT_ACTIVITY, False, 2),
        ],
        "reasons": [
            (
                "HATE_SPEECH",
                "hate_speech_probability",
                "Your post attacks people for who they are.",
                "Su publicación ataca a personas por lo que son.",
            ),
            (
                "REPEAT_STRIKES",
                "prior_strikes",
                "Your account broke the same rule before.",
                "Su cuenta incumplió la misma norma antes.",
            ),
        ],
        "outcomes": [
            ("no_action", False, "No action", "Sin medidas"),
            ("removed", True, "Post removed", "Publicación retirada"),
        ],
        "adverse": "removed",
        "favourable": "no_action",
    },
    Domain.EMPLOYMENT: {
        "features": [
            ("years_experience", Feature.DataType.INTEGER, DataContext.EMPLOYMENT, True, 1),
            ("has_required_certificate", Feature.DataType.BOOLEAN, DataContext.EDUCATION, True, False),
        ],
        "reasons": [
            (
                "EXPERIENCE_SHORT",
                "years_experience",
                "The role needs more years of experience.",
                "El puesto requiere más años de experiencia.",
            ),
            (
                "CERTIFICATE_MISSING",
                "has_required_certificate",
                "The role needs a certificate you did not list.",
                "El puesto requiere un certificado que no indicó.",
            ),
        ],
        "outcomes": [
            ("shortlisted", False, "Shortlisted", "Preseleccionado"),
            ("rejected_application", True, "Not shortlisted", "No preseleccionado"),
        ],
        "adverse": "rejected_application",
        "favourable": "shortlisted",
    },
}


def populate_version(version: SystemVersion, domain: str = Domain.CREDIT) -> SystemVersion:
    """Declare the features, reason codes and outcomes of ``DOMAIN_SPECS[domain]`` on ``version``."""
    spec = DOMAIN_SPECS[domain]
    features = {}
    for name, data_type, context, actionable, _sample in spec["features"]:
        features[name] = FeatureFactory.create(
            version=version,
            name=name,
            data_type=data_type,
            context=context,
            actionable=actionable,
            label=_en_es(name.replace("_", " ").capitalize(), name.replace("_", " ").capitalize()),
            source="Application form" if actionable else "Institution records",
        )
    for code, feature, en, es in spec["reasons"]:
        ReasonCodeFactory.create(version=version, feature=features[feature], code=code, text=_en_es(en, es))
    for code, adverse, en, es in spec["outcomes"]:
        OutcomeFactory.create(
            version=version,
            code=code,
            adverse=adverse,
            label=_en_es(en, es),
            effect=_en_es(f"{en}.", f"{es}."),
            dsa={"decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"]} if code == "removed" else {},
        )
    return version


def live_system(
    *,
    domain: str = Domain.CREDIT,
    impact_level: int = ImpactLevel.II,
    status: str = DecisionSystem.Status.LIVE,
    api_clients: list[ApiClient] | None = None,
    version: str = "1.0",
    **system_fields: Any,
) -> tuple[DecisionSystem, SystemVersion]:
    """A complete system (live by default) with one fully declared version, its assessment and reviews."""
    system = DecisionSystemFactory.create(
        domain=domain,
        impact_level=impact_level,
        status=status,
        went_live_at=timezone.now() if status != DecisionSystem.Status.DRAFT else None,
        api_clients=api_clients or [],
        **system_fields,
    )
    score = {1: 20, 2: 40, 3: 60, 4: 90}[int(impact_level)]
    ImpactAssessmentFactory.create(system=system, score=score, max_score=100, level=impact_level)
    for _ in range({1: 0, 2: 1, 3: 1, 4: 2}[int(impact_level)]):
        PeerReviewFactory.create(system=system)
    sv = SystemVersionFactory.create(system=system, version=version)
    populate_version(sv, domain)
    return system, sv


_external_ids = itertools.count(1)


def decision_payload(
    system: DecisionSystem, version: SystemVersion, /, *, adverse: bool = True, **overrides: Any
) -> dict[str, Any]:
    """A valid decision for ``system``/``version`` in the API contract, JSON-ready (strings for times).

    Adverse by default, with the two heaviest reasons of the domain; ``adverse=False`` gives the favourable
    outcome with no reasons. ``overrides`` replace top-level keys.
    """
    spec = DOMAIN_SPECS[system.domain]
    n = next(_external_ids)
    now = timezone.now()
    inputs = [
        {
            "feature": name,
            "value": sample,
            "source": "Application form" if actionable else "Institution records",
            "as_of": (now.date() - timedelta(days=3)).isoformat(),
        }
        for name, _t, _c, actionable, sample in spec["features"]
    ]
    reasons = [
        {"code": code, "feature": feature, "weight": str(Decimal(40 - 10 * i))}
        for i, (code, feature, _en, _es) in enumerate(spec["reasons"][:2])
    ]
    payload: dict[str, Any] = {
        "system": system.slug,
        "system_version": version.version,
        "external_id": f"app-{n:06d}",
        "subject": {
            "external_ref": f"cust-{n:06d}",
            "name": f"Person {n}",
            "email": f"person{n}@mail.example",
            "language": "en",
        },
        "outcome": spec["adverse"] if adverse else spec["favourable"],
        "score": "512.5" if system.domain == Domain.CREDIT else None,
        "inputs": inputs,
        "reasons": reasons if adverse else [],
        "counterfactuals": [],
        "human_involvement": [],
        "decided_at": (now - timedelta(minutes=5)).isoformat(),
    }
    payload.update(overrides)
    return payload


# ---------------------------------------------------------------------------------------------- appeals


def reviewer(
    username: str | None = None, *, senior: bool = False, staff_ref: str | None = None, **fields: Any
) -> User:
    """A staff user in the reviewer group (and the senior reviewer group with ``senior=True``)."""
    from django.contrib.auth.models import Group

    user = UserFactory.create(**({"username": username} if username else {}), **fields)
    if staff_ref is not None:
        user.staff_ref = staff_ref
        user.save(update_fields=["staff_ref"])
    names = ["reviewer", "senior reviewer"] if senior else ["reviewer"]
    user.groups.add(*(Group.objects.get_or_create(name=n)[0] for n in names))
    return user


def recorded_decision(system: DecisionSystem, version: SystemVersion, /, **overrides: Any) -> Any:
    """A decision recorded through ``decisions.services.decision_record`` (adverse by default)."""
    from core.actors import SYSTEM
    from decisions.services import decision_record

    client = overrides.pop("client", None)
    result = decision_record(
        data=decision_payload(system, version, **overrides), actor=client or SYSTEM, client=client
    )
    return result.decision
