"""The demo house: three live decision systems, their decisions, and staff logins (``manage.py seed_demo``).

Everything is built through the services (``decisions.services``, ``core.apikeys``), so the demo passes the
same checks (S1-S9) as any institution's data, and leaves the same audit trail. The three systems use the
built-in scorecards (``decisions.scorecards``): their scores, reasons and counterfactuals are the engine's.

Idempotent: every step looks for what it would create and skips what exists. Decisions have fixed external
ids (``<slug>-0001``...) and are drawn from ``random.Random`` seeded per item, so item 17 is the same person
with the same inputs whatever the scale and however often the command runs; decision times are relative
to the first run (the demo should look recent), and public references are given once and kept.

The organisations, people and addresses are invented; every email address is at example.org.
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core import audit
from core.actors import Actor
from core.models import ApiClient, User
from decisions import services as svc
from decisions.models import (
    DataContext,
    Decision,
    DecisionSystem,
    Domain,
    Feature,
    ImpactLevel,
    SystemVersion,
)
from decisions.scorecards import Scorecard, ScoreResult, to_json_number

ACTOR = Actor.system("seed_demo")
BATCH = 250
VERSION = "2026.1"

# ----------------------------------------------------------------------------------------- staff logins

GROUPS = ("reviewer", "senior reviewer", "auditor", "admin")


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    groups: tuple[str, ...]
    first_name: str
    last_name: str
    staff_ref: str
    superuser: bool = False


USERS = (
    DemoUser("admin", "admin-demo-pass", ("admin",), "Ada", "Admin", "STAFF-ADM-01", superuser=True),
    DemoUser("reviewer", "reviewer-demo-pass", ("reviewer",), "Rui", "Reviewer", "STAFF-REV-01"),
    DemoUser("senior", "senior-demo-pass", ("senior reviewer", "reviewer"), "Sena", "Senior", "STAFF-SEN-01"),
    DemoUser("auditor", "auditor-demo-pass", ("auditor",), "Aud", "Auditor", "STAFF-AUD-01"),
)


# ----------------------------------------------------------------------------------------- the systems


def _t(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


def _feature(
    name: str,
    data_type: str,
    label: dict[str, str],
    source: str,
    context: str,
    *,
    unit: str = "",
    actionable: bool = False,
    protected: bool = False,
    legal_basis: str = "",
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "data_type": data_type,
        "unit": unit,
        "source": source,
        "context": context,
        "actionable": actionable,
        "protected": protected,
        "legal_basis": legal_basis,
    }


def _numeric(
    name: str,
    cuts: list[Any],
    points: list[int],
    labels: list[str],
    *,
    reason: str | None = None,
    band_reasons: list[str | None] | None = None,
    actionable: bool = False,
    step: str | None = None,
) -> dict[str, Any]:
    """A numeric scorecard feature (decisions.scorecards schema) from its cut points: ``cuts[j]`` is the
    ``max`` of band j and the ``min`` of band j + 1, so the bands cover every number without gaps."""
    bands: list[dict[str, Any]] = []
    for j, pts in enumerate(points):
        band: dict[str, Any] = {}
        if j > 0:
            band["min"] = cuts[j - 1]
        if j < len(cuts):
            band["max"] = cuts[j]
        band["points"] = pts
        if band_reasons and band_reasons[j]:
            band["reason"] = band_reasons[j]
        band["label"] = labels[j]
        bands.append(band)
    feature: dict[str, Any] = {"name": name, "kind": "numeric", "actionable": actionable}
    if step is not None:
        feature["step"] = step
    if reason is not None:
        feature["reason"] = reason
    feature["bands"] = bands
    return feature


def _reason(code: str, feature: str, en: str, es: str) -> dict[str, Any]:
    return {"code": code, "feature": feature, "text": _t(en, es)}


def _outcome(
    code: str, adverse: bool, label: dict[str, str], effect: dict[str, str], **dsa: Any
) -> dict[str, Any]:
    return {"code": code, "adverse": adverse, "label": label, "effect": effect, "dsa": dsa}


@dataclass(frozen=True)
class DemoSystem:
    """One demo system: what ``system_create`` and ``version_create`` get, and how its cases are drawn."""

    slug: str
    system: dict[str, Any]
    version: dict[str, Any]  # logic, performance, fairness (en/es)
    features: list[dict[str, Any]]
    reason_codes: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    scorecard: dict[str, Any]
    assessment: dict[str, Any]
    peer_reviews: list[dict[str, Any]]
    decisions: int  # at scale 1
    subject_prefix: str
    hours_back: int  # decisions are spread over this many hours before the first run
    draw_inputs: Callable[[random.Random], dict[str, Any]]
    # Recorded human steps (S7) for a case: (kind, staff reference, minutes before the decision).
    draw_human: Callable[[random.Random, ScoreResult], list[tuple[str, str, int]]] = field(
        default=lambda rng, result: []
    )
    repeat_subjects: float = 0.0  # share of cases about a person met earlier (repeat accounts)


C = DataContext
T = Feature.DataType

# ---- credit-limit ---------------------------------------------------------------------------------------

CREDIT_SOURCE_BUREAU = "Credit reference agency report (Clearview Credit Data)"
CREDIT_SOURCE_APPLICATION = "Your application form"

CREDIT_CARD: dict[str, Any] = {
    "description": "Credit card limit applications. 300 to 850; 620 or more gets the limit asked for.",
    "base": 300,
    "threshold": 620,
    "score_min": 300,
    "score_max": 850,
    "higher_is_better": True,
    "outcomes": {
        "pass": "limit_granted",
        "fail": "lower_limit_offered",
        "fail_tiers": [{"score": 540, "outcome": "declined"}],
    },
    "features": [
        _numeric(
            "payment_history_pct", [80, 95], [0, 70, 140], ["below 80%", "80% to 94%", "95% or more"],
            band_reasons=["MISSED_PAYMENTS", "SOME_LATE_PAYMENTS", None], actionable=True,
        ),
        _numeric(
            "credit_utilisation_pct", [30, 50, 75], [120, 80, 30, 0],
            ["below 30%", "30% to 49%", "50% to 74%", "75% or more"],
            reason="HIGH_CREDIT_USE", actionable=True,
        ),
        _numeric(
            "debt_to_income_pct", [20, 36, 50], [110, 70, 30, 0],
            ["below 20%", "20% to 35%", "36% to 49%", "50% or more"],
            reason="HIGH_DEBT_PAYMENTS", actionable=True,
        ),
        _numeric(
            "months_at_address", [12, 36], [0, 30, 50], ["under a year", "1 to 3 years", "3 years or more"],
            reason="SHORT_TIME_AT_ADDRESS",
        ),
        _numeric(
            "hard_inquiries_12m", [1, 3], [60, 30, 0], ["none", "1 or 2", "3 or more"],
            reason="MANY_CREDIT_APPLICATIONS", actionable=True,
        ),
        _numeric(
            "credit_history_months", [24, 84], [0, 40, 70],
            ["under 2 years", "2 to 7 years", "7 years or more"],
            reason="SHORT_CREDIT_HISTORY",
        ),
    ],
}  # fmt: skip


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _draw_credit(rng: random.Random) -> dict[str, Any]:
    q = rng.gauss(0, 1)  # how well the person is doing with credit; the features move together
    return {
        "payment_history_pct": round(_clamp(93 + 5 * q + rng.gauss(0, 4), 45, 100)),
        "credit_utilisation_pct": round(_clamp(42 - 18 * q + rng.gauss(0, 14), 0, 100)),
        "debt_to_income_pct": round(_clamp(30 - 9 * q + rng.gauss(0, 9), 2, 85)),
        "months_at_address": round(_clamp(rng.expovariate(1 / 45), 1, 360)),
        "hard_inquiries_12m": round(_clamp(rng.gauss(1.4 - 0.9 * q, 1.1), 0, 9)),
        "credit_history_months": round(_clamp(rng.gauss(95 + 30 * q, 55), 3, 480)),
    }


CREDIT = DemoSystem(
    slug="credit-limit",
    system={
        "name": "Credit card limit decisions",
        "owner_organisation": "Northwind Bank (demo)",
        "review_contact_name": "Credit Decisions Review Team",
        "review_contact_email": "credit-review@example.org",
        "review_contact_phone": "+44 20 7946 0000",
        "purpose": "Decide the credit limit on applications for a Northwind credit card.",
        "legal_basis": "Pre-contractual steps at the applicant's request (GDPR Art. 6(1)(b)); "
        "creditworthiness assessment required by the Consumer Credit Directive (EU) 2023/2225, Art. 18.",
        "domain": Domain.CREDIT,
        "impact_level": ImpactLevel.II,
        "public_explanation": "We use a points scorecard to decide the credit limit on card applications. "
        "Six facts from your application and your credit report each give points; the points add up to "
        "a score from 300 to 850. With 620 or more you get the limit you asked for. From 540 to 619 we "
        "offer a lower limit. Below 540 we say no. You can ask a person to look at any decision.",
        "time_zone": "Europe/London",
        "appeal_window_days": 60,
        "notice_due_days": 30,
        "stay_on_appeal": True,
        "review_due_days": 30,
        "external_routes": [
            {
                "kind": "ombudsman",
                "name": "Financial Ombudsman Service (demo)",
                "url": "https://ombudsman.example.org/",
            },
            {
                "kind": "odr",
                "name": "Consumer Credit Dispute Board (demo)",
                "url": "https://credit-adr.example.org/",
            },
            {
                "kind": "court",
                "name": "County Court, small claims track (demo)",
                "url": "https://courts.example.org/",
            },
        ],
    },
    version={
        "logic": _t(
            "Six facts give points. They are: how often you paid on time, how much of your credit you use, "
            "and your debt payments next to your income. Also how long you have lived at your address, how "
            "often you asked for credit this year, and how old your oldest account is. We add the points "
            "to 300. With 620 or more you get the limit you asked for.",
            "Cada uno de seis datos da puntos: cuántas veces pagó a tiempo, cuánto de su crédito usa, sus "
            "pagos de deudas comparados con sus ingresos, cuánto tiempo lleva en su dirección, cuántas veces "
            "pidió crédito este año y la antigüedad de su cuenta más antigua. Sumamos los puntos a 300. Con "
            "620 o más recibe el límite que pidió.",
        ),
        "performance": _t(
            "We tested the scorecard on 48,000 past applications from 2023 and 2024. It said yes to 3 in "
            "100 people who later fell more than 3 months behind (wrong yes). It said no to 9 in 100 people "
            "who went on to pay on time (wrong no). We check these figures every 3 months.",
            "Probamos la tabla de puntos con 48.000 solicitudes de 2023 y 2024. Dijo que sí a 3 de cada 100 "
            "personas que luego se retrasaron más de 3 meses (sí equivocado). Dijo que no a 9 de cada 100 "
            "personas que sí pagaron a tiempo (no equivocado). Revisamos estas cifras cada 3 meses.",
        ),
        "fairness": _t(
            "The scorecard does not use your sex, age, nationality, religion or where you were born. Every 3 "
            "months we compare how often women and men, and younger and older people, get a yes. The group "
            "with the fewest yes answers gets 0.91 times as many as the group with the most. We act if this "
            "falls below 0.80.",
            "La tabla de puntos no usa su sexo, edad, nacionalidad, religión ni lugar de nacimiento. Cada 3 "
            "meses comparamos cuántas veces reciben un sí las mujeres y los hombres, y las personas más "
            "jóvenes y mayores. El grupo con menos síes recibe 0,91 veces los del grupo con más. Actuamos si "
            "baja de 0,80.",
        ),
    },
    features=[
        _feature(
            "payment_history_pct",
            T.NUMBER,
            _t("Payments made on time in the last 2 years", "Pagos hechos a tiempo en los últimos 2 años"),
            CREDIT_SOURCE_BUREAU,
            C.CREDIT_HISTORY,
            unit="%",
            actionable=True,
        ),
        _feature(
            "credit_utilisation_pct",
            T.NUMBER,
            _t(
                "Share of your credit limits you are using", "Parte de sus límites de crédito que está usando"
            ),
            CREDIT_SOURCE_BUREAU,
            C.CREDIT_HISTORY,
            unit="%",
            actionable=True,
        ),
        _feature(
            "debt_to_income_pct",
            T.NUMBER,
            _t(
                "Monthly debt payments as a share of monthly income",
                "Pagos mensuales de deudas como parte de sus ingresos del mes",
            ),
            "Your application form and payslips",
            C.INCOME,
            unit="%",
            actionable=True,
        ),
        _feature(
            "months_at_address",
            T.INTEGER,
            _t("Months at your current address", "Meses en su dirección actual"),
            CREDIT_SOURCE_APPLICATION,
            C.IDENTITY,
            unit="months",
        ),
        _feature(
            "hard_inquiries_12m",
            T.INTEGER,
            _t(
                "Times you applied for credit in the last 12 months",
                "Veces que pidió crédito en los últimos 12 meses",
            ),
            CREDIT_SOURCE_BUREAU,
            C.CREDIT_HISTORY,
            actionable=True,
        ),
        _feature(
            "credit_history_months",
            T.INTEGER,
            _t("Age of your oldest credit account", "Antigüedad de su cuenta de crédito más antigua"),
            CREDIT_SOURCE_BUREAU,
            C.CREDIT_HISTORY,
            unit="months",
        ),
    ],
    reason_codes=[
        _reason(
            "MISSED_PAYMENTS",
            "payment_history_pct",
            "More than 1 in 5 of your payments in the last 2 years were late or missed.",
            "Más de 1 de cada 5 de sus pagos de los últimos 2 años se hicieron tarde o no se hicieron.",
        ),
        _reason(
            "SOME_LATE_PAYMENTS",
            "payment_history_pct",
            "Some of your payments in the last 2 years were late.",
            "Algunos de sus pagos de los últimos 2 años se hicieron tarde.",
        ),
        _reason(
            "HIGH_CREDIT_USE",
            "credit_utilisation_pct",
            "You are using a large part of the credit you already have.",
            "Está usando una gran parte del crédito que ya tiene.",
        ),
        _reason(
            "HIGH_DEBT_PAYMENTS",
            "debt_to_income_pct",
            "Your monthly debt payments take up a large part of your income.",
            "Sus pagos mensuales de deudas se llevan una gran parte de sus ingresos.",
        ),
        _reason(
            "SHORT_TIME_AT_ADDRESS",
            "months_at_address",
            "You have lived at your current address for less than 3 years.",
            "Lleva menos de 3 años viviendo en su dirección actual.",
        ),
        _reason(
            "MANY_CREDIT_APPLICATIONS",
            "hard_inquiries_12m",
            "You applied for credit at least once in the last 12 months.",
            "Pidió crédito por lo menos una vez en los últimos 12 meses.",
        ),
        _reason(
            "SHORT_CREDIT_HISTORY",
            "credit_history_months",
            "Your oldest credit account is less than 7 years old.",
            "Su cuenta de crédito más antigua tiene menos de 7 años.",
        ),
    ],
    outcomes=[
        _outcome(
            "limit_granted",
            False,
            _t("Credit limit approved", "Límite de crédito aprobado"),
            _t(
                "You get the credit card with the limit you asked for.",
                "Recibe la tarjeta de crédito con el límite que pidió.",
            ),
        ),
        _outcome(
            "lower_limit_offered",
            True,
            _t("Lower credit limit offered", "Le ofrecemos un límite de crédito más bajo"),
            _t(
                "We can give you the card, but with a lower limit than you asked for. Nothing changes "
                "until you say yes to the offer.",
                "Podemos darle la tarjeta, pero con un límite más bajo del que pidió. Nada cambia hasta "
                "que usted acepte la oferta.",
            ),
        ),
        _outcome(
            "declined",
            True,
            _t("Credit card not offered", "No le ofrecemos la tarjeta de crédito"),
            _t(
                "We will not give you the credit card you applied for. Your other accounts with us do "
                "not change.",
                "No le daremos la tarjeta de crédito que pidió. Sus otras cuentas con nosotros no cambian.",
            ),
        ),
    ],
    scorecard=CREDIT_CARD,
    assessment={
        "score": 38,
        "max_score": 100,
        "approver": "Priya Natarajan, Chief Risk Officer (demo)",
        "approved_on": date(2026, 1, 12),
        "summary": "Moderate impact: decisions are reversible, a person reviews any appeal, and the "
        "scorecard is fully transparent.",
    },
    peer_reviews=[
        {
            "reviewer": "Dr Tomasz Wójcik (demo)",
            "organisation": "Institute for Fair Lending Research (demo)",
            "reviewed_on": date(2026, 1, 20),
            "summary": "Checked the bands against 2023-2024 repayment data and the reason texts for clarity.",
        }
    ],
    decisions=300,
    subject_prefix="CUST",
    hours_back=14 * 24,
    draw_inputs=_draw_credit,
)

# ---- benefit-eligibility --------------------------------------------------------------------------------

BENEFIT_CARD: dict[str, Any] = {
    "description": "Housing support claims. 0 to 100 points; 60 or more gets full support.",
    "base": 0,
    "threshold": 60,
    "score_min": 0,
    "score_max": 100,
    "higher_is_better": True,
    "outcomes": {
        "pass": "full_support",
        "fail": "partial_support",
        "fail_tiers": [{"score": 40, "outcome": "not_eligible"}],
    },
    "features": [
        _numeric(
            "income_vs_limit_pct", [80, 100, 120], [40, 25, 10, 0],
            ["below 80% of the limit", "80% to 99%", "100% to 119%", "120% or more"],
            band_reasons=[None, "INCOME_NEAR_LIMIT", "INCOME_ABOVE_LIMIT", "INCOME_ABOVE_LIMIT"],
        ),
        _numeric(
            "household_size", [2, 4], [5, 10, 15], ["1 person", "2 or 3 people", "4 or more people"],
            reason="SMALL_HOUSEHOLD",
        ),
        _numeric(
            "residence_months", [6, 12], [0, 10, 20], ["under 6 months", "6 to 11 months", "a year or more"],
            reason="SHORT_RESIDENCE",
        ),
        {
            "name": "documents_provided",
            "kind": "category",
            "actionable": True,
            "reason": "DOCUMENTS_MISSING",
            "bands": [
                {"values": ["all"], "points": 20},
                {"values": ["some"], "points": 8},
                {"values": ["none"], "points": 0},
            ],
        },
        {
            "name": "disability_recognised",
            "kind": "category",
            "protected": True,
            "reason": "NO_DISABILITY_SUPPLEMENT",
            "bands": [{"values": [True], "points": 5}, {"values": [False], "points": 0}],
        },
    ],
}  # fmt: skip


def _draw_benefits(rng: random.Random) -> dict[str, Any]:
    return {
        "income_vs_limit_pct": round(_clamp(rng.gauss(88, 24), 15, 190)),
        "household_size": rng.choices([1, 2, 3, 4, 5, 6], weights=[30, 25, 20, 15, 7, 3])[0],
        "residence_months": rng.choice(
            [rng.randint(1, 5), rng.randint(6, 11), rng.randint(12, 240), rng.randint(12, 240)]
        ),
        "documents_provided": rng.choices(["all", "some", "none"], weights=[60, 28, 12])[0],
        "disability_recognised": rng.random() < 0.15,
    }


CASEWORKERS = ("CW-0114", "CW-0178", "CW-0231", "CW-0307")


def _human_benefits(rng: random.Random, result: ScoreResult) -> list[tuple[str, str, int]]:
    """Level III: an adverse outcome takes effect only once a caseworker approves it (S2). Most are
    approved at once; the rest wait in the demo for a person."""
    if result.adverse_side and rng.random() < 0.75:
        return [("approval", rng.choice(CASEWORKERS), rng.randint(5, 90))]
    return []


BENEFITS = DemoSystem(
    slug="benefit-eligibility",
    system={
        "name": "Housing support eligibility",
        "owner_organisation": "Riverside City Council, Social Services (demo)",
        "review_contact_name": "Housing Support Reviews Office",
        "review_contact_email": "housing-reviews@example.org",
        "review_contact_phone": "+34 910 000 000",
        "purpose": "Decide whether a household gets full, partial or no housing support.",
        "legal_basis": "Housing Support Act (demo), sections 4 to 9; public task (GDPR Art. 6(1)(e)). The "
        "disability supplement is paid under section 12, with health data processed under GDPR Art. 9(2)(b).",
        "domain": Domain.PUBLIC_BENEFITS,
        "impact_level": ImpactLevel.III,
        "public_explanation": "We use a points card to decide housing support claims. Your household "
        "income, the size of your household, how long you have lived in the city, the papers you sent, "
        "and a recognised disability give points, from 0 to 100. With 60 or more you get full support; "
        "from 40 to 59 you get part of it; below 40 you get none. A caseworker checks every decision "
        "that lowers or stops support before it takes effect. If you appeal in time, your support keeps "
        "being paid until a person decides your appeal.",
        "time_zone": "Europe/Madrid",
        "appeal_window_days": 90,
        "notice_due_days": 15,
        "notice_period_days": 10,
        "stay_on_appeal": True,
        "oral_hearing_allowed": True,
        "blind_review": True,
        "review_due_days": 30,
        "external_routes": [
            {
                "kind": "ombudsman",
                "name": "Public Services Ombudsman (demo)",
                "url": "https://public-ombudsman.example.org/",
            },
            {
                "kind": "odr",
                "name": "Independent Benefits Review Panel (demo)",
                "url": "https://benefits-panel.example.org/",
            },
            {
                "kind": "court",
                "name": "Administrative Court (demo)",
                "url": "https://courts.example.org/administrative",
            },
        ],
    },
    version={
        "logic": _t(
            "Five facts give points. Household income below 80% of the limit gives 40 points. A bigger "
            "household gives up to 15 points. Living in the city for a year or more gives 20 points. "
            "Sending all the papers we ask for gives 20 points. A recognised disability gives 5 extra "
            "points. With 60 points or more you get full support.",
            "Cinco datos dan puntos. Unos ingresos del hogar por debajo del 80 % del límite dan 40 puntos. "
            "Un hogar más grande da hasta 15 puntos. Vivir en la ciudad un año o más da 20 puntos. Enviar "
            "todos los papeles que pedimos da 20 puntos. Una discapacidad reconocida da 5 puntos más. Con 60 "
            "puntos o más recibe la ayuda completa.",
        ),
        "performance": _t(
            "We checked the card against 6,200 claims that staff decided by hand in 2025. The card gave "
            "less support than staff did in 4 in 100 claims. It gave more in 2 in 100. A caseworker checks "
            "every decision that lowers or stops support.",
            "Comparamos la tabla con 6.200 solicitudes que el personal decidió a mano en 2025. La tabla dio "
            "menos ayuda que el personal en 4 de cada 100 solicitudes, y más ayuda en 2 de cada 100. Una "
            "persona revisa cada decisión que baja o quita la ayuda.",
        ),
        "fairness": _t(
            "The card does not use nationality, sex, religion or ethnic origin. Each month we compare "
            "results for men and women, for people born here and elsewhere, and by district. Last quarter "
            "no group got full support less than 0.88 times as often as the group with the most. We act "
            "below 0.80.",
            "La tabla no usa nacionalidad, sexo, religión ni origen étnico. Cada mes comparamos los "
            "resultados de hombres y mujeres, de personas nacidas aquí y fuera, y por barrio. El último "
            "trimestre ningún grupo recibió la ayuda completa menos de 0,88 veces que el grupo con más. "
            "Actuamos por debajo de 0,80.",
        ),
    },
    features=[
        _feature(
            "income_vs_limit_pct",
            T.NUMBER,
            _t(
                "Household income as a share of the income limit",
                "Ingresos del hogar como parte del límite de ingresos",
            ),
            "Tax office income record",
            C.INCOME,
            unit="%",
        ),
        _feature(
            "household_size",
            T.INTEGER,
            _t("People in your household", "Personas en su hogar"),
            "Your claim form",
            C.HOUSEHOLD,
            unit="people",
        ),
        _feature(
            "residence_months",
            T.INTEGER,
            _t("Months living in the city", "Meses viviendo en la ciudad"),
            "City residents register",
            C.IDENTITY,
            unit="months",
        ),
        _feature(
            "documents_provided",
            T.CATEGORY,
            _t("Papers you sent with your claim", "Papeles que envió con su solicitud"),
            "Your claim file",
            C.BENEFITS_CLAIM,
            actionable=True,
        ),
        _feature(
            "disability_recognised",
            T.BOOLEAN,
            _t("Recognised disability", "Discapacidad reconocida"),
            "Disability Assessment Office",
            C.HEALTH,
            protected=True,
            legal_basis="Housing Support Act (demo) s.12 disability supplement; GDPR Art. 9(2)(b).",
        ),
    ],
    reason_codes=[
        _reason(
            "INCOME_ABOVE_LIMIT",
            "income_vs_limit_pct",
            "Your household income is over the limit for this support.",
            "Los ingresos de su hogar son más altos que el límite de ingresos para esta ayuda.",
        ),
        _reason(
            "INCOME_NEAR_LIMIT",
            "income_vs_limit_pct",
            "Your household income is close to the limit for this support.",
            "Los ingresos de su hogar están cerca del límite de ingresos para esta ayuda.",
        ),
        _reason(
            "SMALL_HOUSEHOLD",
            "household_size",
            "Households of 4 or more people get the most points. Your household is smaller.",
            "Los hogares de 4 o más personas reciben más puntos. Su hogar es más pequeño.",
        ),
        _reason(
            "SHORT_RESIDENCE",
            "residence_months",
            "You have lived in the city for less than 12 months.",
            "Lleva menos de 12 meses viviendo en la ciudad.",
        ),
        _reason(
            "DOCUMENTS_MISSING",
            "documents_provided",
            "We did not get all the papers we asked for, such as proof of rent.",
            "No recibimos todos los papeles que pedimos, como el comprobante del alquiler.",
        ),
        _reason(
            "NO_DISABILITY_SUPPLEMENT",
            "disability_recognised",
            "People with a disability on record get 5 extra points. You did not get these points.",
            "No recibe los 5 puntos extra que se dan por una discapacidad reconocida.",
        ),
    ],
    outcomes=[
        _outcome(
            "full_support",
            False,
            _t("Full housing support", "Ayuda completa para la vivienda"),
            _t(
                "You get the full monthly housing support.",
                "Recibe la ayuda mensual completa para la vivienda.",
            ),
        ),
        _outcome(
            "partial_support",
            True,
            _t("Part of the housing support", "Parte de la ayuda para la vivienda"),
            _t(
                "You get half of the monthly housing support.",
                "Recibe la mitad de la ayuda mensual para la vivienda.",
            ),
        ),
        _outcome(
            "not_eligible",
            True,
            _t("No housing support", "Sin ayuda para la vivienda"),
            _t(
                "You will not get housing support. If you get it now, the payments stop.",
                "No recibirá ayuda para la vivienda. Si la recibe ahora, los pagos se paran.",
            ),
        ),
    ],
    scorecard=BENEFIT_CARD,
    assessment={
        "score": 61,
        "max_score": 100,
        "approver": "Marta Ibáñez Ruiz, Director of Social Services (demo)",
        "approved_on": date(2026, 2, 2),
        "summary": "High impact: housing support is essential to the people who claim it. A caseworker "
        "approves every adverse outcome; payments continue during appeals.",
    },
    peer_reviews=[
        {
            "reviewer": "Prof. Amara Okafor (demo)",
            "organisation": "Centre for Administrative Justice (demo)",
            "reviewed_on": date(2026, 2, 10),
            "summary": "Reviewed the points card against the Act, the notices for plain language, and the "
            "appeal route; recommended the stay of payments pending appeal, now in place.",
        }
    ],
    decisions=200,
    subject_prefix="CLAIM",
    hours_back=12 * 24,
    draw_inputs=_draw_benefits,
    draw_human=_human_benefits,
)

# ---- content-moderation ---------------------------------------------------------------------------------

CONTENT_CARD: dict[str, Any] = {
    "description": "Posts flagged for review. 0 to 100 risk points; 40 or more restricts, 70 removes, "
    "90 suspends the account.",
    "base": 0,
    "threshold": 40,
    "score_min": 0,
    "score_max": 100,
    "higher_is_better": False,
    "outcomes": {
        "pass": "no_action",
        "fail": "visibility_restricted",
        "fail_tiers": [
            {"score": 70, "outcome": "removed"},
            {"score": 90, "outcome": "account_suspended"},
        ],
    },
    "features": [
        _numeric(
            "hate_speech_score", ["0.5", "0.8"], [0, 30, 50], ["below 0.50", "0.50 to 0.79", "0.80 or more"],
            reason="HATE_SPEECH_CLASSIFIER", step="0.01",
        ),
        _numeric(
            "spam_links", [1, 3], [0, 10, 20], ["none", "1 or 2", "3 or more"],
            reason="SPAM_LINKS", actionable=True,
        ),
        _numeric(
            "repeat_violations_90d", [1, 3], [0, 10, 20], ["none", "1 or 2", "3 or more"],
            reason="REPEAT_VIOLATIONS",
        ),
        _numeric(
            "user_reports", [3, 10], [0, 5, 10], ["fewer than 3", "3 to 9", "10 or more"],
            reason="MANY_USER_REPORTS",
        ),
    ],
}  # fmt: skip


def _pick(rng: random.Random, options: list[tuple[int, int]], weights: list[int]) -> int:
    """A count drawn from one of the ``(low, high)`` ranges, chosen by ``weights``."""
    low, high = rng.choices(options, weights=weights)[0]
    return rng.randint(low, high)


def _draw_content(rng: random.Random) -> dict[str, Any]:
    kind = rng.choices(["low", "mid", "high"], weights=[40, 32, 28])[0]
    lo, hi = {"low": (0.02, 0.49), "mid": (0.5, 0.79), "high": (0.8, 0.99)}[kind]
    # Accounts that post hateful content tend to have broken the rules before.
    repeat_weights = {"low": [70, 25, 5], "mid": [50, 35, 15], "high": [30, 40, 30]}[kind]
    return {
        "hate_speech_score": round(rng.uniform(lo, hi), 2),
        "spam_links": _pick(rng, [(0, 0), (1, 2), (3, 8)], [62, 22, 16]),
        "repeat_violations_90d": _pick(rng, [(0, 0), (1, 2), (3, 6)], repeat_weights),
        "user_reports": _pick(rng, [(0, 2), (3, 9), (10, 60)], [50, 35, 15]),
    }


MODERATORS = ("MOD-017", "MOD-022", "MOD-041", "MOD-056", "MOD-073")


def _human_content(rng: random.Random, result: ScoreResult) -> list[tuple[str, str, int]]:
    """Who was involved varies, so the automation flags (S7) vary: some posts a moderator found, some
    adverse outcomes a moderator reviewed, a few a moderator decided."""
    steps: list[tuple[str, str, int]] = []
    if rng.random() < 0.3:
        steps.append(("detection", rng.choice(MODERATORS), rng.randint(60, 360)))
    if result.adverse_side:
        roll = rng.random()
        if roll < 0.1:
            steps.append(("decision", rng.choice(MODERATORS), rng.randint(1, 30)))
        elif roll < 0.45:
            steps.append(("review", rng.choice(MODERATORS), rng.randint(1, 30)))
    return steps


_GUIDELINES = "https://kestrel.example.org/community-guidelines"
#: The DSA category each content reason maps to (DSA statement of reasons ``category``).
DSA_CATEGORY_BY_REASON = {
    "HATE_SPEECH_CLASSIFIER": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "SPAM_LINKS": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "REPEAT_VIOLATIONS": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "MANY_USER_REPORTS": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
}

CONTENT = DemoSystem(
    slug="content-moderation",
    system={
        "name": "Community guidelines enforcement",
        "owner_organisation": "Kestrel Social (demo)",
        "review_contact_name": "Kestrel Appeals Team",
        "review_contact_email": "appeals@example.org",
        "purpose": "Decide what happens to posts flagged as possibly breaking the community guidelines.",
        "legal_basis": "Kestrel Terms of Service, section 6, and Community Guidelines sections 3 (hateful "
        "conduct) and 5 (spam and scams); DSA Art. 14 and 17.",
        "domain": Domain.CONTENT_MODERATION,
        "impact_level": ImpactLevel.II,
        "public_explanation": "When a post is flagged, our tools give it risk points for four things: "
        "how closely it matches hate speech, links to spam sites, the account's recent rule breaks, and "
        "reports from other people. With 40 points or more we show the post to fewer people; with 70 or "
        "more we remove it; with 90 or more we also suspend the account for 7 days. Moderators check "
        "many of these decisions. You can appeal any decision for 6 months.",
        "time_zone": "Europe/Dublin",
        "appeal_window_days": 184,
        "notice_due_days": 1,
        "stay_on_appeal": False,
        "review_due_days": 14,
        "external_routes": [
            {
                "kind": "odr",
                "name": "Certified out-of-court dispute settlement body, DSA Art. 21 (demo)",
                "url": "https://odr.example.org/",
            },
            {
                "kind": "ombudsman",
                "name": "Digital Services Coordinator complaints desk (demo)",
                "url": "https://dsc.example.org/complaints",
            },
            {"kind": "court", "name": "District Court (demo)", "url": "https://courts.example.org/civil"},
        ],
    },
    version={
        "logic": _t(
            "A flagged post gets risk points: up to 50 if our hate speech tool finds a close match, up to "
            "20 for links to spam sites, up to 20 if the account broke the rules in the last 90 days, and "
            "up to 10 for reports from other people. 40 points or more: fewer people see the post. 70 or "
            "more: we remove it. 90 or more: we also suspend the account for 7 days.",
            "Una publicación marcada recibe puntos de riesgo: hasta 50 si nuestra herramienta de discurso "
            "de odio encuentra un parecido fuerte, hasta 20 por enlaces a sitios de spam, hasta 20 si la "
            "cuenta rompió las normas en los últimos 90 días y hasta 10 por denuncias de otras personas. "
            "Con 40 puntos o más, menos personas ven la publicación. Con 70 o más, la quitamos. Con 90 o "
            "más, además suspendemos la cuenta 7 días.",
        ),
        "performance": _t(
            "Moderators checked 10,000 decisions from 2025. The hate speech tool was wrong about 7 in 100 "
            "posts it flagged (they were allowed after all) and missed about 12 in 100 hateful posts. About "
            "1 in 4 appeals against a removal is won.",
            "El equipo de moderación revisó 10.000 decisiones de 2025. La herramienta de discurso de odio "
            "se equivocó con 7 de cada 100 publicaciones que marcó (al final estaban permitidas) y no vio "
            "unas 12 de cada 100 publicaciones con odio. Se gana más o menos 1 de cada 4 recursos contra "
            "una retirada.",
        ),
        "fairness": _t(
            "We test the hate speech tool on posts in English, Spanish and 6 other languages. We also test "
            "it on posts in local ways of speaking. Last quarter, posts in local speech were wrongly flagged "
            "1.3 times as often as other posts. So now a person checks each of these posts before we take "
            "it down.",
            "Probamos la herramienta de discurso de odio con publicaciones en inglés, español y otros 6 "
            "idiomas, y con publicaciones escritas en dialectos. El último trimestre las publicaciones en "
            "dialecto se marcaron por error 1,3 veces más que las demás; ahora una persona revisa cada "
            "publicación en dialecto antes de quitarla.",
        ),
    },
    features=[
        _feature(
            "hate_speech_score",
            T.NUMBER,
            _t(
                "How closely your post matched hate speech (0 to 1)",
                "Cuánto se parece su publicación a discurso de odio (de 0 a 1)",
            ),
            "Hate speech classifier v3 (automated)",
            C.CONTENT,
        ),
        _feature(
            "spam_links",
            T.INTEGER,
            _t(
                "Links in your post to sites known for spam",
                "Enlaces en su publicación a sitios conocidos por spam",
            ),
            "Link safety check (automated)",
            C.CONTENT,
            actionable=True,
        ),
        _feature(
            "repeat_violations_90d",
            T.INTEGER,
            _t(
                "Rule breaks on your account in the last 90 days",
                "Normas rotas por su cuenta en los últimos 90 días",
            ),
            "Account history",
            C.ACCOUNT_ACTIVITY,
        ),
        _feature(
            "user_reports",
            T.INTEGER,
            _t(
                "Reports about this post from other people",
                "Denuncias de otras personas sobre esta publicación",
            ),
            "User reports",
            C.CONTENT,
        ),
    ],
    reason_codes=[
        _reason(
            "HATE_SPEECH_CLASSIFIER",
            "hate_speech_score",
            "Our hate speech tool found words in your post that attack people for who they are. For "
            "example, for their faith or where they come from.",
            "Nuestra herramienta de discurso de odio encontró palabras en su publicación que atacan a "
            "personas por quiénes son, por ejemplo por su religión o su origen.",
        ),
        _reason(
            "SPAM_LINKS",
            "spam_links",
            "Your post has links to websites that are known to send spam or scams.",
            "Su publicación tiene enlaces a sitios web conocidos por enviar spam o estafas.",
        ),
        _reason(
            "REPEAT_VIOLATIONS",
            "repeat_violations_90d",
            "Your account broke our rules in the last 90 days.",
            "Su cuenta rompió nuestras normas en los últimos 90 días.",
        ),
        _reason(
            "MANY_USER_REPORTS",
            "user_reports",
            "3 or more people reported this post to us.",
            "3 o más personas nos denunciaron esta publicación.",
        ),
    ],
    outcomes=[
        _outcome(
            "no_action",
            False,
            _t("No action", "Sin medidas"),
            _t("Your post stays up as it was.", "Su publicación sigue igual que antes."),
        ),
        _outcome(
            "visibility_restricted",
            True,
            _t("Fewer people will see your post", "Menos personas verán su publicación"),
            _t(
                "Your post stays up, but we do not show it in feeds or search.",
                "Su publicación sigue publicada, pero no la mostramos en el inicio ni en la búsqueda.",
            ),
            statement={
                "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DEMOTED"],
                "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
                "incompatible_content_ground": "Community Guidelines, sections 3 and 5",
                "incompatible_content_explanation": "The post was scored against the guidelines on hateful "
                "conduct and spam; its visibility was reduced.",
                "incompatible_content_illegal": "No",
                "decision_ground_reference_url": _GUIDELINES,
                "content_type": ["CONTENT_TYPE_TEXT"],
                "source_type": "SOURCE_VOLUNTARY",
            },
            category_by_reason=DSA_CATEGORY_BY_REASON,
        ),
        _outcome(
            "removed",
            True,
            _t("Your post was removed", "Quitamos su publicación"),
            _t(
                "We removed your post. Other people can no longer see it.",
                "Quitamos su publicación. Las demás personas ya no pueden verla.",
            ),
            statement={
                "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
                "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
                "incompatible_content_ground": "Community Guidelines, sections 3 and 5",
                "incompatible_content_explanation": "The post was scored against the guidelines on hateful "
                "conduct and spam and was removed.",
                "incompatible_content_illegal": "No",
                "decision_ground_reference_url": _GUIDELINES,
                "content_type": ["CONTENT_TYPE_TEXT"],
                "source_type": "SOURCE_VOLUNTARY",
            },
            category_by_reason=DSA_CATEGORY_BY_REASON,
        ),
        _outcome(
            "account_suspended",
            True,
            _t(
                "Post removed and account suspended for 7 days",
                "Publicación quitada y cuenta suspendida 7 días",
            ),
            _t(
                "We removed your post. You cannot post, comment or send messages for 7 days.",
                "Quitamos su publicación. No puede publicar, comentar ni enviar mensajes durante 7 días.",
            ),
            statement={
                "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
                "decision_account": "DECISION_ACCOUNT_SUSPENDED",
                "account_type": "ACCOUNT_TYPE_PRIVATE",
                "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
                "incompatible_content_ground": "Community Guidelines, sections 3 and 5; Terms of Service 6.4",
                "incompatible_content_explanation": "The post was removed, and the account, with repeated "
                "breaks of the guidelines, was suspended for 7 days.",
                "incompatible_content_illegal": "No",
                "decision_ground_reference_url": _GUIDELINES,
                "content_type": ["CONTENT_TYPE_TEXT"],
                "source_type": "SOURCE_VOLUNTARY",
            },
            category_by_reason=DSA_CATEGORY_BY_REASON,
            account_restriction_days=7,
        ),
    ],
    scorecard=CONTENT_CARD,
    assessment={
        "score": 33,
        "max_score": 100,
        "approver": "Jonas Lindqvist, Head of Trust and Safety (demo)",
        "approved_on": date(2026, 1, 28),
        "summary": "Moderate impact: restrictions are reversible and appealable for 6 months; hate speech "
        "detection has known error rates on dialect posts, so moderators check those.",
    },
    peer_reviews=[
        {
            "reviewer": "Dr Lucía Herrero (demo)",
            "organisation": "Online Speech Observatory (demo)",
            "reviewed_on": date(2026, 2, 4),
            "summary": "Reviewed classifier error rates across languages and the statement of reasons.",
        }
    ],
    decisions=250,
    subject_prefix="ACCT",
    hours_back=20,
    draw_inputs=_draw_content,
    draw_human=_human_content,
    repeat_subjects=0.25,
)


SYSTEMS: tuple[DemoSystem, ...] = (CREDIT, BENEFITS, CONTENT)
SYSTEM_SLUGS = tuple(spec.slug for spec in SYSTEMS)

# ----------------------------------------------------------------------------------------- people

_EN_FIRST = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Grace", "Leo", "Freya",
    "Arthur", "Lily", "Samuel", "Evie", "Thomas", "Poppy", "Joseph", "Ruby", "Aisha", "Yusuf", "Priya",
    "Kwame", "Mei", "Tomasz", "Ngozi", "Declan", "Siobhan", "Ewan",
)  # fmt: skip
_EN_LAST = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Khan", "Lewis",
    "Clarke", "Murphy", "O'Brien", "Nowak", "Okafor", "Chen", "Mensah", "Campbell", "Hughes", "Ahmed",
)  # fmt: skip
_ES_FIRST = (
    "Lucía", "Hugo", "Sofía", "Martín", "María", "Pablo", "Julia", "Daniel", "Paula", "Alejandro",
    "Valeria", "Mateo", "Carmen", "Diego", "Elena", "Javier", "Noa", "Álvaro", "Irene", "Sergio",
)  # fmt: skip
_ES_LAST = (
    "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
    "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Navarro",
    "Torres",
)  # fmt: skip


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def demo_subject(spec: DemoSystem, number: int) -> dict[str, Any]:
    """The invented person behind a demo subject number: about a quarter speak Spanish."""
    rng = random.Random(f"{spec.slug}:subject:{number}")  # noqa: S311 - demo data, not secrets
    spanish = rng.random() < 0.25
    first = rng.choice(_ES_FIRST if spanish else _EN_FIRST)
    last = rng.choice(_ES_LAST if spanish else _EN_LAST)
    if spanish and rng.random() < 0.6:
        last = f"{last} {rng.choice(_ES_LAST)}"
    return {
        "external_ref": f"{spec.subject_prefix}-{number:06d}",
        "name": f"{first} {last}",
        "email": f"{_ascii(first)}.{_ascii(last.split()[0])}.{number}@example.org",
        "language": "es" if spanish else "en",
    }


# ----------------------------------------------------------------------------------------- decisions


def external_id(spec: DemoSystem, i: int) -> str:
    return f"{spec.slug}-{i:04d}"


@dataclass(frozen=True)
class DemoCase:
    """One drawn case: the engine's result and the item for ``decision_record_many`` (minus times)."""

    external_id: str
    subject: dict[str, Any]
    inputs: dict[str, Any]
    result: ScoreResult
    minutes_back: int
    as_of_days_back: dict[str, int]
    human: list[tuple[str, str, int]]  # (kind, by, minutes before the decision)


