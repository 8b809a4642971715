"""Decision notices: what the person is told, in their language, complete or not at all (S10-S14).

How a notice is made
====================

1. ``notice_elements(decision, language, way_in)`` reads the stored record and builds a structured
   *element dict*: one entry per thing the notice must say (the decision and its effect, the reasons, the
   automation disclosure, the legal ground, how and by when to appeal, ...). Values are data (dates, lists,
   dicts) or sentences in the person's language from the phrase catalogue below.
2. The completeness gate (S13), ``missing_elements(elements, template_key)``, checks that dict - data, not
   text - against the elements the template requires. ``render_notice`` refuses an incomplete notice with
   ``NoticeIncomplete`` listing every missing element.
3. A versioned template per domain and language (``decisions/templates/decisions/notices/<domain>/``) lays
   the elements out as subject, plain text and HTML. After rendering, a coverage check makes sure every
   element's text really appears in both bodies, so a template that drops an element is refused too.

Which template
==============

Adverse decisions get their domain's template: ``credit/decision`` (adverse action notice with reasons, the
S10 score disclosure, the consumer-report block and the equal-credit notice), ``public_benefits/decision``
(pre-termination notice: right to a hearing, and aid paid pending where the system stays effects),
``content_moderation/decision`` (DSA Art. 17 statement of reasons: facts, ground, automation, redress) and
``generic/decision`` for the other domains. Decisions in the person's favour get ``generic/favourable``:
the person is told of every decision about them, with the same rights (explanation, data, dispute, appeal)
but without the elements that only make sense for an adverse outcome (reasons are shown when recorded).

Dates in notices never come from the current time: the appeal deadline is the decision date plus the
system's appeal window in the system's zone (core.clock), so a notice renders the same text every time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from core import audit, clock
from core.errors import ApplicationError
from decisions import access
from decisions.explanations import (
    automation_text,
    format_date,
    format_number,
    language_for,
    localized,
    render_explanation,
)
from notifications.rendering import template_renderer

if TYPE_CHECKING:
    from decisions.models import Decision

DECISION_TOPIC = "decisions.decision"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "decisions" / "notices"


class NoticeIncomplete(ApplicationError):
    code = "notice-incomplete"
    status = 422
    title = "The notice is incomplete and was not sent"

    def __init__(self, missing: Sequence[str], *, template_key: str = "") -> None:
        self.missing = list(missing)
        super().__init__(
            f"The notice cannot be sent: it does not state {', '.join(self.missing)}.",
            errors=[
                {"field": name, "code": "missing-element", "message": f"The notice must state {name}."}
                for name in self.missing
            ],
            extra={"missing": self.missing, "template_key": template_key},
        )


# ------------------------------------------------------------------------------------------ templates


@dataclass(frozen=True)
class NoticeTemplate:
    key: str  # "credit/decision"
    version: int  # bump on every change of the files or phrases (tests check the fingerprint)
    fingerprint: str  # first 16 hex of template_fingerprint(key): the content this version stands for
    elements: tuple[str, ...]  # the elements it must state (S13)

    @property
    def label(self) -> str:
        return f"{self.key}@{self.version}"

    def file(self, language: str, part: str) -> str:
        return f"decisions/notices/{self.key}.{language}.{part}"


# S13, in order: the decision and its effect, the specific reasons, the automation disclosure, the legal or
# contractual ground, how to appeal and the deadline as a date, that appealing is free, a human contact,
# external routes, the right to an explanation and to one's data, the data sources and the right to dispute
# them, and whether the effect is suspended during an appeal.
COMMON_ELEMENTS = (
    "decision",
    "reasons",
    "automation",
    "legal_ground",
    "appeal_how",
    "appeal_deadline",
    "appeal_free",
    "human_contact",
    "external_routes",
    "right_to_explanation",
    "right_to_data",
    "data_sources",
    "right_to_dispute_data",
    "effect_during_appeal",
)
FAVOURABLE_ELEMENTS = tuple(e for e in COMMON_ELEMENTS if e not in {"reasons", "effect_during_appeal"})

TEMPLATES: dict[str, NoticeTemplate] = {
    t.key: t
    for t in (
        NoticeTemplate(
            "credit/decision",
            1,
            "f0fff661cf695cdb",
            (*COMMON_ELEMENTS, "score_disclosure", "consumer_report", "equal_credit"),
        ),
        NoticeTemplate(
            "public_benefits/decision", 1, "daef01815c9936a0", (*COMMON_ELEMENTS, "right_to_hearing")
        ),
        NoticeTemplate("content_moderation/decision", 1, "c52f36ce63552622", COMMON_ELEMENTS),
        NoticeTemplate("generic/decision", 1, "cff8b30c7e5770e8", COMMON_ELEMENTS),
        NoticeTemplate("generic/favourable", 1, "37f61cc42d1431d7", FAVOURABLE_ELEMENTS),
    )
}

_DOMAIN_TEMPLATE = {
    "credit": "credit/decision",
    "public_benefits": "public_benefits/decision",
    "content_moderation": "content_moderation/decision",
}


def template_for(decision: Decision) -> NoticeTemplate:
    if not decision.adverse:
        return TEMPLATES["generic/favourable"]
    return TEMPLATES[_DOMAIN_TEMPLATE.get(decision.system.domain, "generic/decision")]


def required_elements(template_key: str, elements: Mapping[str, Any] | None = None) -> list[str]:
    """What a notice from this template must state. Some needs depend on the case: the score disclosure
    only when a score was used (S10); aid paid pending only where the system stays effects (Goldberg)."""
    needed = list(TEMPLATES[template_key].elements)
    facts = (elements or {}).get("_facts", {})
    if template_key == "credit/decision" and not facts.get("score_used", True):
        needed.remove("score_disclosure")
    if template_key == "public_benefits/decision" and facts.get("stays_effect", True):
        needed.append("aid_paid_pending")
    return needed


# ---------------------------------------------------------------------------------------- the gate


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _texts(v: Any, most: int | None = None) -> bool:
    ok = isinstance(v, list | tuple) and bool(v) and all(_text(x) for x in v)
    return ok and (most is None or len(v) <= most)


def _check_routes(v: Any, facts: Mapping[str, Any]) -> list[str]:
    if (
        not isinstance(v, list | tuple)
        or not v
        or not all(isinstance(r, dict) and _text(r.get("name")) for r in v)
    ):
        return ["external_routes"]
    missing = []
    if facts.get("domain") == "content_moderation" and facts.get("adverse", True):
        # DSA Art. 17(3)(f), for a restriction: internal complaints, out-of-court settlement and courts.
        kinds = {r.get("kind") for r in v}
        if "odr" not in kinds:
            missing.append("external_routes.out_of_court_body")
        if "court" not in kinds:
            missing.append("external_routes.court")
    return missing


def _check_score(v: Any) -> bool:
    return (
        isinstance(v, dict)
        and all(_text(v.get(k)) for k in ("score", "low", "high", "date", "producer"))
        and _texts(v.get("factors"), most=4)
    )


def _check_decision(v: Any) -> bool:
    return isinstance(v, dict) and _text(v.get("outcome")) and _text(v.get("effect"))


def _check_way_in(v: Any) -> bool:
    return isinstance(v, dict) and all(_text(v.get(k)) for k in ("link", "portal", "reference", "code"))


def _check_date(v: Any) -> bool:
    return isinstance(v, dt.date) and not isinstance(v, dt.datetime)


def _check_contact(v: Any) -> bool:
    return isinstance(v, dict) and _text(v.get("name")) and (_text(v.get("email")) or _text(v.get("phone")))


def _check_sources(v: Any) -> bool:
    rows = v if isinstance(v, list | tuple) else []
    return bool(rows) and all(
        isinstance(d, dict) and _text(d.get("label")) and _text(d.get("source")) for d in rows
    )


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "decision": _check_decision,
    "reasons": lambda v: _texts(v, most=4),
    "appeal_how": _check_way_in,
    "appeal_deadline": _check_date,
    "human_contact": _check_contact,
    "data_sources": _check_sources,
    "score_disclosure": _check_score,
}


def missing_elements(elements: Mapping[str, Any], template_key: str) -> list[str]:
    """The completeness gate (S13): every element the template requires, checked on data. Empty = complete."""
    facts = elements.get("_facts", {})
    missing: list[str] = []
    for name in required_elements(template_key, elements):
        value = elements.get(name)
        if name == "external_routes":
            missing += _check_routes(value, facts)
        elif not _CHECKS.get(name, _text)(value):
            missing.append(name)
    return missing


# ------------------------------------------------------------------------------------------ phrases

_ROUTE_KINDS = {
    "en": {
        "ombudsman": "Ombudsman",
        "odr": "Out-of-court dispute body",
        "court": "Court",
        "regulator": "Regulator",
        "other": "Other help",
    },
    "es": {
        "ombudsman": "Defensor del Pueblo",
        "odr": "Órgano de resolución extrajudicial",
        "court": "Tribunal",
        "regulator": "Autoridad de control",
        "other": "Otra ayuda",
    },
}

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "appeal_free": "Appealing is free. You do not need a lawyer.",
        "right_to_explanation": "You can ask us to explain this decision in more detail. "
        "We will answer within one month.",
        "right_to_data": "You can ask for a copy of all the information we hold about you. It is free.",
        "right_to_dispute_data": "If any of this information is wrong, tell us. "
        "We will check it within 30 days. If it is wrong, we will fix it and look at the decision again.",
        "stay": "If you appeal by {deadline}, we will not apply this decision until a person has decided "
        "on your appeal.",
        "no_stay": "This decision still applies while we look at your appeal.",
        "consumer_report": "We used a report from {sources}. They did not make this decision and cannot "
        "tell you why we made it. You can get a free copy of your report from them if you ask within "
        "60 days. You can ask them to fix anything in it that is wrong.",
        "no_consumer_report": "We did not use a report from a credit reporting agency.",
        "equal_credit": "The law says a lender must not treat you unfairly because of your race, colour, "
        "religion, national origin, sex, marital status or age. It must not treat you unfairly because "
        "you get public benefits, or because you used your rights under consumer credit law.",
        "equal_credit_regulator": "The body that checks that {organisation} follows this law is {name}.",
        "right_to_hearing": "You have the right to a hearing. A person who did not make this decision will "
        "hear your case. You can see your file first. You can bring someone to help you.",
        "oral_hearing": "You can ask to speak at the hearing.",
        "aid_paid_pending": "If you ask for a hearing by {deadline}, your payments will go on until the "
        "hearing decision.",
        "legal_ground": "We made this decision under: {basis}",
    },
    "es": {
        "appeal_free": "Apelar es gratis. No necesita abogado.",
        "right_to_explanation": "Puede pedirnos que le expliquemos esta decisión con más detalle. "
        "Le responderemos en un mes como máximo.",
        "right_to_data": "Puede pedir una copia de todos los datos que tenemos sobre usted. Es gratis.",
        "right_to_dispute_data": "Si algún dato no es correcto, díganoslo. Lo revisaremos en 30 días. "
        "Si está mal, lo corregiremos y volveremos a mirar la decisión.",
        "stay": "Si apela antes del {deadline} (incluido), no aplicaremos esta decisión hasta que una "
        "persona decida sobre su apelación.",
        "no_stay": "Esta decisión se aplica mientras revisamos su apelación.",
        "consumer_report": "Usamos un informe de {sources}. No tomaron esta decisión y no pueden decirle "
        "por qué la tomamos. Puede pedirles una copia gratis de su informe en los próximos 60 días. "
        "Puede pedirles que corrijan lo que esté mal.",
        "no_consumer_report": "No usamos ningún informe de una agencia de crédito.",
        "equal_credit": "La ley dice que un prestamista no puede tratarle de forma injusta por su raza, "
        "color, religión, origen, sexo, estado civil o edad. Tampoco puede hacerlo porque reciba "
        "ayudas públicas o porque haya usado sus derechos como consumidor de crédito.",
        "equal_credit_regulator": "El organismo que vigila que {organisation} cumple esta ley es {name}.",
        "right_to_hearing": "Tiene derecho a una audiencia. Una persona que no tomó esta decisión "
        "escuchará su caso. Puede ver su expediente antes. Puede venir con alguien que le ayude.",
        "oral_hearing": "Puede pedir hablar en la audiencia.",
        "aid_paid_pending": "Si pide una audiencia antes del {deadline} (incluido), seguirá cobrando su "
        "ayuda hasta que se decida.",
        "legal_ground": "Tomamos esta decisión según: {basis}",
    },
}


# ------------------------------------------------------------------------------------------ elements


@dataclass(frozen=True)
class WayIn:
    """How the person reaches their decision: the signed link, or the portal start page with reference and
    secret code (the code in plain text exists only here and in the notice)."""

    link: str
    portal: str
    reference: str
    code: str


def way_in_for(decision: Decision, code: str) -> WayIn:
    return WayIn(
        link=access.decision_link_url(decision.pk, valid_days=access.link_validity_days(decision.system)),
        portal=f"{settings.SITE_URL}/portal/",
        reference=decision.public_reference,
        code=code,
    )


def appeal_deadline(decision: Decision) -> dt.date:
    """S17: the last day to appeal, a date in the system's zone: the decision date plus the window."""
    return clock.deadline_date(
        decision.decided_at, decision.system.appeal_window_days, decision.system.time_zone
    )


