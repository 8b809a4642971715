"""The staff "Outbox": every notice with its status, attempts and due date (S12, S15), and each notice
rendered as the person saw it. Reviewers, senior reviewers, admins and auditors may look; everyone but
auditors may retry a failed notice or record that the person was reached another way."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from notifications import selectors, services
from notifications.models import Notice

# Group names as the demo and institutions set them up; compared without case, spaces or underscores.
VIEW_GROUPS = {"reviewer", "seniorreviewer", "admin", "auditor"}
ACT_GROUPS = {"reviewer", "seniorreviewer", "admin"}
PAGE_SIZE = 50

# The page that shows a notice also frames its HTML (srcdoc, sandboxed): no scripts anywhere, images only
# from here or inline (an email's remote tracking pixels stay unloaded), inline styles kept for fidelity.
DETAIL_CSP = (
    "script-src 'none'; object-src 'none'; base-uri 'none'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'"
)

ATTENTION_WAYS = [
    ("post", "By post"),
    ("phone", "By phone"),
    ("in_person", "In person"),
    ("other_email", "At another email address"),
    ("other", "Another way"),
]

V = TypeVar("V", bound=Callable[..., HttpResponse])


def _groups(user: Any) -> set[str]:
    cached = getattr(user, "_outbox_groups", None)
    if cached is None:
        names = user.groups.values_list("name", flat=True)
        cached = {n.lower().replace(" ", "").replace("_", "").replace("-", "") for n in names}
        user._outbox_groups = cached
    return cast(set[str], cached)


def can_view(user: Any) -> bool:
    return bool(user.is_active and (user.is_superuser or user.is_staff or _groups(user) & VIEW_GROUPS))


def can_act(user: Any) -> bool:
    return bool(user.is_active and (user.is_superuser or user.is_staff or _groups(user) & ACT_GROUPS))


def staff_only(view: V) -> V:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_view(request.user):
            raise PermissionDenied("The outbox is for reviewers, administrators and auditors.")
        return view(request, *args, **kwargs)

    return cast(V, login_required(wrapped))


def _mask(address: str) -> str:
    """An address as an auditor sees it (S33: least data)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}" if domain else ("…" if address else "")


def _flag(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name) in ("1", "on", "true")


@require_GET
@never_cache
@staff_only
def outbox_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    channel = request.GET.get("channel", "")
    kind = request.GET.get("kind", "")
    filters: dict[str, Any] = {
        "status": status if status in Notice.Status.values else "",
        "channel": channel if channel in Notice.Channel.values else "",
        "kind": kind if kind in Notice.Kind.values else "",
        "needs_attention": _flag(request, "attention"),
        "overdue": _flag(request, "overdue"),
    }
    page = Paginator(selectors.outbox_notices(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    kept = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(
        request,
        "notifications/outbox_list.html",
        {
            "page": page,
            "notices": page.object_list,
            "filters": filters,
            "query": urlencode(kept),
            "statuses": Notice.Status.choices,
            "channels": Notice.Channel.choices,
            "kinds": Notice.Kind.choices,
            "attention_count": selectors.outbox_notices(needs_attention=True).count(),
            "now": timezone.now(),
        },
    )


@require_GET
@never_cache
@staff_only
def outbox_detail(request: HttpRequest, notice_id: UUID) -> HttpResponse:
    notice = _notice_or_404(notice_id)
    acting = can_act(request.user)
    response = render(
        request,
        "notifications/outbox_detail.html",
        {
            "notice": notice,
            "attempts": list(notice.delivery_attempts.all()),
            "address": notice.to_address if acting else _mask(notice.to_address),
            "can_act": acting,
            "ways": ATTENTION_WAYS,
            "now": timezone.now(),
        },
    )
    response["Content-Security-Policy"] = DETAIL_CSP
    return response


def _acting_on_notice(action: Callable[[HttpRequest, Notice], None]) -> Callable[..., HttpResponse]:
    """A POST by a reviewer, senior reviewer or admin (not an auditor) on one notice; back to its page."""

    @require_POST
    @staff_only
    @wraps(action)
    def view(request: HttpRequest, notice_id: UUID) -> HttpResponse:
        notice = _notice_or_404(notice_id)
        if not can_act(request.user):
            raise PermissionDenied("Auditors read the outbox; they do not change it.")
        try:
            action(request, notice)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        return HttpResponseRedirect(reverse("notifications:outbox-detail", args=[notice.pk]))

    return view


@_acting_on_notice
def outbox_retry(request: HttpRequest, notice: Notice) -> None:
    services.notice_retry(notice_id=notice.pk, actor=request.user)
    messages.success(request, "The notice will be tried again now.")


@_acting_on_notice
def outbox_resolve(request: HttpRequest, notice: Notice) -> None:
    how = request.POST.get("how", "")
    if how not in dict(ATTENTION_WAYS):
        messages.error(request, "Choose how the person was reached.")
        return
    services.notice_attention_resolve(notice_id=notice.pk, actor=request.user, how=how)
    messages.success(request, "Recorded. The notice no longer needs attention.")


def _notice_or_404(notice_id: UUID) -> Notice:
    notice = selectors.notice_detail(notice_id)
    if notice is None:
        raise Http404("No such notice.")
    return notice


# --------------------------------------------------------------------------------------------------------
# The demo integrator: a receiver that checks signatures as an integrator would (demo only)


def webhook_signature_valid(endpoint: Any, headers: Any, body: bytes, *, now: float | None = None) -> bool:
    """Check a Standard Webhooks signature as a receiving integrator does: the id, a timestamp within five
    minutes, and one of the ``v1,`` signatures matching the HMAC of ``id.timestamp.body``."""
    import hmac
    import time

    from notifications.webhooks import sign

    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    offered = headers.get("webhook-signature", "").split()
    if not msg_id or not stamp.isdigit() or not offered:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > 300:
        return False
    expected = sign(secret=endpoint.secret, msg_id=msg_id, timestamp=int(stamp), body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


@csrf_exempt
@require_POST
def demo_integrator_receiver(request: HttpRequest, client_id: int) -> HttpResponse:
    """Where the demo's integrators' webhooks go (``make run`` only: off unless DEBUG or
    CONTESTABLE_DEMO_RECEIVER). It answers 204 to a correctly signed message and 401 otherwise, so the
    message's delivery log in the admin shows what a real integrator would have accepted."""
    from django.conf import settings

    from notifications.models import WebhookEndpoint

    if not getattr(settings, "CONTESTABLE_DEMO_RECEIVER", settings.DEBUG):
        raise Http404
    endpoints = list(WebhookEndpoint.objects.filter(client_id=client_id, active=True))
    if not endpoints:
        raise Http404
    if not any(webhook_signature_valid(e, request.headers, request.body) for e in endpoints):
        return HttpResponse(status=401)
    return HttpResponse(status=204)