def demo_case(spec: DemoSystem, card: Scorecard, i: int) -> DemoCase:
    """Case ``i`` of ``spec``: the same whatever the scale or run (one seeded generator per case)."""
    rng = random.Random(f"{spec.slug}:case:{i}")  # noqa: S311 - demo data, not secrets
    number = i
    if spec.repeat_subjects and i > 0 and rng.random() < spec.repeat_subjects:
        number = rng.randrange(i)  # an account met before: repeat posts, repeat flags
    inputs = spec.draw_inputs(rng)
    result = card.evaluate(inputs)
    minutes_back = rng.randint(10, spec.hours_back * 60)
    as_of = {name: rng.randint(0, 20) if spec.hours_back > 48 else 0 for name in inputs}
    human = spec.draw_human(rng, result)
    return DemoCase(
        external_id=external_id(spec, i),
        subject=demo_subject(spec, number),
        inputs=inputs,
        result=result,
        minutes_back=minutes_back,
        as_of_days_back=as_of,
        human=human,
    )


def decision_item(spec: DemoSystem, version: SystemVersion, case: DemoCase, now: datetime) -> dict[str, Any]:
    """The integrator's payload for ``case``, as the API contract has it, with the engine's results."""
    decided_at = now - timedelta(minutes=case.minutes_back)
    features = {f["name"]: f for f in spec.features}
    r = case.result
    adverse = r.adverse_side
    return {
        "system": spec.slug,
        "system_version": version.version,
        "external_id": case.external_id,
        "subject": case.subject,
        "outcome": r.outcome_code,
        "score": to_json_number(r.score),
        "inputs": [
            {
                "feature": name,
                "value": value,
                "source": features[name]["source"],
                "as_of": (decided_at.date() - timedelta(days=case.as_of_days_back[name])).isoformat(),
            }
            for name, value in case.inputs.items()
        ],
        "reasons": [
            {"code": reason.code, "feature": reason.feature, "weight": to_json_number(reason.weight)}
            for reason in r.reasons
        ]
        if adverse
        else [],
        "counterfactuals": [{"feature": c.feature, "value": c.to_value} for c in r.counterfactual]
        if adverse
        else [],
        "human_involvement": [
            {"kind": kind, "by": by, "at": (decided_at - timedelta(minutes=before)).isoformat()}
            for kind, by, before in case.human
        ],
        "decided_at": decided_at.isoformat(),
    }


