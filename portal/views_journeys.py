"""The three journeys a person can take from their decision, one question per page:

- appeal (S16-S18): why the decision is wrong; why late (only after the deadline); what they want instead;
  documents; whether they act for someone else (then: name and authority); an oral hearing (only where the
  system offers one); help they need; how to contact them. Check your answers, "Send appeal", confirmation
  with the reference and the date we will answer by, and a receipt to print or save.
- data dispute (S19): which value, what is wrong, the right value, documents.
- explanation request (S20): what they want to know.

Answers live in the session until sent (portal.journeys.Progress); documents are held in a private folder
(portal.uploads). Sending calls the appeals services in one go (``appeal_file`` with the evidence, or
``dispute_file``, or ``explanation_request_file``) as the person (``Actor.subject(pseudonym)``). A refusal
from a service is shown on the check-answers page in the person's language, with every answer kept.

Documents pages take multipart posts: ``portal.pages.accepts_files`` sets the capped upload handler before the
body is read, then checks CSRF itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from appeals import services as appeals
from appeals.models import Appeal, Channel, DataDispute, ExplanationRequest
from core import clock
from core.errors import ApplicationError
from decisions.explanations import format_date, render_explanation
from decisions.models import SubjectContact
from decisions.notices import appeal_deadline
from decisions.outcomes import LIVE_STATUSES
from portal import casefile, uploads
from portal.journeys import (
    Context,
    Field,
    Journey,
    Option,
    Progress,
    Step,
    field_views,
    kept_values,
    read_values,
    summary_rows,
    validate,
)
from portal.pages import accepts_files, person_page, render_page
from portal.session import Visitor
from portal.text import TEXT, say

# ------------------------------------------------------------------------------------------ appeal

_LONG = 20000
_MEDIUM = 5000


def _contact_options(ctx: Context) -> Sequence[Option]:
    options = []
    if ctx.facts.get("has_email") or ctx.answers.get("rep_email"):
        options.append(Option("email", "opt_contact_email", hint="opt_contact_email_hint"))
    options += [
        Option("portal", "opt_contact_portal", hint="opt_contact_portal_hint"),
        Option(
            "post",
            "opt_contact_post",
            conditional=(
                Field(
                    "postal_address",
                    "textarea",
                    label="f_address",
                    summary="sum_address",
                    required="e_address",
                    max_length=500,
                    too_long="e_too_long_500",
                    rows=4,
                    autocomplete="street-address",
                ),
            ),
        ),
        Option(
            "phone",
            "opt_contact_phone",
            conditional=(
                Field(
                    "phone",
                    "tel",
                    label="f_phone",
                    hint="f_phone_hint",
                    summary="sum_phone",
                    required="e_phone_missing",
                    invalid="e_phone",
                    max_length=50,
                    too_long="e_phone",
                    width="20",
                    autocomplete="tel",
                    spellcheck=False,
                ),
            ),
        ),
    ]
    return options


APPEAL = Journey(
    "appeal",
    (
        Step(
            "reason",
            "q_reason",
            fields=(
                Field(
                    "statement",
                    "textarea",
                    hint="q_reason_hint",
                    summary="sum_reason",
                    required="e_reason",
                    max_length=_LONG,
                    too_long="e_too_long_20000",
                    rows=10,
                ),
            ),
        ),
        Step(
            "late",
            "q_late",
            applies=lambda c: bool(c.facts.get("late")),
            fields=(
                Field(
                    "good_cause",
                    "textarea",
                    hint="q_late_hint",
                    summary="sum_late",
                    required="e_late",
                    max_length=_MEDIUM,
                    too_long="e_too_long_5000",
                    rows=6,
                ),
            ),
        ),
        Step(
            "outcome",
            "q_outcome",
            fields=(
                Field(
                    "requested_remedy",
                    "textarea",
                    hint="q_outcome_hint",
                    summary="sum_outcome",
                    max_length=_MEDIUM,
                    too_long="e_too_long_5000",
                    rows=5,
                ),
            ),
        ),
        Step("documents", "q_documents", upload=True),
        Step(
            "someone-else",
            "q_someone",
            fields=(
                Field(
                    "filed_by",
                    "radios",
                    hint="q_someone_hint",
                    summary="sum_someone",
                    required="e_someone",
                    options=lambda _c: (
                        Option("person", "opt_myself", summary="no"),
                        Option(
                            "representative", "opt_someone_else", hint="opt_someone_else_hint", summary="yes"
                        ),
                    ),
                ),
            ),
        ),
        Step(
            "representative",
            "q_rep",
            intro="q_rep_intro",
            applies=lambda c: c.answers.get("filed_by") == "representative",
            fields=(
                Field(
                    "rep_name",
                    "text",
                    label="f_rep_name",
                    summary="sum_rep_name",
                    required="e_rep_name",
                    max_length=200,
                    too_long="e_too_long_200",
                    width="20",
                    autocomplete="name",
                    spellcheck=False,
                ),
                Field(
                    "authority",
                    "textarea",
                    label="f_authority",
                    hint="f_authority_hint",
                    summary="sum_authority",
                    required="e_authority",
                    max_length=2000,
                    too_long="e_too_long_2000",
                    rows=4,
                ),
                Field(
                    "rep_email",
                    "email",
                    label="f_rep_email",
                    hint="f_rep_email_hint",
                    summary="sum_rep_email",
                    invalid="e_email",
                    max_length=254,
                    too_long="e_email",
                    width="20",
                    autocomplete="email",
                    spellcheck=False,
                ),
                Field(
                    "rep_phone",
                    "tel",
                    label="f_rep_phone",
                    summary="sum_rep_phone",
                    invalid="e_phone",
                    max_length=50,
                    too_long="e_phone",
                    width="20",
                    autocomplete="tel",
                    spellcheck=False,
                ),
            ),
        ),
        Step(
            "hearing",
            "q_hearing",
            applies=lambda c: bool(c.facts.get("hearing")),
            fields=(
                Field(
                    "oral_hearing",
                    "radios",
                    hint="q_hearing_hint",
                    summary="sum_hearing",
                    required="e_hearing",
                    options=lambda _c: (
                        Option("yes", "opt_hearing_yes", summary="yes"),
                        Option("no", "opt_hearing_no", summary="no"),
                    ),
                ),
            ),
        ),
        Step(
            "help",
            "q_help",
            fields=(
                Field(
                    "accessibility_needs",
                    "textarea",
                    hint="q_help_hint",
                    summary="sum_help",
                    max_length=2000,
                    too_long="e_too_long_2000",
                    rows=4,
                ),
            ),
        ),
        Step(
            "contact",
            "q_contact",
            fields=(
                Field(
                    "contact_preference",
                    "radios",
                    hint="q_contact_hint",
                    summary="sum_contact",
                    required="e_contact",
                    options=_contact_options,
                ),
            ),
        ),
    ),
)


def _has_email(v: Visitor) -> bool:
    try:
        return bool(v.decision.subject.contact.email)
    except SubjectContact.DoesNotExist:
        return False


def _appeal_context(v: Visitor, progress: Progress) -> Context:
    d = v.decision
    deadline = appeal_deadline(d)
    return Context(
        v,
        progress.answers,
        params={"deadline": format_date(deadline, v.lang), "reference": d.public_reference},
        facts={
            "late": clock.is_past(deadline, v.tz),
            "hearing": bool(d.system.oral_hearing_allowed),
            "has_email": _has_email(v),
        },
    )


def _submit_appeal(v: Visitor, ctx: Context, files: list[tuple[str, bytes]]) -> str:
    a = ctx.answers
    filed_by = a.get("filed_by") or Appeal.FiledBy.PERSON
    representative = None
    if filed_by == Appeal.FiledBy.REPRESENTATIVE:
        representative = {
            "name": a.get("rep_name", ""),
            "authority": a.get("authority", ""),
            "email": a.get("rep_email", ""),
            "phone": a.get("rep_phone", ""),
        }
    contact = a.get("contact_preference") or Appeal.ContactPreference.PORTAL
    appeal = appeals.appeal_file(
        decision=v.decision,
        statement=a.get("statement", ""),
        actor=v.actor,
        channel=Channel.PORTAL,
        filed_by=filed_by,
        representative=representative,
        requested_remedy=a.get("requested_remedy", ""),
        oral_hearing_requested=bool(ctx.facts.get("hearing")) and a.get("oral_hearing") == "yes",
        accessibility_needs=a.get("accessibility_needs", ""),
        contact_preference=contact,
        phone=a.get("phone", "") if contact == "phone" else "",
        postal_address=a.get("postal_address", "") if contact == "post" else "",
        good_cause=a.get("good_cause", "") if ctx.facts.get("late") else "",
        evidence=files,
        language=v.lang,
    )
    return reverse("portal:appeal-sent", args=[appeal.reference])


# ------------------------------------------------------------------------------------------ data dispute


def _feature_options(ctx: Context) -> Sequence[Option]:
    rows = render_explanation(ctx.v.decision, ctx.lang).data
    return tuple(Option(r.feature, text=f"{r.label}: {r.value}") for r in rows)


def _not_disputed_yet(ctx: Context, values: dict[str, str]) -> list[dict[str, str]]:
    open_ = DataDispute.objects.filter(
        decision=ctx.v.decision, feature=values.get("feature", ""), status=DataDispute.Status.OPEN
    ).first()
    if open_ is None:
        return []
    return [{"field": "feature", "message": say(ctx.lang, "e_dispute_open", dispute=open_.reference)}]


DISPUTE = Journey(
    "dispute",
    (
        Step(
            "which",
            "q_which",
            fields=(
                Field(
                    "feature",
                    "radios",
                    hint="q_which_hint",
                    summary="sum_which",
                    required="e_which",
                    options=_feature_options,
                ),
            ),
            check=_not_disputed_yet,
        ),
        Step(
            "what",
            "q_what",
            fields=(
                Field(
                    "what_is_wrong",
                    "textarea",
                    hint="q_what_hint",
                    summary="sum_what",
                    required="e_what",
                    max_length=_MEDIUM,
                    too_long="e_too_long_5000",
                    rows=6,
                ),
            ),
        ),
        Step(
            "correct",
            "q_correct",
            fields=(
                Field(
                    "proposed_value",
                    "text",
                    hint="q_correct_hint",
                    summary="sum_correct",
                    max_length=500,
                    too_long="e_too_long_500",
                    width="20",
                ),
            ),
        ),
        Step("documents", "q_documents_dispute", upload=True),
    ),
)


def _dispute_context(v: Visitor, progress: Progress) -> Context:
    rows = {r.feature: r for r in render_explanation(v.decision, v.lang).data}
    row = rows.get(str(progress.answers.get("feature", "")))
    params = {"reference": v.decision.public_reference, "label": "", "value": "", "source": "", "as_of": ""}
    if row is not None:
        params |= {"label": row.label, "value": row.value, "source": row.source, "as_of": row.as_of or "—"}
    return Context(v, progress.answers, params=params)


def _submit_dispute(v: Visitor, ctx: Context, files: list[tuple[str, bytes]]) -> str:
    a = ctx.answers
    dispute = appeals.dispute_file(
        decision=v.decision,
        feature=a.get("feature", ""),
        what_is_wrong=a.get("what_is_wrong", ""),
        proposed_value=a.get("proposed_value") or None,
        actor=v.actor,
        channel=Channel.PORTAL,
        evidence=files,
        language=v.lang,
    )
    return reverse("portal:dispute-sent", args=[dispute.reference])


# ------------------------------------------------------------------------------------------ explanation

EXPLANATION = Journey(
    "explanation",
    (
        Step(
            "question",
            "q_explain",
            fields=(
                Field(
                    "question",
                    "textarea",
                    hint="q_explain_hint",
                    summary="sum_explain",
                    required="e_explain",
                    max_length=_MEDIUM,
                    too_long="e_too_long_5000",
                    rows=8,
                ),
            ),
        ),
    ),
)


def _explanation_context(v: Visitor, progress: Progress) -> Context:
    return Context(v, progress.answers, params={"reference": v.decision.public_reference})


def _submit_explanation(v: Visitor, ctx: Context, files: list[tuple[str, bytes]]) -> str:
    request_ = appeals.explanation_request_file(
        decision=v.decision,
        question=ctx.answers.get("question", ""),
        actor=v.actor,
        channel=Channel.PORTAL,
        language=v.lang,
    )
    return reverse("portal:explanation-sent", args=[request_.reference])


# ------------------------------------------------------------------------------------------ the registry


@dataclass(frozen=True)
class Kind:
    journey: Journey
    context: Callable[[Visitor, Progress], Context]
    submit: Callable[[Visitor, Context, list[tuple[str, bytes]]], str]
    title: str  # text key: the caption over every page of the journey
    check_title: str
    send: str  # text key of the button
    declaration: str  # text key of the paragraph above it


KINDS: dict[str, Kind] = {
    "appeal": Kind(
        APPEAL,
        _appeal_context,
        _submit_appeal,
        "appeal_caption",
        "check_appeal",
        "send_appeal",
        "declare_appeal",
    ),
    "dispute": Kind(
        DISPUTE,
        _dispute_context,
        _submit_dispute,
        "dispute_caption",
        "check_dispute",
        "send_dispute",
        "declare_dispute",
    ),
    "explanation": Kind(
        EXPLANATION,
        _explanation_context,
        _submit_explanation,
        "explanation_caption",
        "check_explanation",
        "send_explanation",
        "declare_explanation",
    ),
}


def _kind(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise Http404
    return kind


def start_url(name: str) -> str:
    return reverse("portal:appeal-start") if name == "appeal" else reverse("portal:decision")


# ------------------------------------------------------------------------------------------ who may start


def _gate(request: HttpRequest, v: Visitor, name: str) -> HttpResponse | None:
    """Refuse to start a journey the service would refuse at the end, saying why and what they can do."""
    d = v.decision
    if name == "explanation":
        return None
    newer = d.status in (d.Status.SUPERSEDED, d.Status.REVERSED)
    if name == "dispute":
        if d.status in LIVE_STATUSES:
            return None
        return render_page(
            request, "portal/cannot.html", v.lang, v=v, why="replaced", newer=_newer(v), status=409
        )
    open_ = casefile.appeals_of(v).filter(status__in=casefile.OPEN).first()
    if open_ is not None:
        return HttpResponseRedirect(reverse("portal:appeal-status", args=[open_.reference]))
    if newer:
        why = "replaced"
    elif not d.adverse:
        why = "favourable"
    elif d.status == d.Status.AWAITING_HUMAN:
        why = "not_final"
    elif casefile.appeals_of(v).filter(outcome__gt="").exists():
        why = "decided"
    else:
        return None
    return render_page(
        request,
        "portal/cannot.html",
        v.lang,
        v=v,
        why=why,
        routes=casefile.routes(v),
        newer=_newer(v) if why == "replaced" else None,
        status=409,
    )


def _newer(v: Visitor) -> Any:
    from decisions.models import Decision

    return Decision.objects.filter(supersedes_id=v.decision.pk).first()


# ------------------------------------------------------------------------------------------ service refusals


def service_errors(lang: str, exc: ApplicationError, kind: str) -> list[dict[str, str]]:
    """A service's refusal in the person's words. Field problems point at the page where they are fixed."""
    t = TEXT[lang]
    extra = exc.extra or {}
    journey = KINDS[kind].journey
    by_code = {
        "appeal-already-open": t["err_appeal_open"].format(appeal=extra.get("appeal", "")),
        "appeal-already-decided": t["err_appeal_decided"],
        "decision-replaced": t["err_replaced"],
        "decision-not-final": t["err_not_final"],
        "decision-not-adverse": t["err_not_adverse"],
        "dispute-already-open": t["err_dispute_open"].format(dispute=extra.get("dispute", "")),
    }
    if exc.code in by_code:
        return [{"field": "send", "message": by_code[exc.code]}]
    field_pages = {
        "statement": "reason",
        "good_cause": "late",
        "representative.name": "representative",
        "representative.authority": "representative",
        "oral_hearing_requested": "hearing",
        "contact_preference": "contact",
        "what_is_wrong": "what",
        "feature": "which",
        "question": "question",
    }
    out = []
    for e in exc.errors:
        field = str(e.get("field", ""))
        code = str(e.get("code", ""))
        if field.startswith("evidence"):
            key = {
                "too-many-files": "err_files_too_many",
                "file-too-large": "err_file_too_large",
                "unsupported-type": "err_file_type",
                "empty-file": "err_file_empty",
            }.get(code, "err_files")
            out.append({"field": "send", "message": t[key], "href": journey.url("documents", change=True)})
        elif field in field_pages and journey.step(field_pages[field]):
            out.append(
                {
                    "field": "send",
                    "message": t["err_check_answer"],
                    "href": journey.url(field_pages[field], change=True),
                }
            )
    return out or [{"field": "send", "message": t["err_generic"]}]


# ------------------------------------------------------------------------------------------ pages


@require_GET
@person_page
def appeal_start(request: HttpRequest, v: Visitor) -> HttpResponse:
    refused = _gate(request, v, "appeal")
    if refused is not None:
        return refused
    d = v.decision
    deadline = appeal_deadline(d)
    return render_page(
        request,
        "portal/appeal_start.html",
        v.lang,
        v=v,
        decision=d,
        deadline=format_date(deadline, v.lang),
        late=clock.is_past(deadline, v.tz),
        stay_policy=casefile.stay_policy_words(v),
        hearing=d.system.oral_hearing_allowed,
        first=APPEAL.url(APPEAL.steps[0].slug),
    )


@require_GET
@person_page
def journey_begin(request: HttpRequest, v: Visitor, name: str) -> HttpResponse:
    kind = _kind(name)
    refused = _gate(request, v, name)
    if refused is not None:
        return refused
    return HttpResponseRedirect(kind.journey.url(kind.journey.steps[0].slug))


@require_GET
@person_page
def dispute_for(request: HttpRequest, v: Visitor, feature: str) -> HttpResponse:
    """Start a data dispute from a "this is wrong" link: the value is already chosen."""
    refused = _gate(request, v, "dispute")
    if refused is not None:
        return refused
    if not any(i.feature.name == feature for i in v.decision.inputs.all()):
        raise Http404
    open_ = DataDispute.objects.filter(
        decision=v.decision, feature=feature, status=DataDispute.Status.OPEN
    ).first()
    if open_ is not None:  # already being checked: show that check
        return HttpResponseRedirect(reverse("portal:dispute-status", args=[open_.reference]))
    progress = Progress(request, "dispute", v.decision.pk)
    if progress.answers.get("feature") != feature:
        progress.answers.pop("what_is_wrong", None)
        progress.answers.pop("proposed_value", None)
    progress.save({"feature": feature}, seen="which")
    return HttpResponseRedirect(DISPUTE.url("what"))


def _step_page(
    request: HttpRequest,
    v: Visitor,
    kind: Kind,
    step: Step,
    ctx: Context,
    progress: Progress,
    *,
    values: dict[str, Any],
    errors: list[dict[str, str]],
    change: bool,
    status: int = 200,
) -> HttpResponse:
    journey = kind.journey
    fields = field_views(step, ctx, values, errors)
    return render_page(
        request,
        "portal/upload.html" if step.upload else "portal/question.html",
        v.lang,
        status=status,
        v=v,
        caption=ctx.text(kind.title),
        title=ctx.text(step.title),
        intro=ctx.text(step.intro) if step.intro else "",
        step=step,
        fields=fields,
        single=len(fields) == 1,
        errors=errors,
        change=change,
        back=journey.back_url(ctx, step.slug, change=change, start=start_url(journey.name)),
        files=[
            {**f, "size_text": casefile.size_words(int(f.get("size", 0)), v.lang)} for f in progress.files
        ],
        max_files=appeals.evidence_max_files(),
        max_size=casefile.size_words(appeals.evidence_max_bytes(), v.lang),
        room=appeals.evidence_max_files() - len(progress.files),
        session_minutes=30,
    )


def refusal_messages(lang: str, refused: list[uploads.Refused]) -> list[dict[str, str]]:
    t = TEXT[lang]
    key = {
        "empty": "e_file_empty",
        "too-large": "e_file_too_large",
        "wrong-type": "e_file_type",
        "too-many": "e_file_too_many",
    }
    return [
        {
            "field": "documents",
            "message": t[key[r.code]].format(
                name=r.name,
                size=casefile.size_words(appeals.evidence_max_bytes(), lang),
                most=appeals.evidence_max_files(),
            ),
        }
        for r in refused
    ]


@accepts_files
@require_http_methods(["GET", "POST"])
@person_page
def journey_step(request: HttpRequest, v: Visitor, name: str, slug: str) -> HttpResponse:
    kind = _kind(name)
    journey = kind.journey
    step = journey.step(slug)
    if step is None:
        raise Http404
    refused = _gate(request, v, name)
    if refused is not None:
        return refused
    progress = Progress(request, name, v.decision.pk)
    ctx = kind.context(v, progress)
    change = request.GET.get("change") == "1"
    if not step.applies(ctx):
        return HttpResponseRedirect(journey.next_url(ctx, progress, slug, change=change))
    if name == "dispute" and slug != "which" and not progress.answers.get("feature"):
        return HttpResponseRedirect(journey.url("which"))
    if step.upload:
        return _upload(request, v, kind, step, ctx, progress, change=change)
    if request.method == "GET":
        return _step_page(
            request, v, kind, step, ctx, progress, values=progress.answers, errors=[], change=change
        )
    values = read_values(step, ctx, request.POST)
    errors = validate(step, ctx, values)
    if errors:
        return _step_page(
            request, v, kind, step, ctx, progress, values=values, errors=errors, change=change, status=400
        )
    if name == "dispute" and slug == "which" and values.get("feature") != progress.answers.get("feature"):
        progress.answers.pop("what_is_wrong", None)  # a different value: the old words were about another
    progress.save(kept_values(step, ctx, values), seen=slug)
    ctx = kind.context(v, progress)
    return HttpResponseRedirect(journey.next_url(ctx, progress, slug, change=change))


def _upload(
    request: HttpRequest,
    v: Visitor,
    kind: Kind,
    step: Step,
    ctx: Context,
    progress: Progress,
    *,
    change: bool,
) -> HttpResponse:
    journey = kind.journey
    if request.method == "GET":
        return _step_page(request, v, kind, step, ctx, progress, values={}, errors=[], change=change)
    remove = request.POST.get("remove", "")
    if remove:
        gone = [f for f in progress.files if f.get("id") == remove]
        uploads.drop(request, gone)
        progress.data["files"] = [f for f in progress.files if f.get("id") != remove]
        progress.save()
        here = journey.url(step.slug, change=change)
        return HttpResponseRedirect(here)
    accepted, refused = uploads.check_files(request.FILES.getlist("documents"), len(progress.files))
    progress.data["files"] = progress.files + uploads.hold(request, accepted)
    progress.save()
    errors = refusal_messages(v.lang, refused)
    if errors:
        return _step_page(
            request, v, kind, step, ctx, progress, values={}, errors=errors, change=change, status=400
        )
    if request.POST.get("action") == "upload":
        return HttpResponseRedirect(
            journey.url(step.slug, change=change) + ("&" if change else "?") + "added=1"
        )
    progress.save(seen=step.slug)
    return HttpResponseRedirect(journey.next_url(ctx, progress, step.slug, change=change))


@require_http_methods(["GET", "POST"])
@person_page
def journey_check(request: HttpRequest, v: Visitor, name: str) -> HttpResponse:
    kind = _kind(name)
    journey = kind.journey
    refused = _gate(request, v, name)
    if refused is not None:
        return refused
    progress = Progress(request, name, v.decision.pk)
    ctx = kind.context(v, progress)
    missing = journey.first_unanswered(ctx, progress)
    if missing is not None:
        return HttpResponseRedirect(journey.url(missing.slug))
    errors: list[dict[str, str]] = []
    status = 200
    if request.method == "POST":
        try:
            files = uploads.read_held(request, progress.files)
        except FileNotFoundError:
            progress.data["files"] = []
            progress.save()
            errors = [
                {
                    "field": "send",
                    "message": ctx.text("err_file_lost"),
                    "href": journey.url("documents", change=True),
                }
            ]
            status = 409
        else:
            try:
                done = kind.submit(v, ctx, files)
            except ApplicationError as exc:
                errors, status = service_errors(v.lang, exc, name), exc.status
            else:
                uploads.drop(request, progress.files)
                progress.forget()
                return HttpResponseRedirect(done)
    return render_page(
        request,
        "portal/check.html",
        v.lang,
        status=status,
        v=v,
        caption=ctx.text(kind.title),
        title=ctx.text(kind.check_title),
        rows=summary_rows(journey, ctx, progress.files),
        declaration=ctx.text(kind.declaration),
        send=ctx.text(kind.send),
        errors=errors,
        back=journey.url(journey.applicable(ctx)[-1].slug),
        kind=name,
    )


# ------------------------------------------------------------------------------------------ confirmations


@require_GET
@person_page
def appeal_sent(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    appeal = casefile.appeal_for(v, reference)
    if appeal is None:
        raise Http404
    return render_page(
        request,
        "portal/appeal_sent.html",
        v.lang,
        v=v,
        appeal=appeal,
        due=casefile.day(v, appeal.due_date),
        deadline=casefile.day(v, appeal.appeal_deadline),
        stay=casefile.stay_words(v, appeal),
        files=appeal.evidence.count(),
    )


def _receipt(v: Visitor, appeal: Appeal) -> dict[str, Any]:
    data = casefile.appeal_data(v, appeal)
    t = TEXT[v.lang]
    rows = [
        (t["r_reference"], appeal.reference),
        (t["r_decision"], appeal.decision.public_reference),
        (t["r_sent"], data["filed_text"]),
        (t["r_due"], data["due_text"]),
        (t["r_status"], data["status_text"]),
        (t["sum_reason"], appeal.statement),
    ]
    if appeal.late:
        rows.append((t["sum_late"], appeal.good_cause))
    rows.append((t["sum_outcome"], appeal.requested_remedy or t["not_given"]))
    if data["representative"]:
        rows.append((t["sum_rep_name"], data["representative"]["name"]))
        rows.append((t["sum_authority"], data["representative"]["authority"]))
    if appeal.decision.system.oral_hearing_allowed:
        rows.append((t["sum_hearing"], t["yes"] if appeal.oral_hearing_requested else t["no"]))
    rows.append((t["sum_help"], data["accessibility_needs"] or t["not_given"]))
    rows.append(
        (t["sum_contact"], t.get(f"opt_contact_{appeal.contact_preference}", appeal.contact_preference))
    )
    return {"rows": rows, "files": data["evidence"], "stay": data["stay_text"], "data": data}


@require_GET
@person_page
def appeal_receipt(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    appeal = casefile.appeal_for(v, reference)
    if appeal is None:
        raise Http404
    return render_page(
        request, "portal/receipt.html", v.lang, v=v, appeal=appeal, receipt=_receipt(v, appeal)
    )


@require_GET
@person_page
def appeal_receipt_text(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    """The receipt as a plain text file the person can keep (works on any phone, no printer needed)."""
    appeal = casefile.appeal_for(v, reference)
    if appeal is None:
        raise Http404
    receipt = _receipt(v, appeal)
    t = TEXT[v.lang]
    lines = [t["receipt_title"], "=" * len(t["receipt_title"]), ""]
    for key, value in receipt["rows"]:
        lines += [f"{key}:", *(f"  {line}" for line in str(value).splitlines() or [""]), ""]
    lines.append(f"{t['sum_documents']}:")
    lines += [f"  - {f['name']} ({f['size_text']}, SHA-256 {f['sha256']})" for f in receipt["files"]] or [
        f"  {t['no_documents']}"
    ]
    lines += ["", receipt["stay"], "", say(v.lang, "receipt_keep"), ""]
    response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appeal-{appeal.reference}.txt"'
    return response


@require_GET
@person_page
def dispute_sent(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    dispute = casefile.dispute_for(v, reference)
    if dispute is None:
        raise Http404
    return render_page(
        request, "portal/dispute_sent.html", v.lang, v=v, dispute=casefile.dispute_data(v, dispute)
    )


@require_GET
@person_page
def explanation_sent(request: HttpRequest, v: Visitor, reference: str) -> HttpResponse:
    found: ExplanationRequest | None = casefile.explanation_request_for(v, reference)
    if found is None:
        raise Http404
    return render_page(
        request,
        "portal/explanation_sent.html",
        v.lang,
        v=v,
        request_=casefile.explanation_request_data(v, found),
    )
