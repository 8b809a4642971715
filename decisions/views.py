"""Staff pages of decisions: notices that are late or were never sent (S12, S13), and template readability
(S14). Mounted at /staff/notices/ (decisions.urls_staff)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from decisions.notices import DECISION_TOPIC, decisions_without_notice, template_readability_report
from notifications import selectors
from notifications.views import staff_only


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
