"""Notices about contests: appeal received or accepted or refused, information requested, appeal outcome,
decision reversed, delay, data dispute outcome, explanation response and extension (S17-S20, S25-S27).

The same approach as ``decisions.notices`` (and its helpers, reused here): for each notice a builder reads
the stored records and makes a structured *element dict*; the completeness gate checks that dict (data,
not text) against the elements the template requires; a versioned template per language lays the elements
out as subject, text and HTML; a coverage check makes sure every element's text appears in both bodies.
An incomplete notice is never sent: the service goes on and an ``appeal.notice_blocked`` audit event names
what is missing, for staff to fix (as ``decision.notice_blocked`` does).

Notices go to the person's portal inbox and, when an address is known, by email to the person and to the
representative who filed for them. Dates come from the stored records, never from the current time, so a
notice renders the same text every time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.template import engines

from core import audit, clock
from decisions import access
from decisions import notices as decision_notices
from decisions.explanations import format_date, format_value, language_for, localized, render_explanation
from decisions.notices import NoticeIncomplete, NoticeTemplate, RenderedNotice

if TYPE_CHECKING:
    from appeals.models import Appeal, DataDispute, ExplanationRequest, InformationRequest, Review
    from decisions.models import Decision

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "appeals" / "notices"


@dataclass(frozen=True)
class AppealNoticeTemplate(NoticeTemplate):
    kind: str = ""  # the Notice kind it is sent as

    def file(self, language: str, part: str) -> str:
        return f"appeals/notices/{self.key}.{language}.{part}"


_BASE = ("case", "human_contact", "way_in")

TEMPLATES: dict[str, AppealNoticeTemplate] = {
    t.key: t
    for t in (
        AppealNoticeTemplate(
            "appeal_received",
            2,
            "8cdb0ee889636e42",
            (*_BASE, "received_on", "next_step", "stay"),
            "appeal_received",
        ),
        AppealNoticeTemplate(
            "appeal_accepted",
            2,
            "a43955258185afdb",
            (*_BASE, "due_date", "next_step", "stay"),
            "appeal_received",
        ),
        AppealNoticeTemplate(
            "appeal_refused",
            2,
            "87cba607a1414577",
            (*_BASE, "refusal_reasons", "external_routes"),
            "appeal_outcome",
        ),
        AppealNoticeTemplate(
            "information_requested",
            2,
            "7cf0b2ecea274b8b",
            (*_BASE, "question", "reply_by", "clock_paused"),
            "information_requested",
        ),
        AppealNoticeTemplate(
            "appeal_outcome",
            2,
            "f9221d3274a6fcf3",
            (
                *_BASE,
                "outcome",
                "rationale",
                "evidence_relied_on",
                "effect_now",
                "external_routes",
                "case_file",
            ),
            "appeal_outcome",
        ),
        AppealNoticeTemplate(
            "decision_reversed",
            2,
            "6a00d77c43cd5612",
            (
                *_BASE,
                "outcome",
                "rationale",
                "evidence_relied_on",
                "new_decision",
                "remedy",
                "external_routes",
                "case_file",
            ),
            "decision_reversed",
        ),
        AppealNoticeTemplate(
            "appeal_closed", 1, "0c19b243ce5c7531", (*_BASE, "close_reason", "new_decision"), "appeal_outcome"
        ),
        AppealNoticeTemplate(
            "delay", 2, "3d31f7552d0cf48b", (*_BASE, "missed_date", "new_date", "delay_reason"), "delay"
        ),
        AppealNoticeTemplate(
            "dispute_outcome",
            2,
            "7ae04422246bd6b5",
            (*_BASE, "value_checked", "result", "decisions_result"),
            "dispute_outcome",
        ),
        AppealNoticeTemplate(
            "explanation_response",
            2,
            "9a4ab80cfcc0d46a",
            (*_BASE, "question", "answer", "explanation"),
            "explanation_response",
        ),
        AppealNoticeTemplate(
            "explanation_extended",
            2,
            "fa04ac238064ac04",
            (*_BASE, "missed_date", "new_date", "delay_reason"),
            "delay",
        ),
    )
}

# ------------------------------------------------------------------------------------------ phrases

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "next_in_time": "A person who had no part in the decision will look at your appeal. "
        "We will tell you the outcome by {due}.",
        "next_late": "You appealed after the last day, which was {deadline}. A person will read your "
        "reasons for being late and decide if we can still look at your appeal. We will write to you.",
        "next_accepted": "We accepted your reasons for appealing late. A person who had no part in the "
        "decision will look at your appeal.",
        "stay_applied": "We will not apply the decision until a person has decided on your appeal.",
        "stay_refused": "The decision still applies while we look at your appeal. This is why: {reason}",
        "stay_none": "There is nothing to put on hold while we look at your appeal.",
        "clock_paused": "We will not count the time we wait for your answer against our own deadline.",
        "upheld": "We looked at the decision again. The decision stays as it was.",
        "modified": "We changed the decision. The new decision is: {outcome}. {effect}",
        "overturned": "We changed the decision in your favour. The new decision is: {outcome}. {effect}",
        "effect_stay_lifted": "The decision was on hold while we looked at your appeal. It applies again "
        "from now.",
        "effect_applies": "The decision still applies.",
        "new_decision": "The new decision has its own reference: {reference}. We will send you a notice "
        "about it.",
        "no_remedy": "You do not need to do anything.",
        "case_file": "You can ask for a free copy of your whole case file. It has everything we looked at.",
        "evidence_statement": "What you told us in your appeal",
        "evidence_record": "The information we used for the decision",
        "evidence_file": "Your file: {name}",
        "evidence_reply": "Your answer of {date}",
        "delay_reason": "We are sorry. We did not finish looking at your appeal in time. A senior "
        "reviewer now checks it.",
        "explanation_delay_reason": "We need more time to answer your question well. This is why: {reason}",
        "value_checked": "{label}: {value}",
        "corrected": "You were right. We changed {label} from {old} to {new}.",
        "rejected": "We checked {label} and found it was right. This is why: {reason}",
        "decision_changed": "Decision {reference}: we looked at it again with the right information. "
        "The new decision is: {outcome}.",
        "decision_unchanged": "Decision {reference}: we looked at it again with the right information. "
        "The decision stays the same.",
        "decision_redecide": "Decision {reference}: we asked {organisation} to make the decision again "
        "with the right information. They will write to you.",
        "no_decisions": "No decision needed to change.",
        "moot_replaced": "The decision you appealed was replaced by a newer decision.",
        "moot_corrected": "We corrected the information the decision used, so we made the decision again.",
    },
    "es": {
        "next_in_time": "Una persona que no participó en la decisión revisará su apelación. "
        "Le diremos el resultado antes del {due} (incluido).",
        "next_late": "Apeló después del último día, que era el {deadline}. Una persona leerá por qué apeló "
        "tarde y decidirá si aún podemos revisar su apelación. Le escribiremos.",
        "next_accepted": "Aceptamos sus razones para apelar tarde. Una persona que no participó en la "
        "decisión revisará su apelación.",
        "stay_applied": "No aplicaremos la decisión hasta que una persona decida sobre su apelación.",
        "stay_refused": "La decisión se aplica mientras revisamos su apelación. Este es el motivo: {reason}",
        "stay_none": "No hay nada que suspender mientras revisamos su apelación.",
        "clock_paused": "El tiempo que esperemos su respuesta no cuenta en nuestro plazo.",
        "upheld": "Revisamos la decisión. La decisión se mantiene.",
        "modified": "Cambiamos la decisión. La nueva decisión es: {outcome}. {effect}",
        "overturned": "Cambiamos la decisión a su favor. La nueva decisión es: {outcome}. {effect}",
        "effect_stay_lifted": "La decisión estaba en pausa mientras revisábamos su apelación. Se aplica "
        "de nuevo desde ahora.",
        "effect_applies": "La decisión se sigue aplicando.",
        "new_decision": "La nueva decisión tiene su propia referencia: {reference}. Le enviaremos un "
        "aviso sobre ella.",
        "no_remedy": "No tiene que hacer nada.",
        "case_file": "Puede pedir gratis una copia de todo su expediente. Tiene todo lo que revisamos.",
        "evidence_statement": "Lo que nos dijo en su apelación",
        "evidence_record": "Los datos que usamos para la decisión",
        "evidence_file": "Su archivo: {name}",
        "evidence_reply": "Su respuesta del {date}",
        "delay_reason": "Lo sentimos. No terminamos de revisar su apelación a tiempo. Ahora la revisa una "
        "persona con más experiencia.",
        "explanation_delay_reason": "Necesitamos más tiempo para responder bien a su pregunta. Este es el "
        "motivo: {reason}",
        "value_checked": "{label}: {value}",
        "corrected": "Tenía razón. Cambiamos {label} de {old} a {new}.",
        "rejected": "Revisamos {label} y el dato era correcto. Este es el motivo: {reason}",
        "decision_changed": "Decisión {reference}: la revisamos con el dato correcto. La nueva decisión "
        "es: {outcome}.",
        "decision_unchanged": "Decisión {reference}: la revisamos con el dato correcto. La decisión no "
        "cambia.",
        "decision_redecide": "Decisión {reference}: pedimos a {organisation} que tome la decisión otra "
        "vez con el dato correcto. Le escribirán.",
        "no_decisions": "Ninguna decisión tenía que cambiar.",
        "moot_replaced": "La decisión que apeló fue sustituida por una decisión más reciente.",
        "moot_corrected": "Corregimos los datos que usó la decisión, así que la tomamos otra vez.",
    },
}

REMEDY_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "reinstatement": "We will put things back as they were before the decision.",
        "refund": "We will pay back what you lost because of the decision.",
        "correction": "We will correct our records.",
        "expunged_flag": "We will remove the mark the decision put on your file.",
    },
    "es": {
        "reinstatement": "Dejaremos todo como estaba antes de la decisión.",
        "refund": "Le devolveremos lo que perdió por la decisión.",
        "correction": "Corregiremos nuestros registros.",
        "expunged_flag": "Quitaremos de su expediente la marca que puso la decisión.",
    },
}

# ------------------------------------------------------------------------------------------ the gate

_dn = decision_notices


def _check_case(v: Any) -> bool:
    return isinstance(v, dict) and _dn._text(v.get("reference")) and _dn._text(v.get("decision_reference"))


def _check_way_in(v: Any) -> bool:
    return isinstance(v, dict) and all(_dn._text(v.get(k)) for k in ("link", "portal", "reference"))


_DATES = frozenset({"received_on", "due_date", "reply_by", "missed_date", "new_date"})
_LISTS = frozenset({"evidence_relied_on", "remedy", "decisions_result"})

_CHECKS: dict[str, Callable[[Any], bool]] = {
    "case": _check_case,
    "way_in": _check_way_in,
    "human_contact": _dn._check_contact,
    **{name: _dn._check_date for name in _DATES},
    **{name: _dn._texts for name in _LISTS},
}


def missing_elements(elements: Mapping[str, Any], template_key: str) -> list[str]:
    """The completeness gate: every element the template requires, checked on data. Empty = complete."""
    missing: list[str] = []
    for name in TEMPLATES[template_key].elements:
        value = elements.get(name)
        if name == "external_routes":
            missing += _dn._check_routes(value, elements.get("_facts", {}))
        elif not _CHECKS.get(name, _dn._text)(value):
            missing.append(name)
    return missing


def _expected_strings(name: str, value: Any, lang: str) -> list[str]:
    if name in ("human_contact", "external_routes"):
        return _dn._expected_strings(name, value, lang)
    if name in _DATES:
        return [format_date(value, lang)]
    if name == "case":
        return [value["reference"], value["decision_reference"]]
    if name == "way_in":
        return [value["link"], value["reference"]]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def uncovered_elements(rendered: RenderedNotice, elements: Mapping[str, Any]) -> list[str]:
    text, markup = _dn._flat(rendered.body_text), _dn._html_text(rendered.body_html)
    missing = []
    for name in TEMPLATES[rendered.template_key].elements:
        for s in _expected_strings(name, elements.get(name), rendered.language):
            if _dn._flat(s) not in text or _dn._flat(s) not in markup:
                missing.append(name)
                break
    return missing


def render(template_key: str, language: str, elements: Mapping[str, Any]) -> RenderedNotice:
    """Subject, text and HTML from the elements; refuses an incomplete notice (NoticeIncomplete)."""
    missing = missing_elements(elements, template_key)
    if missing:
        raise NoticeIncomplete(missing, template_key=template_key)
    template = TEMPLATES[template_key]
    lang = language_for(language)
    e = dict(elements)
    for name in _DATES & set(e):
        e[name] = format_date(e[name], lang)
    kinds = _dn._ROUTE_KINDS[lang]
    e["routes"] = [
        {**r, "kind_label": kinds.get(r.get("kind", ""), kinds["other"])}
        for r in e.get("external_routes") or []
    ]
    engine = engines["django"]
    ctx = {"e": e}
    subject = _dn._flat(engine.get_template(template.file(lang, "subject.txt")).render(ctx))
    body_text = engine.get_template(template.file(lang, "txt")).render(ctx)
    body_text = "\n".join(line.rstrip() for line in body_text.splitlines())
    while "\n\n\n" in body_text:
        body_text = body_text.replace("\n\n\n", "\n\n")
    body_text = body_text.strip() + "\n"
    body_html = engine.get_template(template.file(lang, "html")).render(ctx)
    rendered = RenderedNotice(template.key, template.version, lang, subject, body_text, body_html)
    dropped = uncovered_elements(rendered, elements)
    if dropped:
        raise NoticeIncomplete(dropped, template_key=template_key)
    return rendered


# ------------------------------------------------------------------------------------------ elements


def _base(decision: Decision, reference: str, lang: str) -> dict[str, Any]:
    system = decision.system
    return {
        "_facts": {"domain": system.domain},
        "case": {
            "reference": reference,
            "decision_reference": decision.public_reference,
            "organisation": system.owner_organisation,
        },
        "human_contact": {
            "name": system.review_contact_name,
            "email": system.review_contact_email,
            "phone": system.review_contact_phone,
        },
        "way_in": {
            "link": access.decision_link_url(decision.pk, valid_days=access.link_validity_days(system)),
            "portal": f"{settings.SITE_URL}/portal/",
            "reference": decision.public_reference,
        },
        "external_routes": _dn._routes(system),
    }


def _local(moment: dt.datetime | None, decision: Decision) -> dt.date | None:
    return clock.local_date(moment, decision.system.time_zone) if moment else None


def _stay_text(appeal: Appeal, lang: str) -> str:
    p = PHRASES[lang]
    if appeal.stay == "applied":
        return p["stay_applied"]
    if appeal.stay == "refused":
        return p["stay_refused"].format(reason=appeal.stay_reason)
    return p["stay_none"]


def appeal_received_elements(appeal: Appeal, lang: str) -> dict[str, Any]:
    d = appeal.decision
    p = PHRASES[lang]
    e = _base(d, appeal.reference, lang)
    e["received_on"] = _local(appeal.filed_at, d)
    e["due_date"] = appeal.due_date
    if appeal.late:
        e["next_step"] = p["next_late"].format(deadline=format_date(appeal.appeal_deadline, lang))
    else:
        e["next_step"] = p["next_in_time"].format(due=format_date(appeal.due_date, lang))
    e["stay"] = _stay_text(appeal, lang)
    return e


def appeal_accepted_elements(appeal: Appeal, lang: str) -> dict[str, Any]:
    e = _base(appeal.decision, appeal.reference, lang)
    e["due_date"] = appeal.due_date
    e["next_step"] = PHRASES[lang]["next_accepted"]
    e["stay"] = _stay_text(appeal, lang)
    e["triage_reasons"] = appeal.triage_reasons
    return e


def appeal_refused_elements(appeal: Appeal, lang: str) -> dict[str, Any]:
    e = _base(appeal.decision, appeal.reference, lang)
    e["refusal_reasons"] = appeal.triage_reasons
    e["appeal_deadline"] = format_date(appeal.appeal_deadline, lang)
    return e


def information_requested_elements(appeal: Appeal, request: InformationRequest, lang: str) -> dict[str, Any]:
    e = _base(appeal.decision, appeal.reference, lang)
    e["question"] = request.question
    e["reply_by"] = request.reply_due
    e["clock_paused"] = PHRASES[lang]["clock_paused"]
    return e


def evidence_labels(appeal: Appeal, relied_on: Sequence[str], lang: str) -> list[str]:
    """What the reviewer relied on, as the person can recognise it (S26)."""
    p = PHRASES[lang]
    files = {str(f.pk): f for f in appeal.evidence.all()}
    replies = {str(r.pk): r for r in appeal.information_requests.all()}
    out = []
    for item in relied_on:
        if item == "statement":
            out.append(p["evidence_statement"])
        elif item == "decision_record":
            out.append(p["evidence_record"])
        elif item.startswith("reply:") and item[6:] in replies:
            replied = _local(replies[item[6:]].replied_at, appeal.decision)
            out.append(p["evidence_reply"].format(date=format_date(replied, lang)))
        elif item in files:
            out.append(p["evidence_file"].format(name=files[item].original_name))
    return out


def _outcome_words(decision: Decision, lang: str) -> tuple[str, str]:
    return (
        localized(decision.outcome.label, lang) or decision.outcome.code.replace("_", " "),
        localized(decision.outcome.effect, lang),
    )


def appeal_outcome_elements(appeal: Appeal, review: Review, lang: str) -> dict[str, Any]:
    """Upheld, modified or overturned: the outcome, reasons, evidence relied on, the next external route."""
    d = appeal.decision
    p = PHRASES[lang]
    e = _base(d, appeal.reference, lang)
    e["rationale"] = review.rationale
    e["evidence_relied_on"] = evidence_labels(appeal, review.evidence_relied_on or [], lang)
    e["case_file"] = p["case_file"]
    new = appeal.resulting_decision
    if appeal.outcome == "upheld" or new is None:
        e["outcome"] = p["upheld"]
        e["effect_now"] = p["effect_stay_lifted"] if appeal.stay == "lifted" else p["effect_applies"]
        return e
    outcome, effect = _outcome_words(new, lang)
    e["outcome"] = p[appeal.outcome].format(outcome=outcome, effect=effect).strip()
    e["new_decision"] = p["new_decision"].format(reference=new.public_reference)
    e["effect_now"] = e["new_decision"]
    e["remedy"] = [REMEDY_TEXT[lang][r] for r in appeal.remedy if r in REMEDY_TEXT[lang]] or [p["no_remedy"]]
    return e


def appeal_closed_elements(
    appeal: Appeal, *, corrected: bool, new_reference: str, lang: str
) -> dict[str, Any]:
    """An open appeal closed because its decision was replaced (moot): why, and the new decision."""
    p = PHRASES[lang]
    e = _base(appeal.decision, appeal.reference, lang)
    e["close_reason"] = p["moot_corrected" if corrected else "moot_replaced"]
    e["new_decision"] = p["new_decision"].format(reference=new_reference) if new_reference else ""
    return e


def delay_elements(appeal: Appeal, missed: dt.date, new: dt.date, lang: str) -> dict[str, Any]:
    e = _base(appeal.decision, appeal.reference, lang)
    e["missed_date"] = missed
    e["new_date"] = new
    e["delay_reason"] = PHRASES[lang]["delay_reason"]
    return e


def _value_text(decision: Decision, feature: str, value: Any, lang: str) -> tuple[str, str]:
    f = decision.version.features.filter(name=feature).first()
    label = localized(f.label, lang) if f else feature.replace("_", " ")
    return label or feature, format_value(value, lang, f.unit if f else "")


def dispute_outcome_elements(dispute: DataDispute, lang: str) -> dict[str, Any]:
    d = dispute.decision
    p = PHRASES[lang]
    e = _base(d, dispute.reference, lang)
    label, old = _value_text(d, dispute.feature, dispute.disputed_value, lang)
    e["value_checked"] = p["value_checked"].format(label=label, value=old)
    if dispute.status == "corrected":
        _label, new = _value_text(d, dispute.feature, dispute.corrected_value, lang)
        e["result"] = p["corrected"].format(label=label, old=old, new=new)
    else:
        e["result"] = p["rejected"].format(label=label, reason=dispute.resolution_note)
    lines = []
    for effect in dispute.effects or []:
        action = effect.get("action")
        if action == "superseded":
            lines.append(
                p["decision_changed"].format(
                    reference=effect["reference"],
                    outcome=localized(effect.get("to_label"), lang) or effect["to_outcome"],
                )
            )
        elif action == "unchanged":
            lines.append(p["decision_unchanged"].format(reference=effect["reference"]))
        elif action == "redecide_requested":
            lines.append(
                p["decision_redecide"].format(
                    reference=effect["reference"], organisation=d.system.owner_organisation
                )
            )
    e["decisions_result"] = lines or [p["no_decisions"]]
    return e


def explanation_response_elements(request: ExplanationRequest, lang: str) -> dict[str, Any]:
    d = request.decision
    e = _base(d, request.reference, lang)
    e["question"] = request.question
    e["answer"] = request.answer
    e["explanation"] = render_explanation(d, lang).text.strip()
    return e


def explanation_extended_elements(request: ExplanationRequest, lang: str) -> dict[str, Any]:
    e = _base(request.decision, request.reference, lang)
    e["missed_date"] = request.original_due_date
    e["new_date"] = request.due_date
    e["delay_reason"] = PHRASES[lang]["explanation_delay_reason"].format(reason=request.extension_reason)
    return e


# ------------------------------------------------------------------------------------------ compose


def _emails(decision: Decision, extra: Sequence[str]) -> list[str]:
    from decisions.models import SubjectContact

    out = []
    try:
        email = (decision.subject.contact.email or "").strip()
    except SubjectContact.DoesNotExist:
        email = ""
    for address in (email, *extra):
        address = (address or "").strip()
        if address and address not in out:
            out.append(address)
    return out


def compose(
    *,
    template_key: str,
    target: Any,
    decision: Decision,
    language: str,
    elements: Mapping[str, Any],
    dedupe: str,
    actor: Any,
    extra_emails: Sequence[str] = (),
    email: bool = True,
) -> list[Any]:
    """Render and write the notice to the outbox (portal inbox, and email when an address is known), in
    the caller's transaction. An incomplete notice writes nothing and is audited as blocked."""
    from notifications.services import NoticeSpec, notice_create_many

    template = TEMPLATES[template_key]
    lang = language_for(language)
    try:
        rendered = render(template_key, lang, elements)
    except NoticeIncomplete as exc:
        audit.record(
            actor=actor,
            action=f"{target._meta.model_name}.notice_blocked",
            target=target,
            data={
                "template": template.label,
                "language": lang,
                "missing": exc.missing,
                "subject": decision.subject.pseudonym,
            },
        )
        return []
    channels: list[tuple[str, str]] = [("portal", "")]
    if email:
        channels += [("email", address) for address in _emails(decision, extra_emails)]
    specs = [
        NoticeSpec(
            kind=template.kind,
            topic_type=target._meta.label_lower,
            topic_id=str(target.pk),
            recipient=decision.subject.pseudonym,
            channel=channel,
            language=lang,
            to_address=address,
            subject=rendered.subject,
            body_text=rendered.body_text,
            body_html=rendered.body_html,
            template_key=f"appeals/{template.key}",
            template_version=str(template.version),
            dedupe_key=f"{target._meta.model_name}:{target.pk}:{dedupe}:{channel}:{i}"[:200],
        )
        for i, (channel, address) in enumerate(channels)
    ]
    return list(notice_create_many(specs=specs, actor=actor))