# ----------------------------------------------------------------------------------------- seeding


@dataclass
class SeedReport:
    users_created: list[str] = field(default_factory=list)
    systems_created: list[str] = field(default_factory=list)
    decisions_created: dict[str, int] = field(default_factory=dict)
    decisions_total: dict[str, int] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # system slug -> plaintext key (new only)
    refused: list[str] = field(default_factory=list)
    steps: list[tuple[str, StepReport]] = field(default_factory=list)  # the higher floors' steps, in order
    seconds: dict[str, float] = field(default_factory=dict)  # time taken: "decisions", then each step
    try_this: list[str] = field(default_factory=list)  # what a newcomer can do next, in order


# ------------------------------------------------------------------------------- the higher floors' steps
#
# ``decisions`` is floor 3: it may not import appeals, oversight or portal. Their part of the demo (queues,
# appeals in every state, fairness data, figures) registers here from their ``AppConfig.ready()``, and
# ``seed()`` runs the registered steps after its own, in ``order``. Each step is idempotent like the rest
# of the demo (it looks for what it would create), and returns what it did and what a newcomer can try.


@dataclass
class StepReport:
    """What a registered step did (``lines``, printed by seed_demo) and what to try with it (``try_this``)."""

    lines: list[str] = field(default_factory=list)
    try_this: list[str] = field(default_factory=list)