def _routes(system: Any) -> list[dict[str, str]]:
    out = []
    for r in system.external_routes or []:
        if isinstance(r, dict):
            out.append({k: str(r.get(k) or "") for k in ("kind", "name", "url")})
    return out


def _score_disclosure(decision: Decision, lang: str) -> dict[str, Any] | None:
    if decision.score is None:
        return None
    system = decision.system
    low = decision.score_min if decision.score_min is not None else decision.version.score_min
    high = decision.score_max if decision.score_max is not None else decision.version.score_max
    factors = [localized(r.reason_code.text, lang) for r in decision.reasons.all()][:4]
    return {
        "score": format_number(decision.score, lang),
        "low": format_number(low, lang) if low is not None else "",
        "high": format_number(high, lang) if high is not None else "",
        "factors": factors,
        "date": format_date(clock.local_date(decision.decided_at, decision.system.time_zone), lang),
        "producer": f"{system.owner_organisation} ({system.name}, {decision.version.version})",
    }


def notice_elements(decision: Decision, language: str, way_in: WayIn) -> dict[str, Any]:
    """The structured content of the decision notice, from the stored record only (S13's list)."""
    lang = language_for(language)
    p = PHRASES[lang]
    system = decision.system
    expl = render_explanation(decision, lang)
    deadline = appeal_deadline(decision)
    deadline_text = format_date(deadline, lang)
    routes = _routes(system)
    basis = system.legal_basis.strip()
    data_sources = [
        {"label": d.label, "value": d.value, "source": d.source, "as_of": d.as_of} for d in expl.data
    ]
    elements: dict[str, Any] = {
        "_facts": {
            "domain": system.domain,
            "adverse": decision.adverse,
            "score_used": decision.score is not None,
            "stays_effect": bool(system.stay_on_appeal),
        },
        "decision": {"outcome": expl.outcome, "effect": expl.effect},
        "reasons": list(expl.rationale),
        "automation": automation_text(decision, lang),
        "legal_ground": p["legal_ground"].format(basis=basis) if basis else "",
        "appeal_how": {
            "link": way_in.link,
            "portal": way_in.portal,
            "reference": way_in.reference,
            "code": way_in.code,
        },
        "appeal_deadline": deadline,
        "appeal_free": p["appeal_free"],
        "human_contact": {
            "name": system.review_contact_name,
            "email": system.review_contact_email,
            "phone": system.review_contact_phone,
        },
        "external_routes": routes,
        "right_to_explanation": p["right_to_explanation"],
        "right_to_data": p["right_to_data"],
        "data_sources": data_sources,
        "right_to_dispute_data": p["right_to_dispute_data"],
        "effect_during_appeal": (p["stay"] if system.stay_on_appeal else p["no_stay"]).format(
            deadline=deadline_text
        ),
    }
    if system.domain == "credit":
        elements["score_disclosure"] = _score_disclosure(decision, lang)
        bureau_sources = sorted(
            {
                i.source or i.feature.source
                for i in decision.inputs.all()
                if i.feature.context == "credit_history"
            }
        )
        elements["consumer_report"] = (
            p["consumer_report"].format(sources=", ".join(bureau_sources))
            if bureau_sources
            else p["no_consumer_report"]
        )
        regulator = next((r for r in routes if r["kind"] == "regulator"), None)
        elements["equal_credit"] = p["equal_credit"] + (
            " "
            + p["equal_credit_regulator"].format(
                organisation=system.owner_organisation, name=regulator["name"]
            )
            if regulator
            else ""
        )
    if system.domain == "public_benefits":
        hearing = p["right_to_hearing"]
        if system.oral_hearing_allowed:
            hearing += " " + p["oral_hearing"]
        elements["right_to_hearing"] = hearing
        if system.stay_on_appeal:
            elements["aid_paid_pending"] = p["aid_paid_pending"].format(deadline=deadline_text)
    return elements


