"""Published system explanation (S4): a public page per decision system and version, with no sign-in.

- ``/portal/systems/``: every live or suspended system, each with a one-line purpose.
- ``/portal/systems/<slug>/``: how the system works, as its current version does; ``?version=<v>`` shows an
  earlier version, and the page lists every version. A draft system (or an unknown version) answers 404.

What a page says comes from the stored records only: the system (purpose, domain, impact level, legal basis,
who runs it and whom to ask, policy settings, external routes), the version (logic, performance and fairness
per language, score range, the built-in scorecard when there is one), its features, reason codes and
outcomes, and one aggregate count of the decisions the version made by automation level (how often people
are involved). Per-language texts go through ``decisions.explanations`` (``localized``, ``words``,
``format_*``) and the notice phrase book (``decisions.notices.PHRASES``), so the page says what the notices
and explanations say. No decision's values are ever shown: the inputs are listed as features (label, source,
whether the person can change it), never with anyone's value, protected or not.

Language: the portal's own mechanism (``portal.session.anonymous_language``): ``?lang=`` (remembered in the
session), else the language chosen before, else the browser's. The decision page links here with the
person's language and the version that decided about them.

Queries: a constant number, whatever the number of features, versions or decisions (the system with its
versions, the version with its features, reason codes and outcomes, one aggregate; plus the session).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from core import clock
from decisions import scorecards
from decisions.explanations import format_date, format_number, format_value, localized, words
from decisions.models import Decision, DecisionSystem, Domain, ImpactLevel, SystemVersion
from decisions.notices import PHRASES as DECISION_PHRASES
from decisions.selectors import system_get, system_list, version_get
from portal.pages import render_page
from portal.security import portal_page
from portal.session import anonymous_language
from portal.text import say

#: Systems the public may read about. A draft has not been approved to decide about anyone.
PUBLIC_STATUSES = (DecisionSystem.Status.LIVE, DecisionSystem.Status.SUSPENDED)

#: Performance figures a version may state as numbers next to its text (fractions between 0 and 1).
METRICS = ("accuracy", "error_rate", "false_positive_rate", "false_negative_rate")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "list_title": "How our decision systems work",
        "list_intro": "We use computer systems to help us make some decisions about people. Each page below "
        "is about one system. It says what the system is for and what information it uses. It says how it "
        "works and how well. And it says how you can challenge a decision it made.",
        "list_none": "No systems are in use at the moment.",
        "status_live": "In use",
        "status_suspended": "Suspended",
        "caption": "How this system works",
        "suspended": "This system is suspended. New decisions that go against someone are checked by a "
        "person first.",
        "version_current": "This page describes version {version}, the version in use now.",
        "version_current_since": "This page describes version {version}, in use since {date}.",
        "version_old": "This page describes version {version}. It is not the version in use now.",
        "version_see_current": "See the current version ({version})",
        "role": "What the system is for",
        "domain": "Area",
        "impact": "How much it can affect people",
        "people": "Where people are involved",
        "people_alone": "The system can make a decision on its own. It is sent without a person checking it "
        "first.",
        "people_high": "If a decision goes against someone, a person checks it first. Only then does it take "
        "effect.",
        "people_suspended": "The system is suspended for now. If a new decision goes against someone, a "
        "person checks it before we send it.",
        "people_appeal": "If you appeal, a person always looks at your case again.",
        "people_blind": "That person first looks at your case without seeing what the system decided.",
        "people_four_eyes": "If they decide that a decision against you stays, a second person checks that.",
        "counts_intro": "Decisions made with this version so far:",
        "counts_none": "No decisions have been made with this version yet.",
        "count_full": "Made by the system alone",
        "count_partial": "Suggested by the system and checked by a person",
        "count_none": "Made by a person",
        "count_value": "{n} of {total} ({percent})",
        "law": "The law that allows it",
        "who": "Who is responsible",
        "who_runs": "{organisation} runs this system and is responsible for its decisions.",
        "ask": "To ask a person to look at a decision, contact {contact}.",
        "inputs": "The information it uses",
        "inputs_intro": "The system uses only this information. The letter or email we send you shows the "
        "information we used about you.",
        "inputs_none": "This version does not list any information.",
        "input_source": "Comes from: {source}",
        "input_kind": "Kind of information: {kind}",
        "input_can_change": "You can change this.",
        "input_cannot_change": "You cannot change this.",
        "input_protected": "This is about a protected characteristic, such as age or health. We use it "
        "only because: {basis}",
        "logic": "How it works",
        "range": "Scores go from {low} to {high}.",
        "higher_better": "A higher score is better.",
        "lower_better": "A lower score is better.",
        "threshold": "The decision changes at a score of {threshold}.",
        "points": "The points in full",
        "points_base": "Everyone starts with {points} points. Each piece of information then adds points:",
        "band_below": "less than {high}",
        "band_from": "{low} or more",
        "band_between": "from {low} up to {high}",
        "band_points": "{band}: {points} points",
        "metric_accuracy": "Right in tests",
        "metric_error_rate": "Wrong in tests",
        "metric_false_positive_rate": "Wrongly against someone in tests",
        "metric_false_negative_rate": "Wrongly in someone's favour in tests",
        "reasons": "The main reasons it gives",
        "reasons_intro": "When a decision goes against someone, it gives up to 4 main reasons. These are "
        "the reasons it can give:",
        "outcomes": "What it can decide",
        "outcome_adverse": "This goes against you. You can appeal.",
        "outcome_favourable": "This is in your favour.",
        "recourse": "If you disagree with a decision",
        "appeal_window": "You can appeal within {days} days of the decision. The letter or email we send "
        "you gives the last date.",
        "stay": "If you appeal in time, we wait. The decision does not apply until a person has looked at "
        "your appeal.",
        "notice_period": "A decision that goes against you takes effect {days} days after we tell you "
        "about it.",
        "review_due": "A person decides on your appeal within {days} days.",
        "oral_hearing": "You can ask to speak to the person who decides on your appeal.",
        "dispute": "If any information we used about you is wrong, tell us. We will check it within 30 days. "
        "If it is wrong, we will fix it and look at the decision again.",
        "explain": "You can ask us to explain a decision in more detail. We will answer within one month.",
        "how_to_start": "Do you want to appeal, tell us something is wrong, or ask for more explanation? Use "
        "the link or the code in the letter or email we sent you.",
        "start_link": "See your decision",
        "versions": "Versions",
        "versions_intro": "When we change how the system works, it gets a new version. A decision is "
        "always explained by the version that made it.",
        "version_item": "Version {version}",
        "version_in_use": "(in use now)",
        "version_since": "in use from {date}",
        "this_version": "(this page)",
        "all_systems": "All decision systems",
        "not_found_title": "We could not find this system",
        "not_found_body": "It may not be in use yet, or the address may be wrong.",
    },
    "es": {
        "list_title": "Cómo funcionan nuestros sistemas de decisión",
        "list_intro": "Usamos sistemas informáticos para ayudar a tomar algunas decisiones sobre personas. "
        "Cada página explica un sistema: para qué sirve, qué datos usa, cómo funciona, si funciona bien y "
        "cómo puede recurrir una decisión que tomó.",
        "list_none": "Ahora mismo no hay sistemas en uso.",
        "status_live": "En uso",
        "status_suspended": "Suspendido",
        "caption": "Cómo funciona este sistema",
        "suspended": "Este sistema está suspendido. Una persona revisa primero cada nueva decisión en "
        "contra de alguien.",
        "version_current": "Esta página describe la versión {version}, la que se usa ahora.",
        "version_current_since": "Esta página describe la versión {version}, en uso desde el {date}.",
        "version_old": "Esta página describe la versión {version}. No es la versión que se usa ahora.",
        "version_see_current": "Ver la versión actual ({version})",
        "role": "Para qué sirve el sistema",
        "domain": "Ámbito",
        "impact": "Cuánto puede afectar a las personas",
        "people": "Dónde intervienen personas",
        "people_alone": "El sistema puede tomar una decisión por sí solo. Se envía sin que una persona la "
        "revise antes.",
        "people_high": "Una persona revisa cada decisión en contra de alguien antes de que se aplique.",
        "people_suspended": "Mientras el sistema está suspendido, una persona revisa cada nueva decisión en "
        "contra de alguien antes de enviarla.",
        "people_appeal": "Si apela, una persona siempre vuelve a mirar su caso.",
        "people_blind": "Esa persona mira primero su caso sin ver lo que decidió el sistema.",
        "people_four_eyes": "Si decide que una decisión en su contra se mantiene, otra persona lo revisa.",
        "counts_intro": "Decisiones tomadas hasta ahora con esta versión:",
        "counts_none": "Todavía no se ha tomado ninguna decisión con esta versión.",
        "count_full": "Tomadas solo por el sistema",
        "count_partial": "Propuestas por el sistema y revisadas por una persona",
        "count_none": "Tomadas por una persona",
        "count_value": "{n} de {total} ({percent})",
        "law": "La ley que lo permite",
        "who": "Quién es responsable",
        "who_runs": "{organisation} gestiona este sistema y es responsable de sus decisiones.",
        "ask": "Para pedir que una persona revise una decisión, contacte con {contact}.",
        "inputs": "Los datos que usa",
        "inputs_intro": "El sistema usa solo estos datos. La carta o el correo que le enviamos muestra los "
        "datos que usamos sobre usted.",
        "inputs_none": "Esta versión no indica ningún dato.",
        "input_source": "De dónde viene: {source}",
        "input_kind": "Tipo de dato: {kind}",
        "input_can_change": "Usted puede cambiar este dato.",
        "input_cannot_change": "Usted no puede cambiar este dato.",
        "input_protected": "Es un dato protegido, como la edad o la salud. Solo lo usamos porque: {basis}",
        "logic": "Cómo funciona",
        "range": "Las puntuaciones van de {low} a {high}.",
        "higher_better": "Una puntuación más alta es mejor.",
        "lower_better": "Una puntuación más baja es mejor.",
        "threshold": "La decisión cambia con una puntuación de {threshold}.",
        "points": "Todos los puntos",
        "points_base": "Todo el mundo empieza con {points} puntos. Luego cada dato suma puntos:",
        "band_below": "menos de {high}",
        "band_from": "{low} o más",
        "band_between": "desde {low} hasta menos de {high}",
        "band_points": "{band}: {points} puntos",
        "metric_accuracy": "Aciertos en las pruebas",
        "metric_error_rate": "Errores en las pruebas",
        "metric_false_positive_rate": "En contra de alguien por error en las pruebas",
        "metric_false_negative_rate": "A favor de alguien por error en las pruebas",
        "reasons": "Los motivos principales que da",
        "reasons_intro": "Cuando una decisión es en contra de alguien, da hasta 4 motivos principales. Estos "
        "son los motivos que puede dar:",
        "outcomes": "Qué puede decidir",
        "outcome_adverse": "Es en su contra. Puede apelar.",
        "outcome_favourable": "Es a su favor.",
        "recourse": "Si no está de acuerdo con una decisión",
        "appeal_window": "Puede apelar en los {days} días siguientes a la decisión. La carta o el correo que "
        "le enviamos indica el último día.",
        "stay": "Si apela a tiempo, no aplicamos la decisión hasta que una persona decida sobre su "
        "apelación.",
        "notice_period": "Una decisión en su contra se aplica {days} días después de que se la comuniquemos.",
        "review_due": "Una persona decide sobre su apelación en {days} días como máximo.",
        "oral_hearing": "Puede pedir hablar con la persona que decide sobre su apelación.",
        "dispute": "Si algún dato que usamos sobre usted no es correcto, díganoslo. Lo revisaremos en "
        "30 días. Si está mal, lo corregiremos y volveremos a mirar la decisión.",
        "explain": "Puede pedirnos que le expliquemos una decisión con más detalle. Le responderemos en "
        "un mes como máximo.",
        "how_to_start": "Para apelar, para decirnos que un dato está mal o para pedir una explicación más "
        "completa, use el enlace o el código de la carta o el correo que le enviamos.",
        "start_link": "Ver su decisión",
        "versions": "Versiones",
        "versions_intro": "Cuando cambiamos cómo funciona el sistema, recibe una versión nueva. Una decisión "
        "siempre se explica con la versión que la tomó.",
        "version_item": "Versión {version}",
        "version_in_use": "(en uso ahora)",
        "version_since": "en uso desde el {date}",
        "this_version": "(esta página)",
        "all_systems": "Todos los sistemas de decisión",
        "not_found_title": "No encontramos este sistema",
        "not_found_body": "Puede que todavía no esté en uso o que la dirección no sea correcta.",
    },
}

_DOMAINS: dict[str, dict[str, str]] = {
    "en": {
        Domain.CREDIT: "Credit",
        Domain.PUBLIC_BENEFITS: "Public benefits",
        Domain.CONTENT_MODERATION: "Checking posts and other content",
        Domain.EMPLOYMENT: "Jobs and work",
        Domain.OTHER: "Other",
    },
    "es": {
        Domain.CREDIT: "Crédito",
        Domain.PUBLIC_BENEFITS: "Ayudas públicas",
        Domain.CONTENT_MODERATION: "Revisión de publicaciones y otros contenidos",
        Domain.EMPLOYMENT: "Empleo y trabajo",
        Domain.OTHER: "Otro",
    },
}

_IMPACT: dict[str, dict[int, str]] = {
    "en": {
        ImpactLevel.I: "Level I of IV: little or no impact",
        ImpactLevel.II: "Level II of IV: some impact",
        ImpactLevel.III: "Level III of IV: high impact",
        ImpactLevel.IV: "Level IV of IV: very high impact",
    },
    "es": {
        ImpactLevel.I: "Nivel I de IV: poco o ningún impacto",
        ImpactLevel.II: "Nivel II de IV: algo de impacto",
        ImpactLevel.III: "Nivel III de IV: impacto alto",
        ImpactLevel.IV: "Nivel IV de IV: impacto muy alto",
    },
}

_CONTEXTS: dict[str, dict[str, str]] = {
    "en": {
        "identity": "Identity and eligibility",
        "financial": "Accounts and payments",
        "credit_history": "Credit history",
        "income": "Income",
        "employment": "Work history",
        "household": "Who lives in your household",
        "benefits_claim": "Your benefit claim",
        "content": "The content itself",
        "account_activity": "What you did on this service",
        "education": "Education and qualifications",
        "social_behaviour": "Behaviour elsewhere",
        "health": "Health",
        "location": "Where you live or are",
        "other": "Other",
    },
    "es": {
        "identity": "Identidad y requisitos",
        "financial": "Cuentas y pagos",
        "credit_history": "Historial de crédito",
        "income": "Ingresos",
        "employment": "Historial laboral",
        "household": "Quién vive en su hogar",
        "benefits_claim": "Su solicitud de ayuda",
        "content": "El propio contenido",
        "account_activity": "Lo que hizo en este servicio",
        "education": "Estudios y títulos",
        "social_behaviour": "Comportamiento en otros lugares",
        "health": "Salud",
        "location": "Dónde vive o está",
        "other": "Otro",
    },
}


# ------------------------------------------------------------------------------------------ helpers


def one_line(text: str) -> str:
    """The first line of a purpose, cut after its first sentence when that line runs on."""
    line = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
    end = line.find(". ")
    return line[: end + 1] if end != -1 else line


def _percent(n: int, total: int, lang: str) -> str:
    number = format_number(round(100 * n / total), lang) if total else "0"
    return f"{number} %" if lang == "es" else f"{number}%"


def _day(when: Any, system: DecisionSystem, lang: str) -> str:
    """The date an instant falls on in the system's zone (as every date the portal shows)."""
    return format_date(clock.local_date(when, str(system.time_zone)), lang) if when else ""


