"""Operational endpoints. /healthz: database, cache and broker status (200 when the database answers)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core import health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker status: 200 when the database answers, 503 when it does not."""
    code, body = health.health()
    return JsonResponse(body, status=code)


@require_safe
def problem_type(request: HttpRequest, code: str) -> HttpResponse:
    """/problems/<code>/: what a problem code means, as a page (or JSON when JSON is asked for)."""
    from django.shortcuts import render

    from core.api.errors import django_problem_response, known_problem_types, problem_type_for
    from core.errors import NotFound

    problem = problem_type_for(code)
    wants_json = request.accepts("application/json") and not request.accepts("text/html")
    if problem is None:
        if wants_json:
            return django_problem_response(request, NotFound(f"No problem type {code!r} is known."))
        others = known_problem_types()
        return render(request, "core/problem_type.html", {"problem": None, "others": others}, status=404)
    if wants_json:
        return JsonResponse(
            {
                "code": problem.code,
                "title": problem.title,
                "status": problem.status,
                "description": problem.description,
            }
        )
    others = [p for p in known_problem_types() if p.code != problem.code]
    return render(request, "core/problem_type.html", {"problem": problem, "others": others})