# ------------------------------------------------------------------------------------------- render


@dataclass(frozen=True)
class RenderedNotice:
    template_key: str
    template_version: int
    language: str
    subject: str
    body_text: str
    body_html: str


def _context(elements: Mapping[str, Any], lang: str, decision_info: Mapping[str, Any]) -> dict[str, Any]:
    """What the templates see: the elements, made display-ready (dates formatted, route kinds named)."""
    e = dict(elements)
    kinds = _ROUTE_KINDS[lang]
    e["routes"] = [
        {**r, "kind_label": kinds.get(r.get("kind", ""), kinds["other"])}
        for r in e.get("external_routes") or []
    ]
    deadline = e.get("appeal_deadline")
    e["deadline"] = format_date(deadline, lang) if isinstance(deadline, dt.date) else ""
    return {"e": e, "d": dict(decision_info)}


def _expected_strings(name: str, value: Any, lang: str) -> list[str]:
    """The text each element must show, for the coverage check."""
    if value is None:
        return []
    if name == "decision":
        return [value["outcome"], value["effect"]]
    if name == "appeal_how":
        return [value["link"], value["reference"], value["code"]]
    if name == "appeal_deadline":
        return [format_date(value, lang)]
    if name == "human_contact":
        return [x for x in (value.get("name"), value.get("email"), value.get("phone")) if x]
    if name == "external_routes":
        return [r["name"] for r in value]
    if name == "data_sources":
        return [x for d in value for x in (d["label"], d["source"])]
    if name == "score_disclosure":
        return [
            value["score"],
            value["low"],
            value["high"],
            value["date"],
            value["producer"],
            *value["factors"],
        ]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


