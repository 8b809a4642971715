"""Reads for the person's pages: their case as they may see it, in their language.

Everything the person sees is scoped to the decisions of their session (``Visitor.lineage``: the decision
they proved and any that replaced it) and to the appeals, data disputes and explanation requests on those
decisions. Notices are matched by topic (the decision, or one of those contests), never by person alone.

``case_file`` gathers all of it into one JSON-ready dict: the "download my case file" page draws it as
HTML ready to print, and the JSON download is the same dict (S26: the person can see their whole file).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models import Model, Q, QuerySet
from django.urls import reverse

from appeals import notices as appeal_notices
from appeals.models import Appeal, DataDispute, EvidenceFile, ExplanationRequest, Review
from appeals.workflow import OPEN_STATES, State
from core import clock
from decisions.explanations import format_date, format_value, localized, render_explanation
from decisions.models import Decision, SubjectContact
from decisions.notices import PHRASES as DECISION_PHRASES
from decisions.notices import appeal_deadline
from notifications.models import Notice
from portal import thread as messaging
from portal.session import Visitor
from portal.text import say

DECISION_TOPIC = "decisions.decision"
OPEN = [s.value for s in OPEN_STATES]
APPEALABLE = (Decision.Status.PENDING_NOTICE, Decision.Status.EFFECTIVE, Decision.Status.STAYED)


def day(v: Visitor, moment: dt.datetime | dt.date | None) -> str:
    """A date as the person reads it, in the system's zone: "4 March 2027" / "4 de marzo de 2027"."""
    if moment is None:
        return ""
    if isinstance(moment, dt.datetime):
        moment = clock.local_date(moment, v.tz)
    return format_date(moment, v.lang)


