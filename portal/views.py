"""The person's way in and a minimal decision page (issue 3; the portal issue expands it).

- ``/portal/``: type the reference and the secret code from the notice. A wrong code and an unknown
  reference get the very same answer, and the code is compared in constant time (decisions.access).
- ``/portal/open/<token>``: the signed link from the notice. It is exchanged for a short session and the
  browser is sent on to ``/portal/decision/``, so no secret stays in the address bar or the history.
- ``/portal/decision/``: what was decided, the explanation in the person's language (English or Spanish,
  with a switcher), the data used with source and date, what would change the outcome, the appeal
  deadline as a date, and every notice sent to them (the portal inbox).

No accounts: the session holds only the id of the one decision the person proved they may see, for
``SESSION_MINUTES``. Every page carries the portal's security headers (portal.security).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from decisions import access
from decisions.explanations import format_date, language_for, render_explanation
from decisions.models import Decision
from decisions.notices import appeal_deadline
from notifications.models import Notice
from portal.security import no_referrer, portal_page

SESSION_KEY = "portal_decision"
LANGUAGE_KEY = "portal_language"
SESSION_MINUTES = 30

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "service": "Your decision",
        "start_title": "See a decision about you",
        "start_intro": "Type the reference and the code from the letter or email we sent you.",
        "reference": "Reference",
        "reference_hint": "For example, CRD-7K3M-Q9XP",
        "code": "Code",
        "code_hint": "8 letters and numbers",
        "continue": "Continue",
        "error_title": "There is a problem",
        "error_reference": "Enter your reference",
        "error_code": "Enter your code",
        "error_no_match": "We could not find a decision with that reference and code. "
        "Check both and try again.",
        "expired_title": "This link has expired",
        "expired_body": "You can still see your decision. Type the reference and code from your letter.",
        "invalid_title": "This link does not work",
        "invalid_body": "The link may be incomplete. Type the reference and code from your letter instead.",
        "go_start": "Type your reference and code",
        "decision_title": "Our decision",
        "status": "Where it stands",
        "appeal_by": "You can appeal until",
        "appeal_by_after": "(this day included).",
        "appeal_free": "Appealing is free.",
        "inbox": "Messages we sent you",
        "no_messages": "No messages yet.",
        "sent": "Sent",
        "sign_out": "Sign out",
        "language": "Language",
        "human": "Ask a person",
    },
    "es": {
        "service": "Su decisión",
        "start_title": "Ver una decisión sobre usted",
        "start_intro": "Escriba la referencia y el código de la carta o el correo que le enviamos.",
        "reference": "Referencia",
        "reference_hint": "Por ejemplo, CRD-7K3M-Q9XP",
        "code": "Código",
        "code_hint": "8 letras y números",
        "continue": "Continuar",
        "error_title": "Hay un problema",
        "error_reference": "Escriba su referencia",
        "error_code": "Escriba su código",
        "error_no_match": "No encontramos ninguna decisión con esa referencia y ese código. "
        "Revise los dos y vuelva a intentarlo.",
        "expired_title": "Este enlace ha caducado",
        "expired_body": "Aún puede ver su decisión. Escriba la referencia y el código de su carta.",
        "invalid_title": "Este enlace no funciona",
        "invalid_body": "Puede que el enlace esté incompleto. Escriba la referencia y el código de su carta.",
        "go_start": "Escribir la referencia y el código",
        "decision_title": "Nuestra decisión",
        "status": "En qué punto está",
        "appeal_by": "Puede apelar hasta el",
        "appeal_by_after": "(incluido).",
        "appeal_free": "Apelar es gratis.",
        "inbox": "Mensajes que le enviamos",
        "no_messages": "Aún no hay mensajes.",
        "sent": "Enviado",
        "sign_out": "Salir",
        "language": "Idioma",
        "human": "Hablar con una persona",
    },
}

STATUS_TEXT = {
    "en": {
        "pending_notice": "Decided. It does not apply until you have been told about it.",
        "awaiting_human": "A person must confirm this decision before it applies.",
        "effective": "This decision applies now.",
        "stayed": "On hold while your appeal is looked at.",
        "reversed": "This decision was reversed.",
        "superseded": "This decision was replaced by a newer one.",
    },
    "es": {
        "pending_notice": "Decidido. No se aplica hasta que se le haya comunicado.",
        "awaiting_human": "Una persona debe confirmar esta decisión antes de que se aplique.",
        "effective": "Esta decisión se aplica ahora.",
        "stayed": "En pausa mientras se revisa su apelación.",
        "reversed": "Esta decisión se anuló.",
        "superseded": "Esta decisión se sustituyó por otra más reciente.",
    },
}


def _language(request: HttpRequest, default: str = "en") -> str:
    asked = request.GET.get("lang")
    if asked in TEXT:
        request.session[LANGUAGE_KEY] = asked
        return asked
    return language_for(request.session.get(LANGUAGE_KEY) or default)


def _grant(request: HttpRequest, decision: Decision) -> HttpResponseRedirect:
    request.session.cycle_key()  # a new session id: nothing from before the proof carries over
    request.session[SESSION_KEY] = str(decision.pk)
    request.session.set_expiry(SESSION_MINUTES * 60)
    return HttpResponseRedirect(reverse("portal:decision"))


def _page(request: HttpRequest, template: str, lang: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, template, {"t": TEXT[lang], "lang": lang, **context}, status=status)


@portal_page
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    lang = _language(request)
    if request.method == "GET":
        return _page(request, "portal/start.html", lang, values={}, errors=[])
    t = TEXT[lang]
    reference = access.normalise_reference(request.POST.get("reference", ""))[:40]
    code = request.POST.get("code", "")[:40]
    errors = []
    if not reference:
        errors.append({"field": "reference", "message": t["error_reference"]})
    if not access.normalise_code(code):
        errors.append({"field": "code", "message": t["error_code"]})
    if not errors:
        decision = Decision.objects.filter(public_reference=reference).only("pk", "access_code_hash").first()
        stored = decision.access_code_hash if decision is not None else None
        if decision is not None and access.access_code_matches(stored, reference, code):
            return _grant(request, decision)
        if decision is None:
            access.access_code_matches(None, reference, code)  # the same work as a wrong code
        errors.append({"field": "reference", "message": t["error_no_match"]})
    # Keep what the person typed, except the secret.
    return _page(
        request, "portal/start.html", lang, status=400, values={"reference": reference}, errors=errors
    )


@portal_page
@require_GET
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    lang = _language(request)
    try:
        decision_id = access.read_decision_token(token)
    except access.LinkExpired:
        return _page(request, "portal/link_problem.html", lang, status=410, problem="expired")
    except access.LinkInvalid:
        return _page(request, "portal/link_problem.html", lang, status=400, problem="invalid")
    decision = Decision.objects.filter(pk=decision_id).first()
    if decision is None:
        return _page(request, "portal/link_problem.html", lang, status=400, problem="invalid")
    return no_referrer(_grant(request, decision))


def _granted(request: HttpRequest) -> Decision | None:
    raw = request.session.get(SESSION_KEY)
    try:
        pk = uuid.UUID(str(raw))
    except ValueError:
        return None
    return (
        Decision.objects.select_related("system", "version", "outcome", "subject", "explanation")
        .prefetch_related("inputs__feature", "reasons__reason_code", "version__features")
        .filter(pk=pk)
        .first()
    )


@portal_page
@require_GET
def decision_page(request: HttpRequest) -> HttpResponse:
    decision = _granted(request)
    if decision is None:
        return HttpResponseRedirect(reverse("portal:start"))
    lang = _language(request, default=decision.subject.language)
    explanation = render_explanation(decision, lang)
    inbox = Notice.objects.filter(
        recipient=decision.subject.pseudonym, channel=Notice.Channel.PORTAL
    ).order_by("-created_at")
    return _page(
        request,
        "portal/decision.html",
        lang,
        decision=decision,
        explanation=explanation,
        status_text=STATUS_TEXT[lang].get(decision.status, decision.get_status_display()),
        deadline=format_date(appeal_deadline(decision), lang),
        inbox=[
            {"subject": n.subject, "sent": format_date(n.created_at, lang), "body": n.body_text, "id": n.pk}
            for n in inbox
        ],
    )


@portal_page
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return HttpResponseRedirect(reverse("portal:start"))
