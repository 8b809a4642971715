"""Operational endpoints. /healthz: database, cache and broker status (200 when the database answers)."""

from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:  # placeholder; infra helper replaces
    return JsonResponse({"status": "ok"})


def problem_type(request: HttpRequest, code: str) -> JsonResponse:  # placeholder
    return JsonResponse({"code": code})
