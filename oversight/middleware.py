"""Auditors read everything and change nothing (S33), enforced once for every view.

A request by a member of the ``auditor`` group (signed in through the session) with an unsafe method
(anything but GET, HEAD, OPTIONS, TRACE) is refused with 403 before any view runs, so a page, an admin
screen or an API endpoint written later cannot forget the rule. The only exceptions are signing in and
out (``OVERSIGHT_AUDITOR_ALLOWED_PATHS``). API-key requests are not sessions and are not affected.
API paths answer problem details; pages answer Django's 403 page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from core.errors import PermissionDenied as Refused
from oversight.access import is_auditor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_ALLOWED_PATHS = ("/accounts/login/", "/accounts/logout/")


class AuditorReadOnly(Refused):
    """An auditor's account reads everything and changes nothing (S33): every change is refused."""

    code = "auditor-read-only"
    title = "Auditors have read-only access"


class AuditorReadOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in SAFE_METHODS and is_auditor(getattr(request, "user", None)):
            allowed = getattr(settings, "OVERSIGHT_AUDITOR_ALLOWED_PATHS", DEFAULT_ALLOWED_PATHS)
            if request.path not in allowed:
                return self._refuse(request)
        return self.get_response(request)

    def _refuse(self, request: HttpRequest) -> HttpResponse:
        message = "Auditors have read-only access: nothing can be changed from an auditor's account."
        if request.path.startswith("/api/"):
            from core.api.errors import django_problem_response

            return django_problem_response(request, AuditorReadOnly(message))
        from django.views.defaults import permission_denied

        return permission_denied(request, PermissionDenied(message))
