"""``GET /api/v1/oversight/transparency-report/?period=2026-11&format=json|csv[&system=SLUG]`` (S31).

An API key sees its own systems only (an unknown system and another client's answer the same 404); a
staff session sees every system. ``period`` is a month (2026-11), an ISO week (2026-W45) or a day
(2026-11-05) that has started. Errors are problem details: a missing period 400, a malformed or future
period or an unknown format 422. The CSV has one row per system; the JSON adds the definitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock
from core.api.auth import IsApiClientOrStaff, scope_to_client_systems
from core.api.schema import problem_responses
from core.errors import ApplicationError, NotFound, ValidationFailed, field_error
from decisions.models import DecisionSystem
from oversight import reports
from oversight.periods import Period, PeriodInvalid

FORMATS = ("json", "csv")


class PeriodRequired(ApplicationError):
    """The request names no period. Give ?period=YYYY-MM (a month), YYYY-Www (an ISO week) or YYYY-MM-DD."""

    code = "period-required"
    status = 400
    title = "The period is missing"


class _JsonOnly(DefaultContentNegotiation):
    """``format`` here names the report's format, not DRF's renderer: always answer through JSON (the CSV
    is returned as a plain response), so problem details stay JSON whatever ``format`` says."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


def parse_period(text: str) -> Period:
    """The period of ``?period=``: 400 when missing, 422 when malformed or not started yet."""
    if not text.strip():
        raise PeriodRequired(
            "Name the period, e.g. ?period=2026-11.",
            errors=[field_error("period", "required", "Give ?period=YYYY-MM, YYYY-Www or YYYY-MM-DD.")],
        )
    try:
        period = Period.parse(text)
    except PeriodInvalid as exc:
        raise ValidationFailed(str(exc), errors=[field_error("period", "invalid", str(exc))]) from exc
    if not period.has_started(clock.now()):
        raise ValidationFailed(
            f"{period.label} has not started yet.",
            errors=[field_error("period", "future", "Ask for a period that has started.")],
        )
    return period


class TransparencyReportApi(APIView):
    permission_classes = (IsApiClientOrStaff,)
    content_negotiation_class = _JsonOnly

    @extend_schema(
        operation_id="oversight_transparency_report",
        tags=["oversight"],
        summary="Transparency report of a period (S31): per system, no personal data",
        parameters=[
            OpenApiParameter(
                "period", str, required=True, description="2026-11 (month), 2026-W45 (ISO week), 2026-11-05."
            ),
            OpenApiParameter("format", str, required=False, enum=list(FORMATS), description="Default json."),
            OpenApiParameter("system", str, required=False, description="One system's slug."),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The report."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per system."),
            **problem_responses(400, 401, 403, 404, 422, 429),
        },
    )
    def get(self, request: Request) -> Any:
        period = parse_period(request.query_params.get("period", ""))
        fmt = request.query_params.get("format", "json") or "json"
        if fmt not in FORMATS:
            raise ValidationFailed(
                f"Unknown format {fmt!r}.", errors=[field_error("format", "invalid", "json or csv.")]
            )
        systems = scope_to_client_systems(request, DecisionSystem.objects.all(), "pk")
        slug = request.query_params.get("system", "").strip()
        if slug:
            systems = systems.filter(slug=slug)
            if not systems.exists():
                raise NotFound(f"No decision system {slug!r} that you may see.")
        report = reports.transparency_report(period=period, systems=systems)
        if fmt == "csv":
            response = HttpResponse(reports.as_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="transparency-{period.label}.csv"'
            return response
        return Response(report)
