"""Cursor pagination for lists that keep growing (decisions, appeals, audit events).

A cursor stays valid while rows are added, unlike page numbers. The ordering defaults to newest first
(``-recorded_at``); a view sets its own with a ``cursor_ordering`` attribute, naming a model field that is
(nearly) unique and never changes, e.g. ``cursor_ordering = "-created_at"``.

    def get(self, request):
        return paginated_response(
            request=request, view=self, queryset=qs, serializer_class=self.OutputSerializer
        )
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.response import Response


class CursorPagination(pagination.CursorPagination):
    ordering = "-recorded_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> tuple[str, ...]:
        ordering = getattr(view, "cursor_ordering", None)
        if ordering is None:
            return tuple(super().get_ordering(request, queryset, view))
        if isinstance(ordering, str):
            ordering = (ordering,)
        if any("__" in field for field in ordering):
            raise ImproperlyConfigured("cursor pagination orders by fields of the model itself, not lookups")
        return tuple(ordering)


def paginated_response(
    *,
    request: Request,
    view: Any,
    queryset: QuerySet[Any],
    serializer_class: type[Any],
    pagination_class: type[CursorPagination] = CursorPagination,
    context: dict[str, Any] | None = None,
) -> Response:
    """One page of ``queryset`` as ``{"next", "previous", "results"}``."""
    paginator = pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view) or []
    serializer = serializer_class(page, many=True, context={"request": request, **(context or {})})
    return paginator.get_paginated_response(serializer.data)