_TAG_RE = re.compile(r"<[^>]+>")


def _flat(text: str) -> str:
    """Whitespace runs as one space, trimmed: ``re.sub(r"\\s+", " ", text).strip()``, in C (``str.split()``
    splits on exactly the characters ``\\s`` matches: both follow ``str.isspace``)."""
    return " ".join(text.split())


def _html_text(markup: str) -> str:
    return _flat(html.unescape(_TAG_RE.sub(" ", markup)))


# The element strings repeat from notice to notice (phrases, labels, names): flatten each once.
_flat_phrase = functools.lru_cache(maxsize=16384)(_flat)


def uncovered_elements(rendered: RenderedNotice, elements: Mapping[str, Any]) -> list[str]:
    """Elements whose text does not appear in both the text and the HTML body (a template dropped them)."""
    text, markup = _flat(rendered.body_text), _html_text(rendered.body_html)
    missing = []
    for name in required_elements(rendered.template_key, elements):
        for s in _expected_strings(name, elements.get(name), rendered.language):
            flat = _flat_phrase(s)
            if flat not in text or flat not in markup:
                missing.append(name)
                break
    return missing


Renderers = tuple[Callable[[Mapping[str, Any]], str], ...]


def notice_renderers(template_key: str, language: str) -> Renderers:
    """The subject, text and HTML templates of ``template_key`` in ``language``, compiled once
    (notifications.rendering: the Django template language's exact output, without its per-call cost).
    A batch looks them up once per template and language and renders every notice with them."""
    template = TEMPLATES[template_key]
    lang = language_for(language)
    return tuple(template_renderer(template.file(lang, part)) for part in ("subject.txt", "txt", "html"))


