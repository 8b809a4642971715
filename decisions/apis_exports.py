"""GET /api/v1/exports/dsa-statements/?system=SLUG: a content system's DSA statements of reasons (S31).

Pages of at most 100 statements (the transparency database's batch size), oldest decision first, with a
cursor: ``{"statements": [...], "next": URL or null, "previous": URL or null}``. An API key sees only its
own systems (an unknown system and another client's system answer the same 404); staff sessions see all.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.auth import IsApiClientOrStaff, scope_to_client_systems
from core.errors import NotFound, ValidationFailed, field_error
from decisions import dsa
from decisions.models import DecisionSystem


class StatementPagination(CursorPagination):
    page_size = dsa.MAX_BATCH
    max_page_size = dsa.MAX_BATCH
    page_size_query_param = "page_size"
    ordering = "id"  # UUIDv7: time-ordered, unique, never changes


_PROBLEM = OpenApiResponse(description="Problem details (application/problem+json).")


class DsaStatementsExportApi(APIView):
    permission_classes = (IsApiClientOrStaff,)

    @extend_schema(
        operation_id="exports_dsa_statements",
        summary="DSA statements of reasons of a content moderation system",
        parameters=[
            OpenApiParameter("system", str, required=True, description="The system's slug."),
            OpenApiParameter(
                "cursor", str, required=False, description="From the previous page's next link."
            ),
            OpenApiParameter("page_size", int, required=False, description="1 to 100 (default 100)."),
        ],
        responses={
            200: inline_serializer(
                "DsaStatementPage",
                {
                    "statements": serializers.ListField(child=serializers.DictField()),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                },
            ),
            400: _PROBLEM,
            401: _PROBLEM,
            403: _PROBLEM,
            404: _PROBLEM,
            422: _PROBLEM,
        },
    )
    def get(self, request: Request) -> Response:
        slug = request.query_params.get("system", "").strip()
        if not slug:
            raise ValidationFailed(
                "Name the system.", errors=[field_error("system", "required", "Give ?system=SLUG.")]
            )
        system = scope_to_client_systems(request, DecisionSystem.objects.filter(slug=slug), "pk").first()
        if system is None:
            raise NotFound(f"No decision system {slug!r} that you may see.")
        queryset = dsa.exportable(system)  # refuses a system that is not a content system (422)
        paginator = StatementPagination()
        page: list[Any] = paginator.paginate_queryset(queryset, request, view=self) or []
        statements = dsa.checked_statements(page)
        return Response(
            {
                "statements": statements,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
            }
        )
