"""Filters of the decision list (django-filter): ``?system=credit-limit&status=pending_notice&...``."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from decisions.models import Decision


class DecisionFilter(django_filters.FilterSet):
    system = django_filters.CharFilter(field_name="system__slug", help_text="The system's slug.")
    outcome = django_filters.CharFilter(field_name="outcome__code", help_text="An outcome code.")
    status = django_filters.ChoiceFilter(choices=Decision.Status.choices)
    adverse = django_filters.BooleanFilter()
    subject = django_filters.CharFilter(
        method="filter_subject", help_text="The subject's pseudonym, or your own reference for them."
    )
    external_id = django_filters.CharFilter()
    decided_after = django_filters.IsoDateTimeFilter(
        field_name="decided_at", lookup_expr="gte", help_text="ISO 8601 time (inclusive)."
    )
    decided_before = django_filters.IsoDateTimeFilter(
        field_name="decided_at", lookup_expr="lt", help_text="ISO 8601 time (exclusive)."
    )

    class Meta:
        model = Decision
        fields: list[str] = []

    def filter_subject(self, queryset: QuerySet[Decision], name: str, value: Any) -> QuerySet[Decision]:
        return queryset.filter(Q(subject__pseudonym=value) | Q(subject__external_ref=value))
