"""The person's way in, their decision, their inbox and their case file.

- ``/portal/``: type the reference and the secret code from the notice. A wrong code and an unknown
  reference get the very same answer; the code is compared in constant time (decisions.access); wrong codes
  are counted per reference and per address and locked out after too many (portal.ratelimit).
- ``/portal/open/<token>``: the signed link from the notice. It is exchanged for a short session and the
  browser is sent on to ``/portal/decision/``, so no secret stays in the address bar or the history.
- ``/portal/decision/``: what was decided and what it means, the reasons, the data used (each value with
  its source and date and a "this is wrong" link), what would change the outcome, the appeal deadline,
  the person's rights, whether the effect is on hold, and a timeline of everything that happened with
  every notice sent (each one readable at ``/portal/messages/<id>/``).
- ``/portal/case-file/`` and ``/portal/case-file.json``: everything held about the decision (S26).
- ``/portal/evidence/<id>/``: a file the person gave, back to them only.

No accounts: the session holds only the id of the decision the person proved they may see, for
``SESSION_MINUTES`` after the last page they opened (portal.session). Every page carries the portal's
security headers (portal.security).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appeals.models import DataDispute
from appeals.selectors import evidence_path
from core import clock
from decisions import access
from decisions.explanations import format_date, render_explanation
from decisions.models import Decision
from decisions.notices import PHRASES as DECISION_PHRASES
from decisions.notices import appeal_deadline
from decisions.outcomes import LIVE_STATUSES
from portal import casefile, ratelimit, uploads
from portal.journeys import clean_text
from portal.pages import person_page, render_page
from portal.security import no_referrer, portal_page
from portal.session import (
    LANGUAGE_KEY,
    SESSION_KEY,
    SESSION_MINUTES,
    Visitor,
    anonymous_language,
    grant,
    view_decision,
)
from portal.text import TEXT

__all__ = ["LANGUAGE_KEY", "SESSION_KEY", "SESSION_MINUTES"]


def _quiet(response: HttpResponse) -> HttpResponse:
    """Keep Django from logging the request path of this error answer (it holds a link token)."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# ------------------------------------------------------------------------------------------ the way in


@portal_page
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    lang = anonymous_language(request)
    if request.method == "GET":
        return render_page(
            request, "portal/start.html", lang, values={}, signed_out=bool(request.GET.get("signed-out"))
        )
    t = TEXT[lang]
    reference = access.normalise_reference(clean_text(request.POST.get("reference", "")))[:40]
    code = clean_text(request.POST.get("code", ""))[:40]
    errors = []
    if not reference:
        errors.append({"field": "reference", "message": t["error_reference"]})
    if not access.normalise_code(code):
        errors.append({"field": "code", "message": t["error_code"]})
    status = 400
    if not errors:
        address = ratelimit.client_address(request)
        if ratelimit.locked(reference, address):
            errors.append({"field": "reference", "message": t["error_locked"]})
            status = 429
        else:
            decision = (
                Decision.objects.filter(public_reference=reference).only("pk", "access_code_hash").first()
            )
            stored = decision.access_code_hash if decision is not None else None
            if decision is not None and access.access_code_matches(stored, reference, code):
                ratelimit.record_success(reference)
                grant(request, decision)
                return HttpResponseRedirect(reverse("portal:decision"))
            if decision is None:
                access.access_code_matches(None, reference, code)  # the same work as a wrong code
            if ratelimit.record_failure(reference, address):
                errors.append({"field": "reference", "message": t["error_locked"]})
                status = 429
            else:
                errors.append({"field": "reference", "message": t["error_no_match"]})
    # Keep what the person typed, except the secret.
    return render_page(
        request, "portal/start.html", lang, status=status, values={"reference": reference}, errors=errors
    )


@portal_page
@require_GET
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    lang = anonymous_language(request)
    try:
        decision_id = access.read_decision_token(token)
    except access.LinkExpired:
        return _quiet(render_page(request, "portal/link_problem.html", lang, status=410, problem="expired"))
    except access.LinkInvalid:
        return _quiet(render_page(request, "portal/link_problem.html", lang, status=400, problem="invalid"))
    decision = Decision.objects.filter(pk=decision_id).first()
    if decision is None:
        return _quiet(render_page(request, "portal/link_problem.html", lang, status=400, problem="invalid"))
    grant(request, decision)
    return no_referrer(HttpResponseRedirect(reverse("portal:decision")))


@portal_page
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    uploads.drop_space(request)
    lang = request.session.get(LANGUAGE_KEY)
    request.session.flush()
    if lang:
        request.session[LANGUAGE_KEY] = lang
    return HttpResponseRedirect(reverse("portal:signed-out"))


@portal_page
@require_GET
def signed_out(request: HttpRequest) -> HttpResponse:
    return render_page(request, "portal/signed_out.html", anonymous_language(request))


# ------------------------------------------------------------------------------------------ the decision


