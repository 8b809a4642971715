"""Reads for the oversight pages: a fixed number of queries per page, whatever the data's size.

Figures come from the rollups (``FigureRollup``); lists of decisions, appeals and audit events use keyset
pagination (``?before=<id>``), which stays fast at any depth (no OFFSET, no COUNT over millions of rows).
People appear by pseudonym only (S33).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db.models import Model, Prefetch, QuerySet
from django.utils.safestring import SafeString

from appeals.models import Appeal
from core.models import AuditEvent
from decisions.models import Decision, DecisionSystem, SystemVersion
from oversight.models import FigureRollup, FiguresState
from oversight.periods import Period

PAGE_SIZE = 50
M = TypeVar("M", bound=Model)


def empty_rollup(system: DecisionSystem, version: SystemVersion | None, period: Period) -> FigureRollup:
    return FigureRollup(
        system=system,
        version=version,
        period_kind=period.kind,
        period_start=period.start,
        period_end=period.end,
    )


@dataclass
class VersionLine:
    version: SystemVersion | None  # None: the whole system
    current: FigureRollup
    series: list[FigureRollup]  # one per period, oldest first, zeros where nothing happened
    spark: SafeString | None = None  # set by the page
    above_threshold: bool = False  # the current overturn rate is past the stop-switch threshold


@dataclass
class SystemFigures:
    system: DecisionSystem
    periods: list[Period]
    total: VersionLine
    versions: list[VersionLine] = field(default_factory=list)


def systems_with_versions(system: DecisionSystem | None = None) -> QuerySet[DecisionSystem]:
    qs = DecisionSystem.objects.order_by("slug").prefetch_related(
        Prefetch("versions", queryset=SystemVersion.objects.order_by("created_at", "pk"))
    )
    return qs.filter(pk=system.pk) if system is not None else qs


def figures(periods: list[Period], system: DecisionSystem | None = None) -> list[SystemFigures]:
    """The rollups of every system (or one) and its versions over ``periods`` (one kind), oldest first.

    Three queries: systems, their versions, and the rollups of all of them for all periods."""
    kind = periods[-1].kind
    starts = [p.start for p in periods]
    rows = FigureRollup.objects.filter(period_kind=kind, period_start__in=starts)
    if system is not None:
        rows = rows.filter(system=system)
    found: dict[tuple[int, int | None], dict[Any, FigureRollup]] = defaultdict(dict)
    for r in rows:
        found[(r.system_id, r.version_id)][r.period_start] = r
    out = []
    for s in systems_with_versions(system):

        def line(version: SystemVersion | None, s: DecisionSystem = s) -> VersionLine:
            got = found.get((s.pk, version.pk if version else None), {})
            series = [got.get(p.start) or empty_rollup(s, version, p) for p in periods]
            return VersionLine(version, series[-1], series)

        versions = [line(v) for v in s.versions.all()]
        out.append(SystemFigures(s, periods, line(None), versions))
    return out


def figures_state() -> FiguresState | None:
    return FiguresState.objects.filter(pk=1).first()


def overdue_now(system: DecisionSystem) -> int:
    """Open appeals past their due date now (roughly, in UTC; escalation judges it in the system's zone)."""
    from appeals.selectors import overdue_appeals

    return overdue_appeals().filter(decision__system=system).count()


# ------------------------------------------------------------------------------------------ keyset pages


@dataclass
class Page(Generic[M]):
    items: list[M]
    next_before: Any | None  # pass as ?before= for the next (older) page
    first: bool


def keyset(qs: QuerySet[M], *, before: Any | None, key: str = "pk", size: int = PAGE_SIZE) -> Page[M]:
    """Newest first, ``size`` at a time, from just below ``before``: one query, no OFFSET and no COUNT."""
    if before is not None:
        qs = qs.filter(**{f"{key}__lt": before})
    items = list(qs.order_by(f"-{key}")[: size + 1])
    more = len(items) > size
    items = items[:size]
    return Page(items, getattr(items[-1], key) if more and items else None, before is None)


def audit_events(*, action: str = "", target_type: str = "", target_id: str = "") -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    if action:
        qs = qs.filter(action__startswith=action)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    return qs


def audit_actions() -> list[str]:
    """The distinct action prefixes ("decision", "appeal", ...) for the filter."""
    names = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()[:500]
    return sorted({n.split(".")[0] for n in names})


def decisions(
    *, system: DecisionSystem | None = None, status: str = "", adverse: bool | None = None
) -> QuerySet[Decision]:
    """Decisions as an auditor sees them: pseudonym, never the subject's reference, name or email."""
    qs = Decision.objects.select_related("system", "version", "outcome").only(
        "id",
        "public_reference",
        "status",
        "adverse",
        "automation",
        "recorded_at",
        "system__slug",
        "system__name",
        "version__version",
        "outcome__code",
        "subject__pseudonym",
    )
    qs = qs.select_related("subject")
    if system is not None:
        qs = qs.filter(system=system)
    if status:
        qs = qs.filter(status=status)
    if adverse is not None:
        qs = qs.filter(adverse=adverse)
    return qs


def appeals(*, system: DecisionSystem | None = None, status: str = "", outcome: str = "") -> QuerySet[Appeal]:
    qs = Appeal.objects.select_related("decision__system", "decision__subject").only(
        "id",
        "reference",
        "status",
        "outcome",
        "filed_at",
        "due_date",
        "decided_at",
        "escalated",
        "late",
        "created_at",
        "decision__public_reference",
        "decision__system__slug",
        "decision__subject__pseudonym",
    )
    if system is not None:
        qs = qs.filter(decision__system=system)
    if status:
        qs = qs.filter(status=status)
    if outcome:
        qs = qs.filter(outcome=outcome)
    return qs