def _contact(system: DecisionSystem) -> str:
    """Whom to ask, as decisions.explanations.render_explanation writes it."""
    parts = (system.review_contact_name, system.review_contact_email, system.review_contact_phone)
    return ", ".join(x for x in parts if x)


def automation_counts(version: SystemVersion, lang: str) -> list[dict[str, str]]:
    """How the version's decisions were made so far (S7 flags), from one aggregate query."""
    w = WORDS[lang]
    counts = {
        row["automation"]: row["n"]
        for row in Decision.objects.filter(version=version)
        .order_by()
        .values("automation")
        .annotate(n=Count("pk"))
    }
    total = sum(counts.values())
    if not total:
        return []
    return [
        {
            "label": w[f"count_{level}"],
            "value": w["count_value"].format(
                n=format_number(counts.get(level, 0), lang),
                total=format_number(total, lang),
                percent=_percent(counts.get(level, 0), total, lang),
            ),
        }
        for level in Decision.Automation.values
    ]


def _people(system: DecisionSystem, lang: str) -> list[str]:
    """Where people take part, from the system's policy (S2, S23, S29)."""
    w = WORDS[lang]
    lines = []
    if system.requires_human_decision_for_adverse:
        lines.append(w["people_high"])
    elif system.status == DecisionSystem.Status.SUSPENDED:
        lines.append(w["people_suspended"])
    else:
        lines.append(w["people_alone"])
    lines.append(w["people_appeal"])
    if system.blind_review:
        lines.append(w["people_blind"])
    if system.requires_four_eyes:
        lines.append(w["people_four_eyes"])
    return lines