DemoStepFn = Callable[[float], "StepReport | None"]


@dataclass(frozen=True)
class DemoStep:
    name: str
    fn: DemoStepFn  # called with the seed's scale
    order: int


_STEPS: dict[str, DemoStep] = {}


def register_demo_step(name: str, fn: DemoStepFn, *, order: int) -> None:
    """Add a step to ``seed_demo`` (from an ``AppConfig.ready()``). Registering a name again replaces it,
    so a ``ready()`` that runs twice never runs a step twice."""
    _STEPS[name] = DemoStep(name=name, fn=fn, order=order)


def demo_steps() -> list[DemoStep]:
    """The registered steps in the order they run (by ``order``, then name)."""
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.name))


# ------------------------------------------------------------------------------- the person's way in

#: The portal examples: the first adverse ``credit-limit`` case of a person who reads English, and of one
#: who reads Spanish. Higher floors leave them alone (no demo appeal, dispute or request), so a newcomer
#: can file the first appeal on them from the portal.
PORTAL_SYSTEM_SLUG = "credit-limit"
PORTAL_LANGUAGES = ("en", "es")
_CODE = re.compile(r"(?:your code|su código): (\S+)")
_LINK = re.compile(r"(?:Open this link|Abra este enlace): (\S+)")


def portal_example_ids(limit: int = 300) -> dict[str, str]:
    """Language -> external id of the portal example (from the draws alone, so it is the same whatever is
    in the database and whatever the scale, as long as the scale records it)."""
    spec = next(s for s in SYSTEMS if s.slug == PORTAL_SYSTEM_SLUG)
    card = Scorecard(spec.scorecard)
    found: dict[str, str] = {}
    for i in range(1, limit + 1):
        case = demo_case(spec, card, i)
        language = case.subject["language"]
        if case.result.adverse_side and language in PORTAL_LANGUAGES and language not in found:
            found[language] = case.external_id
            if len(found) == len(PORTAL_LANGUAGES):
                break
    return found


