"""Oversight's writes: keeping the figure rollups current, and the fairness store (S32).

Figures
    ``figures_refresh(system=..., period=...)`` recomputes on demand: the days of the period (or of all
    time) and every week and month that overlaps them, for one system or all. ``figures_refresh_recent``
    is what the periodic tasks call: only the periods that can still change. Every change to what the
    figures count happens *now* (a decision is recorded now, an appeal filed or decided now), except that a
    decision's notice can be delivered or fall due up to ``notice_due_days`` after it was recorded; so the
    last couple of days are refreshed every few minutes and the last ``notice_due_days`` every hour.

    Days are computed from the base tables; weeks and months take their decision counts from the day rows
    (the decisions table is read once) and their appeal figures, exact percentiles and queue depth from
    the appeals. Rows are replaced wholesale inside one transaction, under a lock on PostgreSQL so two
    refreshes never interleave. Rollups are derived data and recomputable at any time: refreshing them
    writes no audit event.

Fairness store
    ``group_attributes_record`` and ``group_attributes_erase`` are the only writers of ``GroupAttribute``.
    Their audit events carry counts and the attribute's name, never a person's value or pseudonym. Any
    change marks the fairness counts (``FairnessRollup``) stale: the next refresh rebuilds them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min

from appeals.models import Appeal
from core import audit, clock
from core.actors import SYSTEM
from core.errors import ValidationFailed, field_error
from decisions.models import Decision, DecisionSystem
from oversight import metrics, periods
from oversight.fairness import fairness_day_counts
from oversight.models import FairnessRollup, FigureRollup, FiguresState, GroupAttribute, PeriodKind
from oversight.periods import Period

_LOCK_KEY = 0x0F16_0001  # pg_advisory_xact_lock key of the figures refresh


@dataclass(frozen=True)
class RefreshResult:
    first_day: date | None
    end_day: date | None
    rows: int
    systems: int | None  # None: every system


def _recent_days() -> int:
    return int(getattr(settings, "OVERSIGHT_FIGURES_RECENT_DAYS", 2))


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _system_ids(system: DecisionSystem | Iterable[DecisionSystem] | None) -> list[int] | None:
    if system is None:
        return None
    if isinstance(system, DecisionSystem):
        return [system.pk]
    return [s.pk for s in system]


def _replace(kind: str, start: date, end: date, system_ids: list[int] | None, rows: Iterable[Any]) -> int:
    stale = FigureRollup.objects.filter(period_kind=kind, period_start__gte=start, period_start__lt=end)
    if system_ids is not None:
        stale = stale.filter(system_id__in=system_ids)
    stale.delete()
    return len(FigureRollup.objects.bulk_create(list(rows), batch_size=1000))


def _refresh_days(first_day: date, end_day: date, system_ids: list[int] | None, now: datetime) -> int:
    """Recompute [first_day, end_day): its days, then every week and month overlapping it."""
    written = 0
    with transaction.atomic():
        _lock()
        state, _ = FiguresState.objects.get_or_create(pk=1)
        # Weeks and months sum their decision counts from the day rows only once every day row exists
        # (after a full build); before that they read the decisions table like days do.
        from_days = state.full_build_at is not None
        rows = metrics.compute(PeriodKind.DAY, first_day, end_day, system_ids=system_ids, now=now)
        written += _replace(PeriodKind.DAY, first_day, end_day, system_ids, rows.values())
        if state.fairness_built_at is None:
            # The group data changed since the fairness counts were made: all of them, every system.
            _refresh_fairness(_history(None) or first_day, max(end_day, _today_end(now)), None)
            state.fairness_built_at = now
        else:
            _refresh_fairness(first_day, end_day, system_ids)
        for kind in (PeriodKind.WEEK, PeriodKind.MONTH):
            start = periods.floor(first_day, kind)
            end = periods.following(periods.floor(end_day - timedelta(days=1), kind), kind)
            rows = metrics.compute(
                kind, start, end, system_ids=system_ids, now=now, decisions_from_days=from_days
            )
            written += _replace(kind, start, end, system_ids, rows.values())
        state.last_refreshed_at = now
        state.save(update_fields=["last_refreshed_at", "fairness_built_at"])
    return written


def _refresh_fairness(first_day: date, end_day: date, system_ids: list[int] | None) -> None:
    stale = FairnessRollup.objects.filter(day__gte=first_day, day__lt=end_day)
    if system_ids is not None:
        stale = stale.filter(system_id__in=system_ids)
    stale.delete()
    FairnessRollup.objects.bulk_create(
        fairness_day_counts(first_day, end_day, system_ids=system_ids), batch_size=1000
    )


def _today_end(now: datetime) -> date:
    return clock.local_date(now, "UTC") + timedelta(days=1)


def _fairness_stale() -> None:
    """The group data changed: the next refresh rebuilds every fairness count."""
    FiguresState.objects.update_or_create(pk=1, defaults={"fairness_built_at": None})


def _history(system_ids: list[int] | None) -> date | None:
    """The first day anything was recorded or filed (the start of a full build)."""
    decisions = Decision.objects.all()
    appeals = Appeal.objects.all()
    if system_ids is not None:
        decisions = decisions.filter(system_id__in=system_ids)
        appeals = appeals.filter(decision__system_id__in=system_ids)
    firsts = [
        decisions.aggregate(m=Min("recorded_at"))["m"],
        appeals.aggregate(m=Min("filed_at"))["m"],
    ]
    found = [f for f in firsts if f is not None]
    return clock.local_date(min(found), "UTC") if found else None


def figures_refresh(
    *,
    system: DecisionSystem | Iterable[DecisionSystem] | None = None,
    period: Period | None = None,
    now: datetime | None = None,
) -> RefreshResult:
    """Recompute the figures of ``system`` (None: every system) for ``period`` (None: all of history).

    A day, week or month recomputes its days and every week and month that overlaps them, so the
    three kinds always agree. Periods that have not started yet are left alone.
    """
    now = now or clock.now()
    ids = _system_ids(system)
    today_end = _today_end(now)
    if period is None:
        first = _history(ids)
        if first is None:
            with transaction.atomic():
                _lock()
                stale = FigureRollup.objects.all()
                fair = FairnessRollup.objects.all()
                if ids is not None:
                    stale, fair = stale.filter(system_id__in=ids), fair.filter(system_id__in=ids)
                stale.delete()
                fair.delete()
            _mark_full_build(ids, now)
            return RefreshResult(None, None, 0, None if ids is None else len(ids))
        written = _refresh_days(first, today_end, ids, now)
        _mark_full_build(ids, now)
        return RefreshResult(first, today_end, written, None if ids is None else len(ids))
    if not period.has_started(now):
        return RefreshResult(None, None, 0, None if ids is None else len(ids))
    end = min(period.end, today_end)
    written = _refresh_days(period.start, end, ids, now)
    return RefreshResult(period.start, end, written, None if ids is None else len(ids))


def _mark_full_build(system_ids: list[int] | None, now: datetime) -> None:
    if system_ids is None:
        FiguresState.objects.update_or_create(pk=1, defaults={"full_build_at": now})


def figures_refresh_soon() -> None:
    """Refresh the recent figures once the current transaction commits (after an appeal's outcome).

    With a real worker the refresh is queued a minute ahead and at most once a minute, so a burst of
    outcomes costs one refresh; with Celery running eagerly (the dev server, no beat) it runs after commit.
    """
    from django.core.cache import cache

    from oversight import tasks

    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(tasks.refresh_recent_figures.delay)
        return
    if cache.add("oversight:figures-refresh-queued", True, timeout=60):
        transaction.on_commit(lambda: tasks.refresh_recent_figures.apply_async(countdown=60))


def figures_after_outcome(appeal: Any) -> None:
    """The outcome handler oversight registers with ``appeals.hooks``: the figures follow the outcome."""
    figures_refresh_soon()


def settle_days() -> int:
    """How far back a figure can still change: the longest notice clock of any system, plus a day."""
    longest = DecisionSystem.objects.aggregate(m=Max("notice_due_days"))["m"] or 0
    return max(_recent_days(), int(longest) + 1)


def figures_refresh_recent(*, now: datetime | None = None, days: int | None = None) -> RefreshResult:
    """The periodic refresh: the last ``days`` days (default OVERSIGHT_FIGURES_RECENT_DAYS) and the weeks
    and months around them. The first run, before any full build, builds everything."""
    now = now or clock.now()
    state = FiguresState.objects.filter(pk=1).first()
    if state is None or state.full_build_at is None:
        return figures_refresh(now=now)
    days = _recent_days() if days is None else days
    today = clock.local_date(now, "UTC")
    first = today - timedelta(days=max(0, days - 1))
    written = _refresh_days(first, today + timedelta(days=1), None, now)
    return RefreshResult(first, today + timedelta(days=1), written, None)


def figures_settle(*, now: datetime | None = None) -> RefreshResult:
    """The hourly refresh of every period a notice clock still reaches (see ``settle_days``)."""
    return figures_refresh_recent(now=now, days=settle_days())


# ------------------------------------------------------------------------------------------ fairness store


@dataclass(frozen=True)
class GroupValue:
    subject_pseudonym: str
    value: str


def group_attributes_record(
    *,
    attribute: str,
    values: Sequence[GroupValue],
    source: str,
    lawful_basis: str,
    actor: Any,
) -> int:
    """S32: record (or replace) one group attribute for many subjects, by pseudonym. Returns how many.

    Refused without a source and a lawful basis: group data may be held only where the law allows it.
    The audit event names the attribute and counts the rows; it never carries a value or a pseudonym.
    """
    attribute, source, lawful_basis = attribute.strip(), source.strip(), lawful_basis.strip()
    errors = []
    if not attribute or len(attribute) > 60:
        errors.append(field_error("attribute", "invalid", "Name the attribute (1 to 60 characters)."))
    if not source:
        errors.append(field_error("source", "required", "Say where the values come from."))
    if not lawful_basis:
        errors.append(field_error("lawful_basis", "required", "Give the lawful basis for holding them."))
    bad = [i for i, v in enumerate(values) if not v.subject_pseudonym or not v.value or len(v.value) > 120]
    if bad:
        errors.append(
            field_error("values", "invalid", f"{len(bad)} row(s) lack a pseudonym or a value (max 120).")
        )
    if errors:
        raise ValidationFailed("The group data cannot be recorded.", errors=errors)
    now = clock.now()
    by_subject = {v.subject_pseudonym: v.value for v in values}
    with transaction.atomic():
        replaced = GroupAttribute.objects.filter(
            attribute=attribute, subject_pseudonym__in=list(by_subject)
        ).delete()[0]
        GroupAttribute.objects.bulk_create(
            [
                GroupAttribute(
                    subject_pseudonym=p,
                    attribute=attribute,
                    value=v,
                    source=source,
                    lawful_basis=lawful_basis,
                    recorded_at=now,
                )
                for p, v in by_subject.items()
            ],
            batch_size=1000,
        )
        audit.record(
            actor=actor,
            action="oversight.group_attributes_recorded",
            target_type="oversight.groupattribute",
            data={
                "attribute": attribute,
                "count": len(by_subject),
                "replaced": replaced,
                "groups": len(set(by_subject.values())),
            },
        )
        _fairness_stale()
    return len(by_subject)


def group_attributes_erase(
    *, subject_pseudonyms: Iterable[str] | None = None, attribute: str = "", actor: Any = SYSTEM
) -> int:
    """Erase group data: of some subjects (retention, S33), of one attribute, or both. Returns how many."""
    qs = GroupAttribute.objects.all()
    if subject_pseudonyms is not None:
        qs = qs.filter(subject_pseudonym__in=list(subject_pseudonyms))
    if attribute:
        qs = qs.filter(attribute=attribute)
    if subject_pseudonyms is None and not attribute:
        raise ValidationFailed("Say whose group data to erase, or which attribute.")
    with transaction.atomic():
        erased = qs.delete()[0]
        if erased:
            audit.record(
                actor=actor,
                action="oversight.group_attributes_erased",
                target_type="oversight.groupattribute",
                data={"attribute": attribute or None, "count": erased},
            )
            _fairness_stale()
    return erased