def _scale(version: SystemVersion, lang: str) -> list[str]:
    w = WORDS[lang]
    lines = []
    if version.score_min is not None and version.score_max is not None:
        low, high = format_number(version.score_min, lang), format_number(version.score_max, lang)
        lines.append(w["range"].format(low=low, high=high))
    if version.score_min is not None or version.threshold is not None:
        lines.append(w["higher_better"] if version.higher_is_better else w["lower_better"])
    if version.threshold is not None:
        lines.append(w["threshold"].format(threshold=format_number(version.threshold, lang)))
    return lines


def _band_words(band: dict[str, Any], kind: str, lang: str, unit: str) -> str:
    w = WORDS[lang]
    if kind == scorecards.CATEGORY:
        name = ", ".join(format_value(v, lang) for v in band.get("values") or [])
    else:
        low, high = band.get("min"), band.get("max")
        low_text = format_value(low, lang, unit) if low is not None else ""
        high_text = format_value(high, lang, unit) if high is not None else ""
        if low is None:
            name = w["band_below"].format(high=high_text)
        elif high is None:
            name = w["band_from"].format(low=low_text)
        else:
            name = w["band_between"].format(low=low_text, high=high_text)
    return w["band_points"].format(band=name, points=format_value(band.get("points", 0), lang))