@dataclass(frozen=True)
class WayIn:
    """How the person gets in, read from the notice they were sent (the code is kept only hashed: the
    notice, as sent, is the one place it can be read, exactly as the person reads it)."""

    reference: str
    code: str
    link: str
    language: str
    notice_url: str  # the notice on the staff Outbox page
    mail_file: str  # the email as written to the demo mailbox, when it is there


def way_in(decision: Decision, mailbox: Path | None = None) -> WayIn | None:
    """The way in of ``decision`` from its decision notice (email first), or None if it has none."""
    from notifications.models import Notice

    notices = Notice.objects.filter(kind=Notice.Kind.DECISION, topic_id=str(decision.pk))
    notice = notices.filter(channel=Notice.Channel.EMAIL).first() or notices.first()
    if notice is None:
        return None
    code, link = _CODE.search(notice.body_text), _LINK.search(notice.body_text)
    if code is None:
        return None
    mail_file = ""
    if mailbox is not None and mailbox.is_dir():
        needle = decision.public_reference  # the first file that names it is its decision notice
        for path in sorted(mailbox.iterdir()):
            if path.is_file() and needle in path.read_text(errors="replace"):
                mail_file = str(path)
                break
    return WayIn(
        reference=decision.public_reference,
        code=code.group(1),
        link=link.group(1) if link else "",
        language=notice.language,
        notice_url=f"{settings.SITE_URL}{reverse('notifications:outbox-detail', args=[notice.pk])}",
        mail_file=mail_file,
    )


