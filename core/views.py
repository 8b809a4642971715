"""Operational endpoints. /healthz: database, cache and broker status (200 when the database answers)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core import health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker status: 200 when the database answers, 503 when it does not."""
    code, body = health.health()
    return JsonResponse(body, status=code)


def problem_type(request: HttpRequest, code: str) -> JsonResponse:  # placeholder
    return JsonResponse({"code": code})