def points_table(version: SystemVersion, labels: dict[str, str], units: dict[str, str], lang: str) -> Any:
    """A built-in scorecard written out (every band and its points), or None without a valid card."""
    card = version.scorecard
    if not isinstance(card, dict) or scorecards.validate_scorecard(card):
        return None
    rows = []
    for f in card.get("features") or []:
        name = str(f.get("name", ""))
        kind = str(f.get("kind", scorecards.NUMERIC))
        rows.append(
            {
                "label": labels.get(name) or name.replace("_", " "),
                "bands": [_band_words(b, kind, lang, units.get(name, "")) for b in f.get("bands") or []],
            }
        )
    return {
        "base": WORDS[lang]["points_base"].format(points=format_value(card.get("base"), lang)),
        "rows": rows,
    }


def _metrics(version: SystemVersion, lang: str) -> list[dict[str, str]]:
    performance = version.performance if isinstance(version.performance, dict) else {}
    out = []
    for key in METRICS:
        value = performance.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            out.append({"label": WORDS[lang][f"metric_{key}"], "value": _percent_of(value, lang)})
    return out


def _percent_of(fraction: float, lang: str) -> str:
    number = format_number(round(fraction * 100, 1), lang)
    return f"{number} %" if lang == "es" else f"{number}%"


