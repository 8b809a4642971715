"""Staff pages of decisions: notices that are late or were never sent (S12, S13), and template readability
(S14). Mounted at /staff/notices/ (decisions.urls_staff)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from decisions.models import Decision
from decisions.notices import (
    DECISION_TOPIC,
    decision_notice_compose_again,
    decisions_without_notice,
    template_readability_report,
)
from notifications import selectors
from notifications.views import can_act, staff_only


@require_GET
@never_cache
@staff_only
def notices_overdue(request: HttpRequest) -> HttpResponse:
    overdue = (
        selectors.outbox_notices(overdue=True)
        .filter(topic_type=DECISION_TOPIC, kind="decision")
        .order_by("due_at")[:500]
    )
    return render(
        request,
        "decisions/staff/notices_overdue.html",
        {
            "blocked": decisions_without_notice(),
            "overdue": list(overdue),
            "readability": template_readability_report(),
        },
    )


@require_POST
@staff_only
def notice_compose_again(request: HttpRequest, decision_id: UUID) -> HttpResponse:
    if not can_act(request.user):
        raise PermissionDenied("Auditors can look, not act.")
    decision = Decision.objects.filter(pk=decision_id).first()
    if decision is None:
        raise Http404("No such decision.")
    try:
        notices = decision_notice_compose_again(decision=decision, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        if notices:
            messages.success(
                request, f"The notice of {decision.public_reference} was written and is being sent."
            )
        else:
            messages.error(
                request, f"The notice of {decision.public_reference} is still incomplete: see below."
            )
    return HttpResponseRedirect(reverse("decisions_staff:notices-overdue") + "#blocked")
