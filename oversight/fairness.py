"""Fairness figures (S32): adverse and overturn rates by group, disparity ratios and sample-size warnings.

Group data lives only in ``GroupAttribute`` (a separate, access-controlled store keyed by the subject's
pseudonym). It is joined to decisions inside aggregate queries and leaves them as counts per group and UTC
day (``FairnessRollup``, refreshed with the figures); no page, report or audit event ever shows one
person's group. Pages sum the day counts over the periods shown.

Disparity ratio (the "four-fifths rule"): for each group, its rate of favourable outcomes divided by the
rate of the most favoured group. For decisions, favourable means not adverse. For appeals, favourable for
the person means the appeal succeeded (overturned): a group whose appeals succeed less often than the most
successful group's is flagged. A ratio below ``OVERSIGHT_FAIRNESS_RATIO_THRESHOLD`` (default 0.8) is
flagged. Groups with fewer than ``OVERSIGHT_FAIRNESS_MIN_GROUP_SIZE`` cases (default 30) get a sample-size
warning instead of a flag, and the most favoured group is chosen among the groups large enough (among all
groups only when none is).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from appeals.models import Appeal
from decisions.models import Decision, Subject
from oversight import periods
from oversight.models import FairnessRollup, FigureRollup, GroupAttribute, PeriodKind


def ratio_threshold() -> float:
    return float(getattr(settings, "OVERSIGHT_FAIRNESS_RATIO_THRESHOLD", 0.8))


def min_group_size() -> int:
    return int(getattr(settings, "OVERSIGHT_FAIRNESS_MIN_GROUP_SIZE", 30))


@dataclass(frozen=True)
class Disparity:
    group: str
    n: int
    favourable: int
    rate: float | None  # favourable / n
    ratio: float | None  # rate / the most favoured group's rate
    reference: bool  # this is the most favoured group
    flagged: bool  # ratio below the threshold, with enough cases
    small_sample: bool  # fewer cases than the minimum: no conclusion either way


def disparities(
    groups: Sequence[tuple[str, int, int]], *, threshold: float | None = None, min_n: int | None = None
) -> list[Disparity]:
    """``groups``: (name, cases, favourable). One Disparity per group, in the order given."""
    threshold = ratio_threshold() if threshold is None else threshold
    min_n = min_group_size() if min_n is None else min_n
    rates = {g: (fav / n if n else None) for g, n, fav in groups}
    big = [g for g, n, _ in groups if n >= min_n and rates[g] is not None]
    pool = big or [g for g, n, _ in groups if n and rates[g] is not None]
    reference = max(pool, key=lambda g: rates[g] or 0.0) if pool else None
    best = rates[reference] if reference is not None else None
    out = []
    for g, n, fav in groups:
        rate = rates[g]
        r = rate / best if rate is not None and best else None
        small = n < min_n
        out.append(
            Disparity(
                group=g,
                n=n,
                favourable=fav,
                rate=rate,
                ratio=r,
                reference=g == reference,
                flagged=r is not None and r < threshold and not small and bool(big),
                small_sample=small,
            )
        )
    return out


@dataclass(frozen=True)
class GroupRow:
    group: str
    decisions: int
    adverse: int
    appeals_decided: int
    overturned: int
    decision_disparity: Disparity
    appeal_disparity: Disparity

    @property
    def adverse_rate(self) -> float | None:
        return self.adverse / self.decisions if self.decisions else None

    @property
    def overturn_rate(self) -> float | None:
        return self.overturned / self.appeals_decided if self.appeals_decided else None


@dataclass(frozen=True)
class AttributeFigures:
    attribute: str
    rows: list[GroupRow]
    decisions_without_data: int  # decisions in the period whose subject has no value for this attribute

    @property
    def flagged(self) -> bool:
        return any(r.decision_disparity.flagged or r.appeal_disparity.flagged for r in self.rows)


@dataclass(frozen=True)
class FairnessFigures:
    start: date | datetime
    end: date | datetime  # exclusive
    decisions: int
    attributes: list[AttributeFigures]
    threshold: float
    min_n: int


def _adapt(dt: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(dt)


Counts = dict[
    str, dict[str, list[int]]
]  # attribute -> value -> [decisions, adverse, appeals decided, overturned]


def _figures(by_attr: Counts, total: int, start: Any, end: Any) -> FairnessFigures:
    threshold, min_n = ratio_threshold(), min_group_size()
    attributes = []
    for attr in sorted(by_attr):
        values = sorted(by_attr[attr].items())
        dec = disparities([(g, c[0], c[0] - c[1]) for g, c in values], threshold=threshold, min_n=min_n)
        app = disparities([(g, c[2], c[3]) for g, c in values], threshold=threshold, min_n=min_n)
        rows = [
            GroupRow(g, c[0], c[1], c[2], c[3], dd, ad)
            for (g, c), dd, ad in zip(values, dec, app, strict=True)
        ]
        attributes.append(AttributeFigures(attr, rows, total - sum(c[0] for _, c in values)))
    return FairnessFigures(start, end, total, attributes, threshold, min_n)


def _empty() -> Counts:
    return defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))


def fairness_figures(*, system_id: int, start: date, end: date) -> FairnessFigures:
    """The fairness figures of one system for the UTC days [start, end), from the rollups: two queries
    (the group counts and the system's decisions), however many decisions and groups."""
    rows = (
        FairnessRollup.objects.filter(system_id=system_id, day__gte=start, day__lt=end)
        .values("attribute", "value")
        .annotate(n=Sum("decisions"), a=Sum("adverse"), d=Sum("appeals_decided"), o=Sum("overturned"))
        .order_by()
    )
    by_attr = _empty()
    for r in rows:
        by_attr[r["attribute"]][r["value"]] = [int(r["n"]), int(r["a"]), int(r["d"]), int(r["o"])]
    total = FigureRollup.objects.filter(
        system_id=system_id,
        version__isnull=True,
        period_kind=PeriodKind.DAY,
        period_start__gte=start,
        period_start__lt=end,
    ).aggregate(n=Sum("decisions"))["n"]
    return _figures(by_attr, int(total or 0), start, end)


def _day_sql(column: str) -> str:
    """The UTC day of a timestamp column, as the database writes it (date, or 'YYYY-MM-DD' text)."""
    if connection.vendor == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'UTC') AS date)"
    return f"date({column})"