def demo_mailbox() -> Path:
    return Path(getattr(settings, "VAR_DIR", Path.cwd() / "var")) / "demo-mail"


def portal_try_this() -> list[str]:
    """The portal lines of the "try this" list: each example person's reference, code and notice."""
    ids = portal_example_ids()
    found = {
        d.external_id: d
        for d in Decision.objects.filter(system__slug=PORTAL_SYSTEM_SLUG, external_id__in=ids.values())
    }
    names = {"en": "in English", "es": "in Spanish"}
    lines = []
    for language, ext in ids.items():
        d = found.get(ext)
        w = way_in(d, demo_mailbox()) if d is not None else None
        if w is None:
            continue
        lines.append(
            f"Be the person ({names.get(language, language)}): open {settings.SITE_URL}/portal/ and type the "
            f"reference {w.reference} and the code {w.code}, both from their notice: {w.notice_url}"
            + (f" (its email is in {w.mail_file})" if w.mail_file else "")
            + ". Then appeal, with a PDF or a photo as evidence."
        )
    return lines


def ensure_staff(report: SeedReport) -> None:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in GROUPS}
    for u in USERS:
        if User.objects.filter(username=u.username).exists():
            continue
        with transaction.atomic():
            user = User.objects.create_user(
                username=u.username,
                password=u.password,
                email=f"{u.username}@example.org",
                first_name=u.first_name,
                last_name=u.last_name,
                staff_ref=u.staff_ref,
                is_staff=True,
                is_superuser=u.superuser,
            )
            user.groups.set([groups[g] for g in u.groups])
            audit.record(
                actor=ACTOR,
                action="user.created",
                target=user,
                data={"username": u.username, "groups": list(u.groups), "superuser": u.superuser},
            )
        report.users_created.append(u.username)