_BLANK_LINES_RE = re.compile(r"\n{3,}")


def render_notice(
    template_key: str,
    language: str,
    elements: Mapping[str, Any],
    decision_info: Mapping[str, Any],
    renderers: Renderers | None = None,
) -> RenderedNotice:
    """Subject, text and HTML of a notice from its elements. Refuses an incomplete notice (S13).

    ``renderers`` (from ``notice_renderers(template_key, language)``) saves looking the templates up again
    for every notice of a batch."""
    missing = missing_elements(elements, template_key)
    if missing:
        raise NoticeIncomplete(missing, template_key=template_key)
    template = TEMPLATES[template_key]
    lang = language_for(language)
    subject_of, text_of, html_of = renderers or notice_renderers(template_key, lang)
    ctx = _context(elements, lang, decision_info)
    subject = _flat(subject_of(ctx))
    body_text = _BLANK_LINES_RE.sub("\n\n", text_of(ctx)).strip() + "\n"
    body_html = html_of(ctx)
    rendered = RenderedNotice(template.key, template.version, lang, subject, body_text, body_html)
    dropped = uncovered_elements(rendered, elements)
    if dropped:
        raise NoticeIncomplete(dropped, template_key=template_key)
    return rendered


def decision_info(decision: Decision, lang: str) -> dict[str, Any]:
    system = decision.system
    return {
        "reference": decision.public_reference,
        "organisation": system.owner_organisation,
        "system": system.name,
        "date": format_date(clock.local_date(decision.decided_at, system.time_zone), lang),
    }


