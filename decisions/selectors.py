"""Reads of decisions and systems: querysets that load what their readers need in a fixed number of queries.

``system_ids`` narrows to the systems a caller may see: ``None`` means every system (staff), a set means
those (an API client's scope; empty sees nothing). The API gets it from ``core.api.auth.client_system_ids``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Prefetch, QuerySet

from decisions.models import (
    Decision,
    DecisionInput,
    DecisionReason,
    DecisionSystem,
    Feature,
    HumanInvolvement,
    ReasonCode,
    SystemVersion,
)


def _scoped(qs: QuerySet[Any], system_ids: Collection[int] | None, field: str = "system_id") -> QuerySet[Any]:
    return qs if system_ids is None else qs.filter(**{f"{field}__in": list(system_ids)})


def decision_list(*, system_ids: Collection[int] | None) -> QuerySet[Decision]:
    """Decisions for a list page: their system, version, outcome and subject come in the same query."""
    qs = Decision.objects.select_related("system", "version", "outcome", "subject")
    return _scoped(qs, system_ids)


def decision_detail_queryset(*, system_ids: Collection[int] | None) -> QuerySet[Decision]:
    """Decisions with everything a full record shows: one query, and one per list (inputs, reasons, steps)."""
    qs = Decision.objects.select_related(
        "system", "version", "outcome", "subject", "explanation", "supersedes", "superseded_by"
    ).prefetch_related(
        Prefetch(
            "inputs", queryset=DecisionInput.objects.select_related("feature").order_by("feature__name")
        ),
        Prefetch("reasons", queryset=DecisionReason.objects.select_related("reason_code", "feature")),
        Prefetch("human_involvement", queryset=HumanInvolvement.objects.order_by("at", "id")),
    )
    return _scoped(qs, system_ids)


def decision_get(*, decision_id: Any, system_ids: Collection[int] | None) -> Decision | None:
    """One decision with its full record, or None when it does not exist or is not visible."""
    return decision_detail_queryset(system_ids=system_ids).filter(pk=decision_id).first()


def system_list(*, system_ids: Collection[int] | None) -> QuerySet[DecisionSystem]:
    return _scoped(DecisionSystem.objects.all(), system_ids, field="id")


def system_get(*, slug: str, system_ids: Collection[int] | None) -> DecisionSystem | None:
    """A system with its versions (newest first), or None when unknown or not visible."""
    versions = SystemVersion.objects.order_by("-created_at", "-id")
    qs = system_list(system_ids=system_ids).prefetch_related(Prefetch("versions", queryset=versions))
    return qs.filter(slug=slug).first()


def version_get(*, slug: str, version: str, system_ids: Collection[int] | None) -> SystemVersion | None:
    """A version with its features, reason codes and outcomes (four queries), or None."""
    qs = SystemVersion.objects.select_related("system").prefetch_related(
        Prefetch("features", queryset=Feature.objects.order_by("id")),
        Prefetch("reason_codes", queryset=ReasonCode.objects.select_related("feature").order_by("code")),
        "outcomes",
    )
    return _scoped(qs, system_ids).filter(system__slug=slug, version=version).first()
