"""Staff pages of the oversight controls: the stop switch and its incidents (S29), and remedy campaigns (S30).

Who sees what
    Incidents and the stop switch: senior reviewers, auditors and admins (the oversight viewers). Remedy
    campaigns: they, and reviewers (who find defects in their cases and re-review the decisions).
    Senior reviewers and admins act on incidents and resume systems; reviewers, senior reviewers and admins
    open campaigns and record re-reviews. Auditors read and never act: the forms are not shown to them, the
    services refuse them, and ``oversight.middleware.AuditorReadOnlyMiddleware`` refuses their POSTs first.

Views are thin: a POST calls one service; a refusal (``ApplicationError``) shows the page again with a
GOV.UK-style error summary and what the person typed, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from appeals import selectors as appeal_selectors
from appeals.models import Appeal
from core.errors import ApplicationError
from core.models import AuditEvent
from decisions.models import Decision, DecisionInput, DecisionSystem, ReasonCode, SystemVersion
from oversight import incidents, remedy, stopswitch
from oversight.controls_models import DefectKind, Incident, RemedyCampaign, RemedyItem

V = TypeVar("V", bound=Callable[..., HttpResponse])

VIEW_GROUPS = frozenset({"seniorreviewer", "auditor", "admin"})
REMEDY_VIEW_GROUPS = VIEW_GROUPS | {"reviewer"}
PAGE_SIZE = 50


def _groups(user: Any) -> set[str]:
    names = user.groups.values_list("name", flat=True)
    return {n.lower().replace(" ", "").replace("_", "").replace("-", "") for n in names}


def can_view_incidents(user: Any) -> bool:
    return bool(user.is_active and (user.is_superuser or _groups(user) & VIEW_GROUPS))


def can_view_remedies(user: Any) -> bool:
    return bool(user.is_active and (user.is_superuser or _groups(user) & REMEDY_VIEW_GROUPS))


def can_control(user: Any) -> bool:
    """Act on incidents and resume systems (never an auditor)."""
    return incidents.is_controller(user) and "auditor" not in _groups(user)


def can_remedy(user: Any) -> bool:
    """Open campaigns and record re-reviews (never an auditor)."""
    return (appeal_selectors.has_reviewer_authority(user) or incidents.is_controller(user)) and (
        "auditor" not in _groups(user)
    )


def _guard(test: Callable[[Any], bool], message: str) -> Callable[[V], V]:
    def decorator(view: V) -> V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not test(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return cast(V, login_required(wrapped))

    return decorator


incident_viewer = _guard(
    can_view_incidents, "Incidents are for senior reviewers, auditors and administrators."
)
remedy_viewer = _guard(can_view_remedies, "Remedy campaigns are for reviewers, auditors and administrators.")


def _errors(exc: ApplicationError, default_field: str) -> list[dict[str, str]]:
    if exc.errors:
        return [
            {"field": e.get("field") or default_field, "message": e.get("message", "")} for e in exc.errors
        ]
    return [{"field": default_field, "message": exc.detail}]


# ------------------------------------------------------------------------------------------ stop switch


@require_safe
@never_cache
@incident_viewer
def incident_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = Incident.objects.select_related("system", "version").order_by("-opened_at")
    if status in Incident.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    systems = list(DecisionSystem.objects.exclude(status=DecisionSystem.Status.DRAFT).order_by("name"))
    rates = stopswitch.live_rates(systems)
    versions = {v.pk: v.version for v in SystemVersion.objects.filter(system__in=systems)}
    held = dict(
        Decision.objects.filter(system__in=systems, status=Decision.Status.AWAITING_HUMAN)
        .values_list("system_id")
        .annotate(n=Count("pk"))
        .values_list("system_id", "n")
    )
    rows = [
        {
            "system": s,
            "held": held.get(s.pk, 0),
            "rates": [
                {
                    "version": versions.get(r.version_id, "?"),
                    "rate": r.rate,
                    "decided": r.decided,
                    "changed": r.changed,
                    "trips": stopswitch.trips(s, r),
                    "window_start": r.window_start,
                }
                for r in rates[s.pk]
            ],
        }
        for s in systems
    ]
    return render(
        request,
        "oversight/controls/incident_list.html",
        {
            "section": "incidents",
            "page": page,
            "incidents": [(i, incidents.is_overdue(i)) for i in page.object_list],
            "status": status,
            "statuses": Incident.Status.choices,
            "systems": rows,
            "window_days": stopswitch.window_days(),
            "can_control": can_control(request.user),
        },
    )


def _incident_or_404(incident_id: UUID) -> Incident:
    incident = (
        Incident.objects.select_related("system", "version", "resumed_by").filter(pk=incident_id).first()
    )
    if incident is None:
        raise Http404("No such incident.")
    return incident


def _incident_page(
    request: HttpRequest, incident: Incident, *, errors: list[dict[str, str]] | None = None, status: int = 200
) -> HttpResponse:
    timeline = list(
        AuditEvent.objects.filter(
            target_type=Incident._meta.label_lower, target_id=str(incident.pk)
        ).order_by("id")
    )
    return render(
        request,
        "oversight/controls/incident_detail.html",
        {
            "section": "incidents",
            "incident": incident,
            "overdue": incidents.is_overdue(incident),
            "timeline": timeline,
            "can_control": can_control(request.user),
            "errors": errors or [],
            "values": request.POST if errors else {},
        },
        status=status,
    )


@require_safe
@never_cache
@incident_viewer
def incident_detail(request: HttpRequest, incident_id: UUID) -> HttpResponse:
    return _incident_page(request, _incident_or_404(incident_id))


def _incident_action(
    action: Callable[[HttpRequest, Incident], str], field: str
) -> Callable[[HttpRequest, UUID], HttpResponse]:
    """A POST by a senior reviewer or admin on one incident: call one service, back to the incident."""

    @require_POST
    @incident_viewer
    @wraps(action)
    def view(request: HttpRequest, incident_id: UUID) -> HttpResponse:
        incident = _incident_or_404(incident_id)
        if not can_control(request.user):
            raise PermissionDenied("Only a senior reviewer or an administrator may change an incident.")
        try:
            done = action(request, incident)
        except ApplicationError as exc:
            return _incident_page(
                request, _incident_or_404(incident_id), errors=_errors(exc, field), status=422
            )
        messages.success(request, done)
        return HttpResponseRedirect(reverse("oversight:incident", args=[incident.pk]))

    return view


def _post(request: HttpRequest, name: str) -> str:
    return str(request.POST.get(name, "")).strip()


def _int(text: str) -> int:
    """A primary key typed in a form; 0 (no row) when it is not a number."""
    return int(text) if text.isdigit() else 0


def _widespread(request: HttpRequest, incident: Incident) -> str:
    i = incidents.incident_mark_widespread(incident=incident, actor=request.user, note=_post(request, "note"))
    return f"Marked widespread: the report is now due on {i.reporting_due:%d %B %Y}."


def _reported(request: HttpRequest, incident: Incident) -> str:
    incidents.incident_mark_reported(
        incident=incident,
        actor=request.user,
        report_reference=_post(request, "report_reference"),
        note=_post(request, "note"),
    )
    return "Recorded as reported to the authority."


def _close(request: HttpRequest, incident: Incident) -> str:
    incidents.incident_close(incident=incident, actor=request.user, reason=_post(request, "reason"))
    return "The incident is closed."


def _note(request: HttpRequest, incident: Incident) -> str:
    incidents.incident_add_note(incident=incident, actor=request.user, note=_post(request, "note"))
    return "Note added."


incident_widespread = _incident_action(_widespread, "note")
incident_reported = _incident_action(_reported, "report_reference")
incident_close = _incident_action(_close, "reason")
incident_note = _incident_action(_note, "note")


@require_POST
@incident_viewer
def system_resume(request: HttpRequest, slug: str) -> HttpResponse:
    system = DecisionSystem.objects.filter(slug=slug).first()
    if system is None:
        raise Http404("No such system.")
    if not can_control(request.user):
        raise PermissionDenied("Only a senior reviewer or an administrator may resume a system.")
    try:
        stopswitch.system_resume(system=system, actor=request.user, note=_post(request, "note"))
    except ApplicationError as exc:
        messages.error(request, f"{system.name} was not resumed: {exc.detail}")
    else:
        messages.success(
            request,
            f"{system.name} is live again. Decisions held while it was suspended still wait for a person.",
        )
    return HttpResponseRedirect(reverse("oversight:incidents") + "#stop-switch")


# ------------------------------------------------------------------------------------------ remedy


@require_safe
@never_cache
@remedy_viewer
def remedy_list(request: HttpRequest) -> HttpResponse:
    campaigns = list(
        RemedyCampaign.objects.select_related("system", "reason_code", "version", "origin_appeal").order_by(
            "-opened_at"
        )[:200]
    )
    return render(
        request,
        "oversight/controls/remedy_list.html",
        {
            "section": "remedies",
            "campaigns": [(c, remedy.remedy_campaign_counts(c)) for c in campaigns],
            "can_remedy": can_remedy(request.user),
        },
    )


def _appeal_from(request: HttpRequest) -> Appeal | None:
    ref = str(request.GET.get("appeal") or request.POST.get("appeal") or "").strip().upper()
    if not ref:
        return None
    return (
        Appeal.objects.select_related("decision__system", "decision__version")
        .filter(reference=ref, outcome__in=["upheld", "overturned", "modified"])
        .first()
    )


def _defect_choices(appeal: Appeal) -> dict[str, Any]:
    """What the appeal's decision used, as the options of the form (``kind:pk``) with plain labels."""
    d = appeal.decision
    reasons = ReasonCode.objects.filter(pk__in=d.reasons.values("reason_code_id")).select_related("feature")
    inputs = DecisionInput.objects.filter(decision=d).select_related("feature").order_by("feature__name")
    options = [
        (f"{DefectKind.REASON_CODE}:{rc.pk}", f"The reason code {rc.code} ({rc.feature.name})")
        for rc in reasons
    ]
    options += [
        (f"{DefectKind.DATA_SOURCE}:{i.pk}", f"The data source of {i.feature.name}: {i.source}")
        for i in inputs
    ]
    options.append((f"{DefectKind.VERSION}:{d.version_id}", f"Version {d.version.version} itself"))
    return {
        "options": options,
        "version": d.version,
        "corrections": list(
            SystemVersion.objects.filter(system_id=d.system_id, scorecard__isnull=False)
            .exclude(pk=d.version_id)
            .order_by("-created_at")
        ),
    }