def decision_notice_render(
    decision: Decision, language: str, way_in: WayIn, renderers: Renderers | None = None
) -> RenderedNotice:
    lang = language_for(language)
    elements = notice_elements(decision, lang, way_in)
    return render_notice(template_for(decision).key, lang, elements, decision_info(decision, lang), renderers)


# ---------------------------------------------------------------------------------------- compose


def _load(decisions: Sequence[Any]) -> list[Decision]:
    from decisions.models import Decision

    ids = [getattr(d, "pk", d) for d in decisions]
    rows = (
        Decision.objects.filter(pk__in=ids)
        .select_related("system", "version", "outcome", "subject", "subject__contact", "explanation")
        .prefetch_related("inputs__feature", "reasons__reason_code", "version__features")
    )
    by_id = {d.pk: d for d in rows}
    return [by_id[i] for i in ids if i in by_id]


def _contact_email(decision: Decision) -> str:
    from decisions.models import SubjectContact

    try:
        return (decision.subject.contact.email or "").strip()
    except SubjectContact.DoesNotExist:
        return ""


def decision_notices_compose(
    *,
    decisions: Sequence[Any],
    actor: Any,
    access_codes: Mapping[Any, str] | None = None,
    loaded: bool = False,
) -> list[Any]:
    """Compose the decision notice for each decision, in the subject's language, for the portal inbox and
    (when an address is known) email, due ``system.notice_due_days`` after recording (S12).

    Call inside the transaction that records the decisions: the outbox rows commit with them.
    ``access_codes`` maps decision id to the plain secret code made at recording (never stored in clear).
    A notice the completeness gate refuses is not written: the decision stays pending notice and a
    ``decision.notice_blocked`` audit event names what is missing, for staff to fix (S13).
    Returns the notices written.

    ``loaded=True`` says the decisions carry everything already (system, version with its features,
    outcome, subject with contact, explanation, and inputs and reasons as prefetched related objects), as
    ``decision_record_many`` hands them over: nothing is read back. Otherwise they are loaded in a fixed
    number of queries. Each template is looked up once per batch and language (``notice_renderers``).
    """
    from notifications.services import NoticeSpec, notice_create_many

    codes = {str(k): v for k, v in (access_codes or {}).items()}
    specs: list[Any] = []
    blocked: list[audit.PendingEvent] = []
    renderers: dict[tuple[str, str], Renderers] = {}
    for decision in list(decisions) if loaded else _load(decisions):
        lang = language_for(decision.subject.language)
        template = template_for(decision)
        key = (template.key, lang)
        if key not in renderers:
            renderers[key] = notice_renderers(template.key, lang)
        try:
            rendered = decision_notice_render(
                decision, lang, way_in_for(decision, codes.get(str(decision.pk), "")), renderers[key]
            )
        except NoticeIncomplete as exc:
            blocked.append(
                audit.PendingEvent(
                    actor=actor,
                    action="decision.notice_blocked",
                    target=decision,
                    data={
                        "subject": decision.subject.pseudonym,
                        "template": template.label,
                        "language": lang,
                        "missing": exc.missing,
                    },
                )
            )
            continue
        due_at = decision.recorded_at + timedelta(days=decision.system.notice_due_days)
        channels = [("portal", "")]
        email = _contact_email(decision)
        if email:
            channels.insert(0, ("email", email))
        for channel, address in channels:
            specs.append(
                NoticeSpec(
                    kind="decision",
                    topic_type=DECISION_TOPIC,
                    topic_id=str(decision.pk),
                    recipient=decision.subject.pseudonym,
                    channel=channel,
                    language=lang,
                    to_address=address,
                    subject=rendered.subject,
                    body_text=rendered.body_text,
                    body_html=rendered.body_html,
                    template_key=rendered.template_key,
                    template_version=str(rendered.template_version),
                    due_at=due_at,
                    dedupe_key=f"decision:{decision.pk}:{channel}",
                )
            )
    if blocked:
        audit.record_many(blocked)
    return list(notice_create_many(specs=specs, actor=actor)) if specs else []


# ---------------------------------------------------------------------------- versions and readability


def template_files(template_key: str) -> list[Path]:
    domain, name = template_key.split("/")
    return sorted((TEMPLATE_DIR / domain).glob(f"{name}.*")) + sorted(TEMPLATE_DIR.glob("_partials/*"))