def iso(moment: dt.datetime | dt.date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# ------------------------------------------------------------------------------------------ what is theirs


def decisions_so_far(v: Visitor) -> list[Any]:
    """The decisions of the case up to the one being looked at (older ones it replaced included)."""
    ids = v.lineage
    return ids[: ids.index(v.decision.pk) + 1] if v.decision.pk in ids else [v.decision.pk]


def appeals_of(v: Visitor, *, all_decisions: bool = False) -> QuerySet[Appeal]:
    ids = v.lineage if all_decisions else [v.decision.pk]
    return (
        Appeal.objects.filter(decision_id__in=ids)
        .select_related("decision", "decision__system", "resulting_decision", "resulting_decision__outcome")
        .prefetch_related("evidence", "information_requests", "escalations")
        .order_by("filed_at", "id")
    )


_REFERENCE = re.compile(r"^[A-Z0-9]{2,6}(?:-[A-Z0-9]{2,8}){1,3}$")


def reference_ok(reference: str) -> bool:
    """The shape of a public reference ("APL-7K3M-Q9XP"): anything else is not looked up at all."""
    return bool(_REFERENCE.match(reference or ""))


def appeal_for(v: Visitor, reference: str) -> Appeal | None:
    if not reference_ok(reference):
        return None
    return appeals_of(v, all_decisions=True).filter(reference=reference).first()


def disputes_of(v: Visitor, *, all_decisions: bool = False) -> QuerySet[DataDispute]:
    ids = v.lineage if all_decisions else [v.decision.pk]
    return (
        DataDispute.objects.filter(decision_id__in=ids)
        .select_related("decision", "decision__system")
        .prefetch_related("evidence")
        .order_by("filed_at", "id")
    )


def dispute_for(v: Visitor, reference: str) -> DataDispute | None:
    if not reference_ok(reference):
        return None
    return disputes_of(v, all_decisions=True).filter(reference=reference).first()


def explanation_requests_of(v: Visitor, *, all_decisions: bool = False) -> QuerySet[ExplanationRequest]:
    ids = v.lineage if all_decisions else [v.decision.pk]
    return ExplanationRequest.objects.filter(decision_id__in=ids).order_by("filed_at", "id")


def explanation_request_for(v: Visitor, reference: str) -> ExplanationRequest | None:
    if not reference_ok(reference):
        return None
    return explanation_requests_of(v, all_decisions=True).filter(reference=reference).first()


def _contests() -> tuple[type[Model], ...]:
    """What notices can be about, besides the decision itself: each names its decision. (Oversight's
    remedy items are looked up by name: oversight's model module is its own app's business.)"""
    return (Appeal, DataDispute, ExplanationRequest, apps.get_model("oversight", "RemedyItem"))


def _topic_q(decision_ids: list[Any]) -> Q:
    """Notices about these decisions or about anything on them (appeals, disputes, explanation requests,
    remedies after a systemic defect)."""
    q = Q(topic_type=DECISION_TOPIC, topic_id__in=[str(pk) for pk in decision_ids])
    for model in _contests():
        pks = model._default_manager.filter(decision_id__in=decision_ids).values_list("pk", flat=True)
        q |= Q(topic_type=model._meta.label_lower, topic_id__in=[str(pk) for pk in pks])
    return q


def _topics(v: Visitor) -> Q:
    return _topic_q(v.lineage)


def inbox(v: Visitor) -> QuerySet[Notice]:
    """Every notice about this case, as it reached the portal inbox, newest first."""
    return (
        Notice.objects.filter(
            _topics(v), recipient=v.decision.subject.pseudonym, channel=Notice.Channel.PORTAL
        )
        .defer("body_html")
        .order_by("-created_at", "-id")
    )


def notice_for(v: Visitor, notice_id: Any) -> Notice | None:
    try:
        return inbox(v).filter(pk=notice_id).first()
    except (ValueError, TypeError):
        return None


def emailed_topics(v: Visitor) -> set[tuple[str, str, str]]:
    """(topic type, topic id, kind) of the notices that also went out by email."""
    return set(
        Notice.objects.filter(
            _topics(v), recipient=v.decision.subject.pseudonym, channel=Notice.Channel.EMAIL
        )
        .values_list("topic_type", "topic_id", "kind")
        .distinct()
    )


def evidence_for(v: Visitor, evidence_id: Any) -> EvidenceFile | None:
    """A file the person gave (with an appeal or a dispute on one of their decisions)."""
    try:
        return (
            EvidenceFile.objects.filter(pk=evidence_id)
            .filter(Q(appeal__decision_id__in=v.lineage) | Q(dispute__decision_id__in=v.lineage))
            .first()
        )
    except (ValueError, TypeError):
        return None


# ------------------------------------------------------------------------------------------ words


def status_words(v: Visitor, decision: Decision | None = None) -> str:
    d = decision or v.decision
    return say(v.lang, f"status_{d.status}")


def appeal_status_words(v: Visitor, a: Appeal) -> str:
    if a.status == State.SUBMITTED and a.late:
        return say(v.lang, "astatus_submitted_late")
    return say(v.lang, f"astatus_{a.status}")


def appeal_status_tag(a: Appeal) -> str:
    return {
        State.SUBMITTED: "grey",
        State.QUEUED: "blue",
        State.IN_REVIEW: "blue",
        State.AWAITING_APPELLANT: "orange",
        State.AWAITING_SECOND_REVIEW: "blue",
        State.DECIDED: "green",
        State.CLOSED: "green",
        State.WITHDRAWN: "grey",
        State.REFUSED: "red",
    }.get(State(a.status), "grey")


def stay_words(v: Visitor, a: Appeal) -> str:
    p = appeal_notices.PHRASES[v.lang]
    if a.stay == Appeal.Stay.APPLIED:
        return p["stay_applied"]
    if a.stay == Appeal.Stay.REFUSED:
        return p["stay_refused"].format(reason=a.stay_reason)
    if a.stay == Appeal.Stay.LIFTED:
        return say(v.lang, "stay_lifted", date=day(v, a.stay_lifted_at))
    return p["stay_none"]


def stay_policy_words(v: Visitor) -> str:
    """Whether appealing would put the decision on hold (S18), as the notice says it."""
    d = v.decision
    p = DECISION_PHRASES[v.lang]
    if not d.adverse:
        return ""
    if d.system.stay_on_appeal:
        return p["stay"].format(deadline=format_date(appeal_deadline(d), v.lang))
    return p["no_stay"]


def final_review(a: Appeal) -> Review | None:
    return (
        a.reviews.filter(stage=Review.Stage.FIRST, decided_at__isnull=False, outcome__gt="")
        .order_by("-decided_at")
        .first()
    )


@dataclass(frozen=True)
class OutcomeView:
    words: str
    rationale: str
    relied_on: list[str]
    remedy: list[str]
    new_decision: Decision | None


def outcome_of(v: Visitor, a: Appeal) -> OutcomeView | None:
    """What the reviewer decided, in the person's words (S26), once the appeal is decided."""
    if not a.outcome:
        return None
    review = final_review(a)
    p = appeal_notices.PHRASES[v.lang]
    new = a.resulting_decision
    if a.outcome == Appeal.Outcome.UPHELD or new is None:
        words = p["upheld"]
    else:
        label = localized(new.outcome.label, v.lang) or new.outcome.code
        words = p[a.outcome].format(outcome=label, effect=localized(new.outcome.effect, v.lang)).strip()
    remedy = [
        appeal_notices.REMEDY_TEXT[v.lang][r]
        for r in a.remedy or []
        if r in appeal_notices.REMEDY_TEXT[v.lang]
    ]
    return OutcomeView(
        words=words,
        rationale=review.rationale if review else "",
        relied_on=appeal_notices.evidence_labels(a, review.evidence_relied_on or [], v.lang)
        if review
        else [],
        remedy=remedy,
        new_decision=new,
    )


def routes(v: Visitor) -> list[dict[str, str]]:
    out = []
    for r in v.decision.system.external_routes or []:
        if isinstance(r, dict) and r.get("name"):
            kind = str(r.get("kind") or "other")
            out.append(
                {
                    "kind": say(v.lang, f"route_{kind}")
                    if f"route_{kind}" in _ROUTE_KINDS
                    else say(v.lang, "route_other"),
                    "name": str(r["name"]),
                    "url": str(r.get("url") or ""),
                }
            )
    return out


_ROUTE_KINDS = {"route_ombudsman", "route_odr", "route_court", "route_regulator", "route_other"}


def size_words(size: int, lang: str) -> str:
    if size >= 1024 * 1024:
        return format_value(round(size / (1024 * 1024), 1), lang) + " MB"
    if size >= 1024:
        return format_value(round(size / 1024), lang) + " KB"
    return say(lang, "bytes", n=str(size))


# ------------------------------------------------------------------------------------------ timeline


def timeline(v: Visitor) -> list[dict[str, Any]]:
    """Everything that happened in this case, oldest first: the decision, every notice sent (with a link to
    read it), every step of every appeal, dispute and explanation request, and every message."""
    lang = v.lang
    rows: list[tuple[dt.datetime, int, str, str, str]] = []

    def add(at: dt.datetime | None, key: str, link: str = "", link_key: str = "", **params: str) -> None:
        if at is not None:
            rows.append(
                (at, len(rows), say(lang, key, **params), link, say(lang, link_key) if link_key else "")
            )

    ids = decisions_so_far(v)
    for d in Decision.objects.filter(pk__in=ids).select_related("outcome").order_by("decided_at"):
        outcome = localized(d.outcome.label, lang) or d.outcome.code
        add(d.decided_at, "tl_decided", reference=d.public_reference, outcome=outcome)
        add(d.effective_at, "tl_effective", reference=d.public_reference)
    newer = Decision.objects.filter(supersedes_id=v.decision.pk).first()
    if newer is not None:
        add(newer.recorded_at, "tl_replaced", reference=newer.public_reference)
    for n in inbox(v).filter(_topic_q(ids)):
        add(
            n.created_at,
            "tl_notice",
            reverse("portal:message", args=[n.pk]),
            "read_message",
            subject=n.subject,
        )
    for a in appeals_of(v, all_decisions=True).filter(decision_id__in=ids):
        ref = a.reference
        add(
            a.filed_at,
            "tl_appeal_filed",
            reverse("portal:appeal-status", args=[ref]),
            "see_appeal",
            reference=ref,
        )
        add(a.stay_applied_at, "tl_stay_applied")
        if a.triaged_at and a.status != State.REFUSED:
            add(a.triaged_at, "tl_late_accepted", reference=ref)
        for r in a.information_requests.all():
            add(r.asked_at, "tl_info_asked", reference=ref)
            add(r.replied_at, "tl_info_replied", reference=ref)
        for e in a.escalations.all():
            add(e.escalated_at, "tl_delayed", date=day(v, e.new_due_date))
        if a.decided_at:
            add(a.decided_at, f"tl_outcome_{a.outcome or 'upheld'}", reference=ref)
        add(a.stay_lifted_at, "tl_stay_lifted")
        add(a.withdrawn_at, "tl_withdrawn", reference=ref)
        if a.status == State.REFUSED:
            add(a.triaged_at, "tl_refused", reference=ref)
    for s in disputes_of(v, all_decisions=True).filter(decision_id__in=ids):
        link = reverse("portal:dispute-status", args=[s.reference])
        add(s.filed_at, "tl_dispute_filed", link, "see_dispute", reference=s.reference)
        add(s.information_added_at, "tl_dispute_added", reference=s.reference)
        add(s.resolved_at, f"tl_dispute_{s.status}", reference=s.reference)
    for q in explanation_requests_of(v, all_decisions=True).filter(decision_id__in=ids):
        link = reverse("portal:explanation-status", args=[q.reference])
        add(q.filed_at, "tl_explanation_filed", link, "see_request", reference=q.reference)
        add(q.extended_at, "tl_explanation_extended", date=day(v, q.due_date))
        add(q.answered_at, "tl_explanation_answered", link, "see_request", reference=q.reference)
    for m in messaging.messages_for(v, decision_ids=ids):
        key = "tl_message_from_you" if m.from_person else "tl_message_to_you"
        add(m.at, key, m.link, "see_message", reference=m.appeal_reference)
    rows.sort(key=lambda r: (r[0], r[1]))
    return [
        {"date": day(v, at), "at": at, "text": text, "link": link, "link_text": link_text}
        for at, _i, text, link, link_text in rows
    ]


# ------------------------------------------------------------------------------------------ the case file


def _data_rows(v: Visitor, decision: Decision) -> list[dict[str, Any]]:
    explanation = render_explanation(decision, v.lang)
    raw = {i.feature.name: i for i in decision.inputs.all()}
    rows = []
    for item in explanation.data:
        inp = raw.get(item.feature)
        rows.append(
            {
                "feature": item.feature,
                "label": item.label,
                "value": item.value,
                "recorded_value": inp.value if inp else None,
                "source": item.source,
                "as_of": iso(inp.as_of) if inp else None,
                "as_of_text": item.as_of,
                "disputed": item.disputed,
            }
        )
    return rows


def _evidence(v: Visitor, files: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": str(f.pk),
            "name": f.original_name,
            "type": f.content_type,
            "size": f.size,
            "size_text": size_words(f.size, v.lang),
            "sha256": f.sha256,
            "added": iso(f.added_at),
            "added_text": day(v, f.added_at),
            "url": reverse("portal:evidence", args=[f.pk]),
        }
        for f in files
    ]