def ensure_system(spec: DemoSystem, report: SeedReport) -> tuple[DecisionSystem, SystemVersion]:
    """The system, its version, assessment and peer reviews, live. Each step only when missing."""
    system = DecisionSystem.objects.filter(slug=spec.slug).first()
    if system is None:
        system = svc.system_create(actor=ACTOR, slug=spec.slug, **spec.system)
        report.systems_created.append(spec.slug)
    version = system.versions.filter(version=VERSION).first()
    if version is None:
        card = spec.scorecard
        version = svc.version_create(
            system=system,
            version=VERSION,
            actor=ACTOR,
            features=spec.features,
            reason_codes=spec.reason_codes,
            outcomes=spec.outcomes,
            score_min=card["score_min"],
            score_max=card["score_max"],
            threshold=card["threshold"],
            higher_is_better=card["higher_is_better"],
            scorecard=card,
            **spec.version,
        )
    if not system.assessments.exists():
        svc.impact_assessment_record(system=system, actor=ACTOR, **spec.assessment)
        system.refresh_from_db()
    have = system.peer_reviews.count()
    for review in spec.peer_reviews[have:]:
        svc.peer_review_record(system=system, actor=ACTOR, **review)
    if system.status == DecisionSystem.Status.DRAFT:
        system = svc.system_go_live(system=system, actor=ACTOR)
    return system, version