def _representative_email(appeal: Appeal) -> list[str]:
    from appeals.models import AppealContact

    try:
        return [appeal.contact.representative_email] if appeal.contact.representative_email else []
    except AppealContact.DoesNotExist:
        return []


def compose_for(
    target: Any, template_key: str, elements: Mapping[str, Any], *, dedupe: str, actor: Any
) -> list[Any]:
    """Notices about an appeal, a dispute or an explanation request (``target`` has ``decision`` and
    ``language``), to the person; for an appeal also to the representative who filed it, and by email only
    if the person did not ask for the portal alone."""
    from appeals.models import Appeal

    is_appeal = isinstance(target, Appeal)
    return compose(
        template_key=template_key,
        target=target,
        decision=target.decision,
        language=target.language,
        elements=elements,
        dedupe=dedupe,
        actor=actor,
        extra_emails=_representative_email(target) if is_appeal else (),
        email=not (is_appeal and target.contact_preference == "portal"),
    )


# ------------------------------------------------------------------------------------------ templates


def template_files(template_key: str) -> list[Path]:
    return sorted(TEMPLATE_DIR.glob(f"{template_key}.*")) + sorted(TEMPLATE_DIR.glob("_*"))


def template_fingerprint(template_key: str) -> str:
    """What a template version stands for: its files, the shared base and the phrase catalogues."""
    h = hashlib.sha256()
    for path in template_files(template_key):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps([PHRASES, REMEDY_TEXT], sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------------------ readability (S14)

_SPECIMEN_TEXT = {
    "en": {
        "question": "Please send a payslip from March that shows your new income.",
        "answer": "We looked at your income and your payments. Your income was below our limit.",
        "rationale": "Your payslips show a higher income than we used. With that income you meet our rules.",
        "reasons": "You gave no reason for appealing late, and we could not find one.",
        "explanation": "Why we decided this: your income was low for this limit.",
        "file": "payslip-march.pdf",
    },
    "es": {
        "question": "Envíenos una nómina de marzo que muestre sus nuevos ingresos.",
        "answer": "Revisamos sus ingresos y sus pagos. Sus ingresos estaban por debajo de nuestro límite.",
        "rationale": "Sus nóminas muestran más ingresos de los que usamos. Con ellos cumple las normas.",
        "reasons": "No nos dio ningún motivo para apelar tarde y no encontramos ninguno.",
        "explanation": "Por qué lo decidimos: sus ingresos eran bajos para este límite.",
        "file": "nomina-marzo.pdf",
    },
}


def specimen_elements(template_key: str, language: str) -> dict[str, Any]:
    """A complete, realistic element dict for a template (no database): for readability and layout checks."""
    lang = language_for(language)
    p, t = PHRASES[lang], _SPECIMEN_TEXT[lang]
    due, missed = dt.date(2027, 4, 2), dt.date(2027, 3, 3)
    e: dict[str, Any] = {
        "_facts": {"domain": "credit"},
        "case": {
            "reference": "APL-7K3M-Q9XP",
            "decision_reference": "CRD-4F7K-Q2MX",
            "organisation": "Example Bank",
        },
        "human_contact": {"name": "Review team", "email": "review@bank.example", "phone": "0800 123 456"},
        "way_in": {
            "link": "https://contestable.example/portal/open/TOKEN",
            "portal": "https://contestable.example/portal/",
            "reference": "CRD-4F7K-Q2MX",
        },
        "external_routes": [
            {"kind": "ombudsman", "name": "Financial Ombudsman", "url": "https://ombudsman.example"},
            {"kind": "court", "name": "District Court", "url": ""},
        ],
        "received_on": missed,
        "due_date": due,
        "next_step": p["next_in_time"].format(due=format_date(due, lang)),
        "stay": p["stay_applied"],
        "refusal_reasons": t["reasons"],
        "question": t["question"],
        "reply_by": due,
        "clock_paused": p["clock_paused"],
        "outcome": p["upheld"],
        "rationale": t["rationale"],
        "evidence_relied_on": [p["evidence_statement"], p["evidence_file"].format(name=t["file"])],
        "effect_now": p["effect_stay_lifted"],
        "case_file": p["case_file"],
        "new_decision": p["new_decision"].format(reference="CRD-9Z8Y-X7W6"),
        "remedy": [REMEDY_TEXT[lang]["reinstatement"], REMEDY_TEXT[lang]["correction"]],
        "missed_date": missed,
        "new_date": due,
        "delay_reason": p["delay_reason"],
        "value_checked": p["value_checked"].format(label="Annual income", value="21,000"),
        "result": p["corrected"].format(label="Annual income", old="21,000", new="30,000"),
        "decisions_result": [p["decision_unchanged"].format(reference="CRD-4F7K-Q2MX")],
        "answer": t["answer"],
        "explanation": t["explanation"],
        "close_reason": p["moot_corrected"],
    }
    if template_key == "appeal_accepted":
        e["next_step"] = p["next_accepted"]
    if template_key == "decision_reversed":
        e["outcome"] = p["overturned"].format(outcome="Approved", effect="You get the limit you asked for.")
    if template_key == "explanation_extended":
        e["delay_reason"] = p["explanation_delay_reason"].format(reason="We must ask the credit bureau.")
    return e


def template_readability_report() -> list[Any]:
    """S14: the reading grade of every appeal notice template in both languages, from specimen data. A
    template above grade 8 carries a warning (the same figures as ``decisions.notices``)."""
    from decisions.notices import TemplateReadability, readable_text
    from decisions.readability import readability

    report = []
    for key, template in sorted(TEMPLATES.items()):
        for lang in ("en", "es"):
            rendered = render(key, lang, specimen_elements(key, lang))
            r = readability(readable_text(rendered.body_text), lang)
            report.append(TemplateReadability(template.label, lang, r.grade, r.scores, r.words, r.warning))
    return report