def appeal_data(v: Visitor, a: Appeal) -> dict[str, Any]:
    outcome = outcome_of(v, a)
    try:
        contact = a.contact
    except Appeal.contact.RelatedObjectDoesNotExist:
        contact = None
    return {
        "reference": a.reference,
        "decision": a.decision.public_reference,
        "status": a.status,
        "status_text": appeal_status_words(v, a),
        "filed": iso(a.filed_at),
        "filed_text": day(v, a.filed_at),
        "late": a.late,
        "good_cause": a.good_cause,
        "statement": a.statement,
        "requested_remedy": a.requested_remedy,
        "filed_by": a.filed_by,
        "representative": {
            "name": contact.representative_name,
            "email": contact.representative_email,
            "phone": contact.representative_phone,
            "authority": contact.authority,
        }
        if contact and contact.representative_name
        else None,
        "oral_hearing_requested": a.oral_hearing_requested,
        "accessibility_needs": contact.accessibility_needs if contact else "",
        "contact_preference": a.contact_preference,
        "due_date": iso(a.due_date),
        "due_text": day(v, a.due_date),
        "stay": a.stay,
        "stay_text": stay_words(v, a),
        "information_requests": [
            {
                "asked": iso(r.asked_at),
                "asked_text": day(v, r.asked_at),
                "question": r.question,
                "reply_due": iso(r.reply_due),
                "reply_due_text": day(v, r.reply_due),
                "reply": r.reply,
                "replied": iso(r.replied_at),
                "replied_text": day(v, r.replied_at),
            }
            for r in a.information_requests.all()
        ],
        "evidence": _evidence(v, a.evidence.all()),
        "outcome": {
            "result": a.outcome,
            "text": outcome.words,
            "reasons": outcome.rationale,
            "evidence_relied_on": outcome.relied_on,
            "remedy": outcome.remedy,
            "new_decision": outcome.new_decision.public_reference if outcome.new_decision else None,
            "decided": iso(a.decided_at),
            "decided_text": day(v, a.decided_at),
        }
        if outcome
        else None,
        "withdrawn": iso(a.withdrawn_at),
        "withdrawn_text": day(v, a.withdrawn_at),
        "refusal_reasons": a.triage_reasons if a.status == State.REFUSED else "",
        "messages": [m.as_dict() for m in messaging.thread_for(v, a)],
    }