def ensure_api_client(spec: DemoSystem, system: DecisionSystem, report: SeedReport) -> ApiClient:
    """A demo integrator per system, which records the system's decisions (so appeal outcomes and effects
    are reported back to it by signed webhook). Its key is shown once, when it is made (core.apikeys)."""
    from core import apikeys

    name = f"Demo integrator ({spec.slug})"
    client = ApiClient.objects.filter(name=name).first()
    if client is None:
        client, key = apikeys.api_client_create(
            name=name, systems=[system], contact_email=f"integrations+{spec.slug}@example.org", actor=ACTOR
        )
        report.api_keys[spec.slug] = key
    elif not system.api_clients.filter(pk=client.pk).exists():
        apikeys.api_client_systems_add(client=client, systems=[system], actor=ACTOR)
    return client


def ensure_demo_webhooks(report: SeedReport) -> None:
    """Give each demo integrator a webhook endpoint at the demo receiver (notifications), made after the
    rest of the demo so that seeding sends no webhooks to a server that is not running yet. From then on,
    an overturn in the browser reaches the receiver, which checks the signature as an integrator would."""
    from notifications.models import WebhookEndpoint
    from notifications.webhooks import webhook_endpoint_create

    for spec in SYSTEMS:
        client = ApiClient.objects.filter(name=f"Demo integrator ({spec.slug})").first()
        if client is None or WebhookEndpoint.objects.filter(client=client).exists():
            continue
        webhook_endpoint_create(
            client=client,
            url=f"{settings.SITE_URL}/staff/outbox/demo-integrator/{client.pk}/",
            actor=ACTOR,
            description="Demo integrator receiver",
        )
    report.try_this.append(
        "After an overturn, see the signed webhook the integrator received (delivered, 204 after its "
        f"signature was checked): {settings.SITE_URL}/admin/notifications/webhookmessage/"
    )


def ensure_decisions(
    spec: DemoSystem,
    system: DecisionSystem,
    version: SystemVersion,
    count: int,
    report: SeedReport,
    client: ApiClient | None = None,
) -> None:
    """Record the first ``count`` cases that are not recorded yet, in batches, through the one path."""
    have = set(Decision.objects.filter(system=system).values_list("external_id", flat=True))
    card = Scorecard(version.scorecard or spec.scorecard)
    now = timezone.now()
    missing = [i for i in range(1, count + 1) if external_id(spec, i) not in have]
    created = 0
    for start in range(0, len(missing), BATCH):
        items = [
            decision_item(spec, version, demo_case(spec, card, i), now)
            for i in missing[start : start + BATCH]
        ]
        results = svc.decision_record_many(items=items, actor=client or ACTOR, client=client)
        for item, res in zip(items, results, strict=True):
            if res.error is not None:
                report.refused.append(f"{item['external_id']}: {res.error}")
            elif res.created:
                created += 1
    report.decisions_created[spec.slug] = created
    report.decisions_total[spec.slug] = Decision.objects.filter(system=system).count()


def seed(*, scale: float = 1.0, steps: bool = True) -> SeedReport:
    """Build (or complete) the demo. ``scale`` shrinks the number of decisions (tests use 0.1). Then the
    steps the higher floors registered (``register_demo_step``), unless ``steps`` is False."""
    report = SeedReport()
    started = time.monotonic()
    ensure_staff(report)
    for spec in SYSTEMS:
        system, version = ensure_system(spec, report)
        client = ensure_api_client(spec, system, report)
        count = max(1, round(spec.decisions * scale))
        ensure_decisions(spec, system, version, count, report, client)
    report.seconds["decisions"] = time.monotonic() - started
    if not steps:
        return report
    report.try_this.extend(portal_try_this())
    report.try_this.append(
        f"Read what each person was sent, as they read it: {settings.SITE_URL}/staff/outbox/ "
        "(sign in as admin / admin-demo-pass)."
    )
    for step in demo_steps():
        started = time.monotonic()
        result = step.fn(scale) or StepReport()
        report.seconds[step.name] = time.monotonic() - started
        report.steps.append((step.name, result))
        report.try_this.extend(result.try_this)
    ensure_demo_webhooks(report)
    return report