def _routes(system: DecisionSystem, lang: str) -> list[dict[str, str]]:
    """The external routes, named as on the decision page."""
    out = []
    for r in system.external_routes or []:
        if isinstance(r, dict) and r.get("name"):
            kind = str(r.get("kind") or "other")
            if kind not in ("ombudsman", "odr", "court", "regulator"):
                kind = "other"
            out.append(
                {"kind": say(lang, f"route_{kind}"), "name": str(r["name"]), "url": str(r.get("url") or "")}
            )
    return out


def system_context(
    system: DecisionSystem, version: SystemVersion, current: SystemVersion, lang: str
) -> dict[str, Any]:
    w = WORDS[lang]
    explained = words(lang)
    phrases = DECISION_PHRASES[lang]
    features = list(version.features.all())
    labels = {f.name: localized(f.label, lang) or f.name.replace("_", " ") for f in features}
    inputs = [
        {
            "label": labels[f.name],
            "source": w["input_source"].format(source=f.source),
            "kind": w["input_kind"].format(kind=_CONTEXTS[lang].get(f.context, _CONTEXTS[lang]["other"])),
            "change": w["input_can_change"] if f.actionable and not f.protected else w["input_cannot_change"],
            "protected": w["input_protected"].format(basis=f.legal_basis) if f.protected else "",
        }
        for f in features
    ]
    order = {f.pk: i for i, f in enumerate(features)}
    codes = sorted(version.reason_codes.all(), key=lambda rc: (order.get(rc.feature_id, 0), rc.code))
    outcomes = sorted(version.outcomes.all(), key=lambda o: (o.adverse, o.pk))
    released = _day(version.released_at, system, lang)
    if version.pk != current.pk:
        version_line = w["version_old"].format(version=version.version)
    elif released:
        version_line = w["version_current_since"].format(version=version.version, date=released)
    else:
        version_line = w["version_current"].format(version=version.version)
    recourse = [w["appeal_window"].format(days=system.appeal_window_days) + " " + phrases["appeal_free"]]
    recourse.append(w["stay"] if system.stay_on_appeal else phrases["no_stay"])
    if system.notice_period_days:
        recourse.append(w["notice_period"].format(days=system.notice_period_days))
    recourse.append(w["review_due"].format(days=system.review_due_days))
    if system.oral_hearing_allowed:
        recourse.append(w["oral_hearing"])
    return {
        "w": w,
        "system": system,
        "version": version,
        "current": current,
        "is_current": version.pk == current.pk,
        "suspended": system.status == DecisionSystem.Status.SUSPENDED,
        "version_line": version_line,
        "current_link": w["version_see_current"].format(version=current.version),
        "purpose": system.purpose,
        "role": [
            {"label": w["domain"], "value": _DOMAINS[lang].get(system.domain, _DOMAINS[lang][Domain.OTHER])},
            {"label": w["impact"], "value": _IMPACT[lang].get(system.impact_level, "")},
        ],
        "explanation": system.public_explanation,
        "people": _people(system, lang),
        "counts": automation_counts(version, lang),
        "legal_basis": system.legal_basis,
        "who_runs": w["who_runs"].format(organisation=system.owner_organisation),
        "ask_human": w["ask"].format(contact=_contact(system)),
        "inputs": inputs,
        "logic": localized(version.logic, lang) or explained["not_stated"],
        "scale": _scale(version, lang),
        "points": points_table(version, labels, {f.name: f.unit for f in features}, lang),
        "performance_title": explained["performance"],
        "performance": localized(version.performance, lang) or explained["not_stated"],
        "metrics": _metrics(version, lang),
        "fairness_title": explained["fairness"],
        "fairness": localized(version.fairness, lang) or explained["not_stated"],
        "reasons": [localized(rc.text, lang) for rc in codes if localized(rc.text, lang)],
        "outcomes": [
            {
                "label": localized(o.label, lang) or o.code.replace("_", " "),
                "effect": localized(o.effect, lang),
                "adverse": o.adverse,
            }
            for o in outcomes
        ],
        "recourse": recourse,
        "rights": [
            w["dispute"],
            w["explain"],
            phrases["right_to_data"],
        ],
        "routes": _routes(system, lang),
        "versions": [
            {
                "version": sv.version,
                "label": w["version_item"].format(version=sv.version),
                "since": w["version_since"].format(date=_day(sv.released_at, system, lang))
                if sv.released_at
                else "",
                "url": "?" + urlencode({"version": sv.version}),
                "current": sv.pk == current.pk,
                "shown": sv.pk == version.pk,
            }
            for sv in system.versions.all()
        ],
        # The language switcher keeps the version being read.
        "keep": "" if version.pk == current.pk else urlencode({"version": version.version}),
    }