def _remedy_form(
    request: HttpRequest,
    appeal: Appeal | None,
    *,
    errors: list[dict[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "oversight/controls/remedy_new.html",
        {
            "section": "remedies",
            "appeal": appeal,
            "looked_up": bool(request.GET.get("appeal") or request.POST.get("appeal")),
            "choices": _defect_choices(appeal) if appeal else None,
            "errors": errors or [],
            "values": request.POST if request.method == "POST" else request.GET,
        },
        status=status,
    )


@never_cache
@remedy_viewer
def remedy_new(request: HttpRequest) -> HttpResponse:
    """Step 1 (GET ?appeal=REF): the appeal's decision, its reasons, inputs and version to choose the defect
    from. Step 2 (POST): open the campaign."""
    if not can_remedy(request.user):
        raise PermissionDenied("Only reviewers, senior reviewers and administrators open remedy campaigns.")
    appeal = _appeal_from(request)
    if request.method != "POST":
        return _remedy_form(request, appeal)
    if appeal is None:
        return _remedy_form(
            request,
            None,
            errors=[{"field": "appeal", "message": "Give the reference of a decided appeal."}],
            status=422,
        )
    kind, _, choice = _post(request, "pick").partition(":")
    ref: Any = None
    d = appeal.decision
    if kind == DefectKind.REASON_CODE:
        ref = ReasonCode.objects.filter(pk__in=d.reasons.values("reason_code_id"), pk=_int(choice)).first()
    elif kind == DefectKind.DATA_SOURCE:
        ref = DecisionInput.objects.filter(decision=d, pk=_int(choice)).first()
    elif kind == DefectKind.VERSION:
        ref = d.version
    rescore_pk = _post(request, "rescore_version")
    rescore = (
        SystemVersion.objects.filter(system_id=d.system_id, pk=rescore_pk).first()
        if rescore_pk.isdigit()
        else None
    )
    try:
        campaign = remedy.remedy_campaign_open(
            defect_kind=kind,
            ref=ref,
            actor=request.user,
            description=_post(request, "description"),
            appeal=appeal,
            rescore_version=rescore,
        )
    except ApplicationError as exc:
        return _remedy_form(request, appeal, errors=_errors(exc, "pick"), status=422)
    messages.success(request, f"Remedy campaign {campaign.reference} is open.")
    return HttpResponseRedirect(reverse("oversight:remedy", args=[campaign.pk]))


def _campaign_or_404(campaign_id: UUID) -> RemedyCampaign:
    c = (
        RemedyCampaign.objects.select_related(
            "system", "reason_code", "version", "rescore_version", "origin_appeal", "opened_by"
        )
        .filter(pk=campaign_id)
        .first()
    )
    if c is None:
        raise Http404("No such remedy campaign.")
    return c


def _campaign_page(
    request: HttpRequest,
    campaign: RemedyCampaign,
    *,
    errors: list[dict[str, str]] | None = None,
    failed_item: int | None = None,
    status: int = 200,
) -> HttpResponse:
    wanted = request.GET.get("status", "")
    items = RemedyItem.objects.filter(campaign=campaign).select_related(
        "decision__subject", "decision__outcome", "decision__version", "new_decision__outcome"
    )
    if wanted in RemedyItem.Status.values:
        items = items.filter(status=wanted)
    page = Paginator(items.order_by("pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    outcome_choices: dict[int, list[tuple[str, str]]] = {}
    for v in {i.decision.version for i in page.object_list}:
        outcome_choices[v.pk] = [(o.code, o.code) for o in v.outcomes.order_by("code")]
    return render(
        request,
        "oversight/controls/remedy_detail.html",
        {
            "section": "remedies",
            "campaign": campaign,
            "counts": remedy.remedy_campaign_counts(campaign),
            "not_told": RemedyItem.objects.filter(campaign=campaign, notified_at__isnull=True).count(),
            "page": page,
            "items": [(i, outcome_choices.get(i.decision.version_id, [])) for i in page.object_list],
            "status": wanted,
            "statuses": RemedyItem.Status.choices,
            "can_remedy": can_remedy(request.user),
            "can_control": can_control(request.user),
            "errors": errors or [],
            "failed_item": failed_item,
            "values": request.POST if errors else {},
            "timeline": list(
                AuditEvent.objects.filter(
                    target_type=RemedyCampaign._meta.label_lower, target_id=str(campaign.pk)
                ).order_by("-id")[:50]
            ),
        },
        status=status,
    )


@require_safe
@never_cache
@remedy_viewer
def remedy_detail(request: HttpRequest, campaign_id: UUID) -> HttpResponse:
    return _campaign_page(request, _campaign_or_404(campaign_id))


@require_POST
@remedy_viewer
def remedy_item_resolve(request: HttpRequest, campaign_id: UUID, item_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    if not can_remedy(request.user):
        raise PermissionDenied("Only reviewers, senior reviewers and administrators record re-reviews.")
    item = RemedyItem.objects.filter(campaign=campaign, pk=item_id).first()
    if item is None:
        raise Http404("No such item in this campaign.")
    try:
        done = remedy.remedy_item_resolve(
            item=item, actor=request.user, note=_post(request, "note"), outcome=_post(request, "outcome")
        )
    except ApplicationError as exc:
        return _campaign_page(
            request, campaign, errors=_errors(exc, f"note-{item.pk}"), failed_item=item.pk, status=422
        )
    messages.success(request, f"Recorded: {done.get_status_display().lower()}.")
    return HttpResponseRedirect(reverse("oversight:remedy", args=[campaign.pk]) + "#items")


@require_POST
@remedy_viewer
def remedy_process(request: HttpRequest, campaign_id: UUID) -> HttpResponse:
    """Send the notices not sent yet and re-score what waits (after fixing what blocked them)."""
    campaign = _campaign_or_404(campaign_id)
    if not can_control(request.user):
        raise PermissionDenied("Only a senior reviewer or an administrator may do this.")
    result = remedy.remedy_campaign_process(campaign_id=campaign.pk, actor=request.user)
    messages.success(request, f"{result['notified']} notice(s) sent; {result['open']} item(s) still open.")
    return HttpResponseRedirect(reverse("oversight:remedy", args=[campaign.pk]))