def _joins() -> tuple[str, str, str]:
    qn = connection.ops.quote_name
    d, s, ga, a = (m._meta.db_table for m in (Decision, Subject, GroupAttribute, Appeal))
    people = f"JOIN {qn(s)} s ON s.id = d.subject_id JOIN {qn(ga)} g ON g.subject_pseudonym = s.pseudonym "
    return (
        f"FROM {qn(d)} d " + people,
        f"FROM {qn(a)} ap JOIN {qn(d)} d ON d.id = ap.decision_id " + people,
        qn(d),
    )


def fairness_day_counts(
    first_day: date, end_day: date, *, system_ids: Iterable[int] | None = None
) -> list[FairnessRollup]:
    """Unsaved fairness rollups for the days [first_day, end_day): two aggregate queries."""
    decisions_from, appeals_from, _d = _joins()
    start, end = _adapt(periods.at_midnight(first_day)), _adapt(periods.at_midnight(end_day))
    scope, scope_params = "", []
    if system_ids is not None:
        ids = list(system_ids) or [0]
        scope = f" AND d.system_id IN ({', '.join(['%s'] * len(ids))})"
        scope_params = ids
    found: dict[tuple[int, str, str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.system_id, g.attribute, g.value, {_day_sql('d.recorded_at')} AS day, COUNT(*), "
            "SUM(CASE WHEN d.adverse THEN 1 ELSE 0 END) "
            + decisions_from
            + "WHERE d.recorded_at >= %s AND d.recorded_at < %s AND d.supersedes_id IS NULL"
            + scope
            + " GROUP BY d.system_id, g.attribute, g.value, day",
            [start, end, *scope_params],
        )
        for sid, attr, value, day, n, adverse in cursor.fetchall():
            found[(sid, attr, value, _as_date(day))][0:2] = [int(n), int(adverse or 0)]
        cursor.execute(
            f"SELECT d.system_id, g.attribute, g.value, {_day_sql('ap.decided_at')} AS day, COUNT(*), "
            "SUM(CASE WHEN ap.outcome = %s THEN 1 ELSE 0 END) "
            + appeals_from
            + "WHERE ap.decided_at >= %s AND ap.decided_at < %s AND ap.outcome IN (%s, %s, %s)"
            + scope
            + " GROUP BY d.system_id, g.attribute, g.value, day",
            [Appeal.Outcome.OVERTURNED, start, end, *Appeal.Outcome.values, *scope_params],
        )
        for sid, attr, value, day, n, overturned in cursor.fetchall():
            found[(sid, attr, value, _as_date(day))][2:4] = [int(n), int(overturned or 0)]
    return [
        FairnessRollup(
            system_id=sid,
            attribute=attr,
            value=value,
            day=day,
            decisions=c[0],
            adverse=c[1],
            appeals_decided=c[2],
            overturned=c[3],
        )
        for (sid, attr, value, day), c in found.items()
    ]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def fairness_figures_live(*, system_id: int, start: datetime, end: datetime) -> FairnessFigures:
    """The same figures straight from the decisions, for any instants [start, end): three queries over
    the base tables (used to check the rollups; pages read ``fairness_figures``)."""
    decisions_from, appeals_from, d = _joins()
    params = [system_id, _adapt(start), _adapt(end)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT g.attribute, g.value, COUNT(*), SUM(CASE WHEN d.adverse THEN 1 ELSE 0 END) "
            + decisions_from
            + "WHERE d.system_id = %s AND d.recorded_at >= %s AND d.recorded_at < %s "
            "AND d.supersedes_id IS NULL GROUP BY g.attribute, g.value",
            params,
        )
        decided = cursor.fetchall()
        cursor.execute(
            "SELECT g.attribute, g.value, COUNT(*), SUM(CASE WHEN ap.outcome = %s THEN 1 ELSE 0 END) "
            + appeals_from
            + "WHERE d.system_id = %s AND ap.decided_at >= %s AND ap.decided_at < %s "
            "AND ap.outcome IN (%s, %s, %s) GROUP BY g.attribute, g.value",
            [Appeal.Outcome.OVERTURNED, *params, *Appeal.Outcome.values],
        )
        appealed = cursor.fetchall()
        cursor.execute(
            f"SELECT COUNT(*) FROM {d} d WHERE d.system_id = %s AND d.recorded_at >= %s "  # noqa: S608
            "AND d.recorded_at < %s AND d.supersedes_id IS NULL",
            params,
        )
        row = cursor.fetchone()
    by_attr = _empty()
    for attr, value, n, adverse in decided:
        by_attr[attr][value][0:2] = [int(n), int(adverse or 0)]
    for attr, value, n, overturned in appealed:
        by_attr[attr][value][2:4] = [int(n), int(overturned or 0)]
    return _figures(by_attr, int(row[0]) if row else 0, start, end)