def _not_found(request: HttpRequest, lang: str) -> HttpResponse:
    return render_page(request, "portal/systems/not_found.html", lang, status=404, w=WORDS[lang])


# ------------------------------------------------------------------------------------------ views


@portal_page
@require_GET
def system_index(request: HttpRequest) -> HttpResponse:
    lang = anonymous_language(request)
    systems = system_list(system_ids=None).filter(status__in=PUBLIC_STATUSES).order_by("name", "pk")
    w = WORDS[lang]
    rows = [
        {
            "system": s,
            "purpose": one_line(s.purpose),
            "suspended": s.status == DecisionSystem.Status.SUSPENDED,
            "status": w["status_suspended"]
            if s.status == DecisionSystem.Status.SUSPENDED
            else w["status_live"],
        }
        for s in systems.only("slug", "name", "purpose", "status", "owner_organisation")
    ]
    return render_page(request, "portal/systems/index.html", lang, w=w, rows=rows)


@portal_page
@require_GET
def system_page(request: HttpRequest, slug: str) -> HttpResponse:
    lang = anonymous_language(request)
    system = system_get(slug=slug, system_ids=None)
    if system is None or system.status not in PUBLIC_STATUSES:
        return _not_found(request, lang)
    versions = list(system.versions.all())  # newest first
    if not versions:
        return _not_found(request, lang)
    current = versions[0]
    asked = request.GET.get("version", "")[:40]
    chosen = next((sv for sv in versions if sv.version == asked), None) if asked else current
    if chosen is None:
        return _not_found(request, lang)
    version = version_get(slug=system.slug, version=chosen.version, system_ids=None)
    if version is None:  # deleted in between
        return _not_found(request, lang)
    version.system = system  # the one read with its versions
    return render_page(
        request, "portal/systems/detail.html", lang, **system_context(system, version, current, lang)
    )