def dispute_data(v: Visitor, s: DataDispute) -> dict[str, Any]:
    feature = next((f for f in s.decision.version.features.all() if f.name == s.feature), None)
    unit = feature.unit if feature else ""
    return {
        "reference": s.reference,
        "decision": s.decision.public_reference,
        "feature": s.feature,
        "label": (localized(feature.label, v.lang) if feature else "") or s.feature.replace("_", " "),
        "value": format_value(s.disputed_value, v.lang, unit),
        "what_is_wrong": s.what_is_wrong,
        "proposed_value": "" if s.proposed_value in (None, "") else format_value(s.proposed_value, v.lang),
        "status": s.status,
        "status_text": say(v.lang, f"dstatus_{s.status}"),
        "filed": iso(s.filed_at),
        "filed_text": day(v, s.filed_at),
        "due_date": iso(s.due_date),
        "due_text": day(v, s.due_date),
        "additional_information": s.additional_information,
        "resolution": s.resolution_note,
        "corrected_value": None
        if s.corrected_value is None
        else format_value(s.corrected_value, v.lang, unit),
        "resolved": iso(s.resolved_at),
        "resolved_text": day(v, s.resolved_at),
        "evidence": _evidence(v, s.evidence.all()),
    }


def explanation_request_data(v: Visitor, r: ExplanationRequest) -> dict[str, Any]:
    return {
        "reference": r.reference,
        "decision": r.decision.public_reference,
        "question": r.question,
        "status": r.status,
        "status_text": say(v.lang, f"estatus_{r.status}"),
        "filed": iso(r.filed_at),
        "filed_text": day(v, r.filed_at),
        "due_date": iso(r.due_date),
        "due_text": day(v, r.due_date),
        "extension_reason": r.extension_reason,
        "answer": r.answer,
        "answered": iso(r.answered_at),
        "answered_text": day(v, r.answered_at),
    }


