"""After sending: the status of an appeal, a data dispute or an explanation request, and what the person can
still do there.

Appeal status (``/portal/appeals/<reference>/``): where it stands in plain words, the date we will answer by,
whether the decision is on hold, questions from the reviewer with a reply form, the message thread with the
reviewer, the documents (with a form to add more while it is open), the outcome with its reasons once
decided, and a way to withdraw. Every form keeps what was typed when something is refused, and every
action goes through the appeals services as the person (``Actor.subject(pseudonym)``).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appeals import notices as appeal_notices
from appeals import services as appeals
from appeals.models import Appeal
from appeals.workflow import State
from core.errors import ApplicationError
from portal import casefile, thread, uploads
from portal.journeys import clean_text
from portal.pages import accepts_files, flash, person_page, render_page
from portal.session import Visitor
from portal.text import TEXT, number, say
from portal.views_journeys import refusal_messages

_TEXT_MAX = 5000


def _appeal(v: Visitor, reference: str) -> Appeal:
    appeal = casefile.appeal_for(v, reference)
    if appeal is None:
        raise Http404
    return appeal


def _next_step(v: Visitor, a: Appeal) -> str:
    due = casefile.day(v, a.due_date)
    if a.status == State.SUBMITTED and a.late:
        return appeal_notices.PHRASES[v.lang]["next_late"].format(deadline=casefile.day(v, a.appeal_deadline))
    if a.status == State.AWAITING_APPELLANT:
        request = _open_question(a)
        return say(v.lang, "next_answer", date=casefile.day(v, request.reply_due) if request else due)
    if a.is_open and a.escalated:
        return say(v.lang, "next_we_are_late", due=due)
    if a.is_open:
        return say(v.lang, "next_due", due=due)
    return ""


def _open_question(a: Appeal) -> Any:
    if a.status != State.AWAITING_APPELLANT:
        return None
    return (
        a.information_requests.filter(replied_at__isnull=True, timed_out_at__isnull=True)
        .order_by("-asked_at")
        .first()
    )


def _appeal_page(
    request: HttpRequest,
    v: Visitor,
    a: Appeal,
    *,
    errors: list[dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    data = casefile.appeal_data(v, a)
    outcome = casefile.outcome_of(v, a)
    count = len(data["evidence"])
    question = _open_question(a)
    return render_page(
        request,
        "portal/appeal_status.html",
        v.lang,
        status=status,
        v=v,
        appeal=a,
        data=data,
        tag=casefile.appeal_status_tag(a),
        next_step=_next_step(v, a),
        question=question,
        question_due=casefile.day(v, question.reply_due) if question else "",
        outcome=outcome,
        routes=casefile.routes(v) if a.status in (State.DECIDED, State.CLOSED, State.REFUSED) else [],
        thread_messages=[
            {"from_person": m.from_person, "body": m.body, "date": casefile.day(v, m.at)}
            for m in thread.thread_for(v, a)
        ],
        can_write=a.is_open,
        room=appeals.evidence_max_files() - count,
        max_files=appeals.evidence_max_files(),
        max_size=casefile.size_words(appeals.evidence_max_bytes(), v.lang),
        errors=errors or [],
        values=values or {},
        message_max=number(thread.MAX_MESSAGE, v.lang),
    )


@require_GET
@person_page
def appeal_status(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    return _appeal_page(request, v, _appeal(v, reference))


def _service_problem(v: Visitor, exc: ApplicationError, field: str) -> list[dict[str, str]]:
    t = TEXT[v.lang]
    for e in exc.errors:
        code = str(e.get("code", ""))
        if str(e.get("field", "")).startswith("evidence"):
            key = {
                "too-many-files": "err_files_too_many",
                "file-too-large": "err_file_too_large",
                "unsupported-type": "err_file_type",
                "empty-file": "err_file_empty",
            }.get(code, "err_files")
            return [{"field": field, "message": t[key]}]
    if exc.code in ("transition-not-allowed", "thread-closed"):
        return [{"field": field, "message": t["err_closed"]}]
    return [{"field": field, "message": t["err_generic"]}]


def _text_errors(
    v: Visitor, field: str, text: str, *, required: str, most: int = _TEXT_MAX
) -> list[dict[str, str]]:
    if not text:
        return [{"field": field, "message": TEXT[v.lang][required]}]
    if len(text) > most:
        return [{"field": field, "message": say(v.lang, "e_too_long_n", n=number(most, v.lang))}]
    return []


def _read_text(request: HttpRequest, name: str) -> str:
    return clean_text(request.POST.get(name, ""))


def _text_with_files(
    request: HttpRequest, v: Visitor, *, text_field: str, files_field: str, already: int, required: str
) -> tuple[str, list[uploads.Accepted], list[dict[str, str]]]:
    """A form that takes words, files or both: what was typed, the accepted files, and the problems (each
    refused file named; nothing at all; words over the limit)."""
    text = _read_text(request, text_field)
    accepted, refused = uploads.check_files(request.FILES.getlist(files_field), already)
    errors = [{**e, "field": files_field} for e in refusal_messages(v.lang, refused)]
    if not text and not accepted and not refused:
        errors.insert(0, {"field": text_field, "message": TEXT[v.lang][required]})
    elif len(text) > _TEXT_MAX:
        errors = _text_errors(v, text_field, text, required=required) + errors
    return text, accepted, errors


@accepts_files
@require_POST
@person_page
def appeal_reply(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    a = _appeal(v, reference)
    reply, accepted, errors = _text_with_files(
        request,
        v,
        text_field="reply",
        files_field="reply_files",
        already=a.evidence.count(),
        required="e_reply",
    )
    if not errors:
        try:
            appeals.information_reply(
                appeal=a, reply=reply, actor=v.actor, files=[(f.name, f.content) for f in accepted]
            )
        except ApplicationError as exc:
            errors = _service_problem(v, exc, "reply")
        else:
            flash(request, "flash_reply_sent")
            return HttpResponseRedirect(reverse("portal:appeal-status", args=[a.reference]))
    return _appeal_page(request, v, a, errors=errors, values={"reply": reply}, status=400)


@accepts_files
@require_POST
@person_page
def appeal_documents(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    a = _appeal(v, reference)
    files = request.FILES.getlist("more_documents")
    accepted, refused = uploads.check_files(files, a.evidence.count())
    errors = [{**e, "field": "more_documents"} for e in refusal_messages(v.lang, refused)]
    if not files:
        errors = [{"field": "more_documents", "message": TEXT[v.lang]["e_choose_file"]}]
    if not errors:
        try:
            appeals.evidence_add(appeal=a, files=[(f.name, f.content) for f in accepted], actor=v.actor)
        except ApplicationError as exc:
            errors = _service_problem(v, exc, "more_documents")
        else:
            flash(request, "flash_documents_added", n=str(len(accepted)))
            return HttpResponseRedirect(reverse("portal:appeal-status", args=[a.reference]) + "#documents")
    return _appeal_page(request, v, a, errors=errors, status=400)


@require_POST
@person_page
def appeal_message(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    a = _appeal(v, reference)
    body = _read_text(request, "message")
    errors = _text_errors(v, "message", body, required="e_message", most=thread.MAX_MESSAGE)
    if not errors:
        try:
            thread.post(v, a, body)
        except ApplicationError as exc:
            errors = _service_problem(v, exc, "message")
        else:
            flash(request, "flash_message_sent")
            return HttpResponseRedirect(reverse("portal:appeal-status", args=[a.reference]) + "#messages")
    return _appeal_page(request, v, a, errors=errors, values={"message": body}, status=400)


@require_http_methods(["GET", "POST"])
@person_page
def appeal_withdraw(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    a = _appeal(v, reference)
    if not a.is_open:
        return HttpResponseRedirect(reverse("portal:appeal-status", args=[a.reference]))
    errors: list[dict[str, str]] = []
    reason = ""
    if request.method == "POST":
        reason = _read_text(request, "reason")
        if len(reason) > 2000:
            errors = _text_errors(v, "reason", reason, required="e_reply", most=2000)
        else:
            try:
                appeals.appeal_withdraw(appeal=a, actor=v.actor, reason=reason)
            except ApplicationError as exc:
                errors = _service_problem(v, exc, "reason")
            else:
                flash(request, "flash_withdrawn", reference=a.reference)
                return HttpResponseRedirect(reverse("portal:appeal-status", args=[a.reference]))
    return render_page(
        request,
        "portal/withdraw.html",
        v.lang,
        status=400 if errors else 200,
        v=v,
        appeal=a,
        stay_applied=a.stay == Appeal.Stay.APPLIED,
        errors=errors,
        values={"reason": reason},
    )


# ------------------------------------------------------------------------------------------ disputes


def _dispute_page(
    request: HttpRequest,
    v: Visitor,
    reference: str,
    *,
    errors: list[dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    dispute = casefile.dispute_for(v, reference)
    if dispute is None:
        raise Http404
    data = casefile.dispute_data(v, dispute)
    return render_page(
        request,
        "portal/dispute_status.html",
        v.lang,
        status=status,
        v=v,
        dispute=dispute,
        data=data,
        room=appeals.evidence_max_files() - len(data["evidence"]),
        max_files=appeals.evidence_max_files(),
        max_size=casefile.size_words(appeals.evidence_max_bytes(), v.lang),
        errors=errors or [],
        values=values or {},
    )


@require_GET
@person_page
def dispute_status(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    return _dispute_page(request, v, reference)


@accepts_files
@require_POST
@person_page
def dispute_add(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    dispute = casefile.dispute_for(v, reference)
    if dispute is None:
        raise Http404
    information, accepted, errors = _text_with_files(
        request,
        v,
        text_field="information",
        files_field="more_documents",
        already=dispute.evidence.count(),
        required="e_information",
    )
    if not errors:
        try:
            appeals.dispute_add_information(
                dispute=dispute,
                information=information,
                actor=v.actor,
                evidence=[(f.name, f.content) for f in accepted],
            )
        except ApplicationError as exc:
            errors = _service_problem(v, exc, "information")
        else:
            flash(request, "flash_information_added")
            return HttpResponseRedirect(reverse("portal:dispute-status", args=[dispute.reference]))
    return _dispute_page(
        request, v, reference, errors=errors, values={"information": information}, status=400
    )


# ------------------------------------------------------------------------------------------ explanations


@require_GET
@person_page
def explanation_status(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    found = casefile.explanation_request_for(v, reference)
    if found is None:
        raise Http404
    return render_page(
        request,
        "portal/explanation_status.html",
        v.lang,
        v=v,
        data=casefile.explanation_request_data(v, found),
    )