def _data_rows(v: Visitor) -> list[dict[str, Any]]:
    d = v.decision
    explanation = render_explanation(d, v.lang)
    open_disputes = {
        s.feature: s.reference for s in DataDispute.objects.filter(decision=d, status=DataDispute.Status.OPEN)
    }
    disputable = d.status in LIVE_STATUSES
    rows = []
    for item in explanation.data:
        ref = open_disputes.get(item.feature, "")
        rows.append(
            {
                "feature": item.feature,
                "label": item.label,
                "value": item.value,
                "source": item.source,
                "as_of": item.as_of,
                "dispute_ref": ref,
                "dispute_url": reverse("portal:dispute-status", args=[ref]) if ref else "",
                "wrong_url": reverse("portal:dispute-for", args=[item.feature])
                if disputable and not ref
                else "",
            }
        )
    return rows


def decision_context(v: Visitor) -> dict[str, Any]:
    d = v.decision
    lang = v.lang
    deadline = appeal_deadline(d)
    appeals = list(casefile.appeals_of(v))
    open_appeal = next((a for a in appeals if a.is_open), None)
    decided = [a for a in appeals if a.outcome]
    newer = Decision.objects.filter(supersedes_id=d.pk).first()
    older = d.supersedes if d.supersedes_id and v.may_see(d.supersedes_id) else None
    return {
        "decision": d,
        "explanation": render_explanation(d, lang),
        "status_text": casefile.status_words(v),
        "deadline": format_date(deadline, lang),
        "late": clock.is_past(deadline, v.tz),
        "appealable": d.adverse and d.status in casefile.APPEALABLE and open_appeal is None and not decided,
        "open_appeal": open_appeal,
        "open_appeal_status": casefile.appeal_status_words(v, open_appeal) if open_appeal else "",
        "open_appeal_due": casefile.day(v, open_appeal.due_date) if open_appeal else "",
        "open_appeal_stay": casefile.stay_words(v, open_appeal) if open_appeal else "",
        "appeals": [
            {"a": a, "status": casefile.appeal_status_words(v, a), "tag": casefile.appeal_status_tag(a)}
            for a in appeals
        ],
        "decided_appeal": decided[-1] if decided else None,
        "stay_policy": casefile.stay_policy_words(v),
        "data_rows": _data_rows(v),
        "disputes": [
            {"s": s, "status": TEXT[lang][f"dstatus_{s.status}"], "due": casefile.day(v, s.due_date)}
            for s in casefile.disputes_of(v)
        ],
        "requests": [
            {"r": r, "status": TEXT[lang][f"estatus_{r.status}"], "due": casefile.day(v, r.due_date)}
            for r in casefile.explanation_requests_of(v)
        ],
        "phrases": DECISION_PHRASES[lang],
        "legal_ground": DECISION_PHRASES[lang]["legal_ground"].format(basis=d.system.legal_basis),
        "routes": casefile.routes(v),
        "timeline": casefile.timeline(v),
        "inbox": [
            {
                "subject": n.subject,
                "sent": casefile.day(v, n.created_at),
                "url": reverse("portal:message", args=[n.pk]),
            }
            for n in casefile.inbox(v)
        ],
        "newer": newer,
        "older": older,
        "live": d.status in LIVE_STATUSES,
    }


@require_GET
@person_page
def decision_page(request: HttpRequest, v: Visitor) -> HttpResponse:
    return render_page(request, "portal/decision.html", v.lang, v=v, **decision_context(v))


@require_GET
@person_page
def decision_switch(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    """Look at another decision of the same case (the one that replaced this, or the one this replaced)."""
    if not casefile.reference_ok(reference):
        raise Http404
    target = Decision.objects.filter(public_reference=reference).values_list("pk", flat=True).first()
    if target is None or not view_decision(request, v, target):
        raise Http404
    return HttpResponseRedirect(reverse("portal:decision"))


# ------------------------------------------------------------------------------------------ inbox


@require_GET
@person_page
def message(request: HttpRequest, v: Visitor, notice_id: uuid.UUID) -> HttpResponse:
    notice = casefile.notice_for(v, notice_id)
    if notice is None:
        raise Http404
    return render_page(
        request,
        "portal/message.html",
        v.lang,
        v=v,
        notice=notice,
        sent=casefile.day(v, notice.created_at),
    )


# ------------------------------------------------------------------------------------------ case file


@require_GET
@person_page
def case_file(request: HttpRequest, v: Visitor) -> HttpResponse:
    return render_page(request, "portal/case_file.html", v.lang, v=v, file=casefile.case_file(v))


@require_GET
@person_page
def case_file_json(request: HttpRequest, v: Visitor) -> HttpResponse:
    body = json.dumps(casefile.case_file(v), ensure_ascii=False, indent=2, sort_keys=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="case-file-{v.decision.public_reference}.json"'
    return response


@require_GET
@person_page
def evidence(request: HttpRequest, v: Visitor, evidence_id: uuid.UUID) -> HttpResponse | FileResponse:
    """A file the person gave, back to them (as a download: never shown inside the portal's pages)."""
    found = casefile.evidence_for(v, evidence_id)
    if found is None:
        raise Http404
    try:
        path = evidence_path(found)
        handle = path.open("rb")
    except (OSError, ValueError):
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=True, filename=found.original_name, content_type=found.content_type
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