def template_fingerprint(template_key: str) -> str:
    """What a template version stands for: its files, the shared partials and the phrase catalogue."""
    h = hashlib.sha256()
    for path in template_files(template_key):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    from decisions.explanations import _WORDS

    h.update(json.dumps([PHRASES, _ROUTE_KINDS, _WORDS], sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


_SPECIMEN: dict[str, dict[str, Any]] = {
    "en": {
        "outcome": "Credit limit refused",
        "effect": "You will not get the credit limit you asked for.",
        "reasons": [
            "You missed some payments in the last 12 months.",
            "Your debts are high compared with your income.",
        ],
        "data": [
            {"label": "Payments on time", "value": "82%", "source": "Credit bureau", "as_of": "1 March 2027"},
            {"label": "Monthly income", "value": "2,100 EUR", "source": "Your application", "as_of": ""},
        ],
        "basis": "our credit agreement with you, section 4.",
        "routes": [
            {"kind": "ombudsman", "name": "Financial Ombudsman", "url": "https://ombudsman.example"},
            {"kind": "odr", "name": "Disputes Board", "url": "https://odr.example"},
            {"kind": "court", "name": "The local court", "url": ""},
        ],
    },
    "es": {
        "outcome": "Límite de crédito denegado",
        "effect": "No tendrá el límite de crédito que pidió.",
        "reasons": [
            "No pagó a tiempo algunas cuotas en los últimos 12 meses.",
            "Sus deudas son altas para sus ingresos.",
        ],
        "data": [
            {
                "label": "Pagos a tiempo",
                "value": "82 %",
                "source": "Agencia de crédito",
                "as_of": "1 de marzo de 2027",
            },
            {"label": "Ingresos al mes", "value": "2.100 EUR", "source": "Su solicitud", "as_of": ""},
        ],
        "basis": "nuestro contrato de crédito con usted, apartado 4.",
        "routes": [
            {"kind": "ombudsman", "name": "Defensor del Cliente", "url": "https://ombudsman.example"},
            {"kind": "odr", "name": "Junta Arbitral", "url": "https://odr.example"},
            {"kind": "court", "name": "El juzgado local", "url": ""},
        ],
    },
}


def specimen_elements(template_key: str, language: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A complete, realistic element dict for a template (no database): for readability and layout checks."""
    lang = language_for(language)
    s, p = _SPECIMEN[lang], PHRASES[lang]
    deadline = dt.date(2027, 9, 1)
    deadline_text = format_date(deadline, lang)
    domain = template_key.split("/")[0]
    adverse = template_key != "generic/favourable"
    elements: dict[str, Any] = {
        "_facts": {"domain": domain, "adverse": adverse, "score_used": True, "stays_effect": True},
        "decision": {"outcome": s["outcome"], "effect": s["effect"]},
        "reasons": list(s["reasons"]) if adverse else [],
        "automation": _AUTOMATION_SPECIMEN[lang],
        "legal_ground": p["legal_ground"].format(basis=s["basis"]),
        "appeal_how": {
            "link": "https://contestable.example/portal/open/TOKEN",
            "portal": "https://contestable.example/portal/",
            "reference": "CRD-7K3M-Q9XP",
            "code": "4F7KQ2MX",
        },
        "appeal_deadline": deadline,
        "appeal_free": p["appeal_free"],
        "human_contact": {"name": "Review team", "email": "review@bank.example", "phone": "0800 123 456"},
        "external_routes": list(s["routes"]),
        "right_to_explanation": p["right_to_explanation"],
        "right_to_data": p["right_to_data"],
        "data_sources": list(s["data"]),
        "right_to_dispute_data": p["right_to_dispute_data"],
        "effect_during_appeal": p["stay"].format(deadline=deadline_text) if adverse else "",
        "score_disclosure": {
            "score": "540",
            "low": "300",
            "high": "850",
            "factors": list(s["reasons"]),
            "date": format_date(dt.date(2027, 3, 1), lang),
            "producer": "Example Bank (Credit limit scorecard, v1)",
        },
        "consumer_report": p["consumer_report"].format(sources="Example Credit Bureau"),
        "equal_credit": p["equal_credit"],
        "right_to_hearing": p["right_to_hearing"],
        "aid_paid_pending": p["aid_paid_pending"].format(deadline=deadline_text),
    }
    info = {
        "reference": "CRD-7K3M-Q9XP",
        "organisation": "Example Bank",
        "system": "Credit limit",
        "date": "",
    }
    info["date"] = format_date(dt.date(2027, 3, 4), lang)
    return elements, info


_AUTOMATION_SPECIMEN = {
    "en": "A computer system found the case. A computer system made this decision. "
    "No person checked it before it was sent.",
    "es": "Un sistema informático detectó el caso. Un sistema informático tomó esta decisión. "
    "Ninguna persona la revisó antes de enviarla.",
}


@dataclass(frozen=True)
class TemplateReadability:
    template: str  # "credit/decision@1"
    language: str
    grade: float
    scores: dict[str, float]
    words: int
    warning: str


_URL_RE = re.compile(r"https?://\S+|\S+@\S+")


def readable_text(body_text: str) -> str:
    """The prose a reader reads: links, addresses and the reference/code lines left out."""
    return _URL_RE.sub("", body_text)


def template_readability_report() -> list[TemplateReadability]:
    """S14: the reading grade of every notice template in every language, rendered with specimen data.
    A template above grade 8 carries a warning (shown by the safeguards check and on a staff page)."""
    from decisions.readability import readability

    report = []
    for key, template in sorted(TEMPLATES.items()):
        for lang in ("en", "es"):
            elements, info = specimen_elements(key, lang)
            rendered = render_notice(key, lang, elements, info)
            r = readability(readable_text(rendered.body_text), lang)
            report.append(TemplateReadability(template.label, lang, r.grade, r.scores, r.words, r.warning))
    return report


# ------------------------------------------------------------------------------------------ staff lists


@dataclass(frozen=True)
class BlockedDecision:
    decision: Any
    missing: list[str]  # from the latest decision.notice_blocked event ([] when none was recorded)
    overdue: bool  # past the notice clock (S12)


def decisions_without_notice(*, limit: int = 500) -> list[BlockedDecision]:
    """Decisions with no decision notice: adverse ones waiting for it, and any whose notice the gate refused,
    oldest first, with what the gate found missing. Staff fix the cause and compose again (S12, S13)."""
    from django.db.models import Q

    from core.models import AuditEvent
    from decisions.models import Decision
    from notifications.models import Notice

    refused = list(
        AuditEvent.objects.filter(action="decision.notice_blocked")
        .order_by("-id")
        .values_list("target_id", flat=True)[: limit * 4]
    )
    waiting = Q(adverse=True, status=Decision.Status.PENDING_NOTICE, effective_at__isnull=True)
    candidates = list(
        Decision.objects.filter(waiting | Q(pk__in=set(refused)))
        .select_related("system", "subject")
        .order_by("recorded_at")[: limit * 2]
    )
    ids = [str(d.pk) for d in candidates]
    noticed = set(
        Notice.objects.filter(topic_type=DECISION_TOPIC, topic_id__in=ids, kind="decision").values_list(
            "topic_id", flat=True
        )
    )
    missing: dict[str, list[str]] = {}
    for target_id, data in (
        AuditEvent.objects.filter(action="decision.notice_blocked", target_id__in=ids)
        .order_by("id")
        .values_list("target_id", "data")
    ):
        missing[target_id] = list((data or {}).get("missing", []))
    now = clock.now()
    out = []
    for d in candidates:
        if str(d.pk) in noticed:
            continue
        due = d.recorded_at + timedelta(days=d.system.notice_due_days)
        out.append(BlockedDecision(d, missing.get(str(d.pk), []), due < now))
        if len(out) >= limit:
            break
    return out


def decision_notice_compose_again(*, decision: Any, actor: Any) -> list[Any]:
    """Compose the notice of a decision that has none, after staff fixed what the gate found missing.

    The first access code was never sent (its plain text is gone), so a fresh one is issued for this notice
    (audit ``decision.access_code_reissued``). Returns the notices written; an empty list means the gate
    refused again (a new ``decision.notice_blocked`` event says why). A decision that already has a notice
    is refused (``Conflict``): resending a delivered notice is the outbox's job.
    """
    from django.db import transaction

    from core.errors import Conflict
    from decisions.models import Decision
    from notifications.models import Notice

    with transaction.atomic():
        d = Decision.objects.select_for_update(of=("self",)).select_related("subject").get(pk=decision.pk)
        if Notice.objects.filter(topic_type=DECISION_TOPIC, topic_id=str(d.pk), kind="decision").exists():
            raise Conflict("This decision already has its notice; retry delivery from the outbox instead.")
        code = access.new_access_code()
        d.access_code_hash = access.hash_access_code(d.public_reference, code)
        d.save(update_fields=["access_code_hash"])
        audit.record(
            actor=actor,
            action="decision.access_code_reissued",
            target=d,
            data={"subject": d.subject.pseudonym},
        )
        return decision_notices_compose(decisions=[d], access_codes={d.pk: code}, actor=actor)