def case_file(v: Visitor) -> dict[str, Any]:
    """Everything held about this decision and its contests, for the person (S26)."""
    d = v.decision
    lang = v.lang
    e = render_explanation(d, lang)
    try:
        contact = d.subject.contact
    except SubjectContact.DoesNotExist:
        contact = None
    replaced = Decision.objects.filter(supersedes_id=d.pk).values_list("public_reference", flat=True).first()
    emailed = emailed_topics(v)
    return {
        "format": "contestable.case-file/1",
        "language": lang,
        "generated_at": clock.now().isoformat(),
        "generated_text": day(v, clock.now()),
        "decision": {
            "reference": d.public_reference,
            "system": d.system.name,
            "organisation": d.system.owner_organisation,
            "purpose": d.system.purpose,
            "legal_basis": d.system.legal_basis,
            "outcome": e.outcome,
            "effect": e.effect,
            "adverse": d.adverse,
            "status": d.status,
            "status_text": status_words(v),
            "decided": iso(d.decided_at),
            "decided_text": day(v, d.decided_at),
            "effective": iso(d.effective_at),
            "appeal_deadline": iso(appeal_deadline(d)),
            "appeal_deadline_text": format_date(appeal_deadline(d), lang),
            "score": e.score or None,
            "automation": e.automation,
            "reasons": e.rationale,
            "data": _data_rows(v, d),
            "what_would_change_it": {"intro": e.counterfactual_intro, "changes": e.counterfactual},
            "responsibility": {
                "statement": e.responsibility.statement,
                "ask_a_person": e.responsibility.ask_human,
            },
            "performance": e.performance,
            "fairness": e.fairness,
            "replaces": d.supersedes.public_reference if d.supersedes_id and d.supersedes else None,
            "replaced_by": replaced,
            "explanation_text": e.text,
        },
        "your_details": {
            "name": contact.name if contact else "",
            "email": contact.email if contact else "",
            "language": d.subject.language,
        },
        "notices": [
            {
                "id": str(n.pk),
                "sent": iso(n.created_at),
                "sent_text": day(v, n.created_at),
                "subject": n.subject,
                "by_email_too": (n.topic_type, n.topic_id, n.kind) in emailed,
                "text": n.body_text,
            }
            for n in inbox(v).order_by("created_at", "id")
        ],
        "appeals": [appeal_data(v, a) for a in appeals_of(v)],
        "data_disputes": [dispute_data(v, s) for s in disputes_of(v)],
        "explanation_requests": [explanation_request_data(v, r) for r in explanation_requests_of(v)],
        "timeline": [
            {"date": iso(row["at"]), "date_text": row["date"], "what": row["text"]} for row in timeline(v)
        ],
    }
