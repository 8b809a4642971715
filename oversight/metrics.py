"""The arithmetic of the figures: aggregate SQL only (GROUP BY in the database, never a loop over decisions).

``compute(kind, start, end)`` returns unsaved ``FigureRollup`` rows for every system version and system
with something to count in the periods of ``kind`` between two dates. Services save them
(``oversight.services``); transparency reports use them as they are. Python only ever loops over the
aggregated rows (a handful per version and period).

Percentiles are exact per group: PostgreSQL's ``percentile_cont`` where it exists; elsewhere (SQLite) the
same definition through window functions: rank the values of each group, fetch only the two rows either
side of position ``p * (n - 1)`` and interpolate between them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, Substr, Trunc, TruncDate

from appeals.models import Appeal
from appeals.workflow import State
from core import clock
from decisions.models import Decision, DecisionSystem
from notifications.models import Notice
from oversight import periods
from oversight.models import COUNT_FIELDS, OUTCOME_TIME_BUCKET_DAYS, FigureRollup, PeriodKind

DECISION_TOPIC = "decisions.decision"
OUTCOMES = (Appeal.Outcome.UPHELD, Appeal.Outcome.OVERTURNED, Appeal.Outcome.MODIFIED)
#: The decision-side counts: summed from day rows for weeks and months (decisions are the big table).
DECISION_FIELDS: tuple[str, ...] = (
    "decisions",
    "adverse",
    "automation_full",
    "automation_partial",
    "automation_none",
    "notices_on_time",
    "notices_missed",
)
PERCENTILES = (0.5, 0.9)

Key = tuple[int, int | None, date]  # (system id, version id or None for the whole system, period start)


# ------------------------------------------------------------------------------------------ small helpers


def as_date(value: Any) -> date:
    """A period start as the database returns it (aware or naive datetime, date, or SQLite text)."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def seconds(value: Any, *, duration: bool) -> float | None:
    """A percentile value in seconds: PostgreSQL gives intervals, SQLite microseconds for durations."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    number = float(value)
    return number / 1_000_000 if duration and connection.vendor != "postgresql" else number


def period_trunc(field: str, kind: str) -> Trunc:
    return Trunc(field, kind, output_field=DateTimeField(), tzinfo=UTC)


def duration(later: str, earlier: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())


def _decision_pk_text() -> Any:
    """The outer decision's id as the text a notice's ``topic_id`` holds: the hyphenated UUID.

    PostgreSQL casts a uuid to exactly that text. SQLite stores a UUID as 32 hex digits, so the hyphens
    are put back with substrings. Either way the notice side stays a bare column, so the index on
    (topic_type, topic_id) finds the notice."""
    if connection.vendor == "postgresql":
        return Cast(OuterRef("pk"), CharField())
    hex_id = Cast(OuterRef("pk"), CharField())
    parts: list[Any] = []
    for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)):
        if parts:
            parts.append(Value("-"))
        parts.append(Substr(hex_id, start, length))
    return Concat(*parts, output_field=CharField())


def notice_on_time() -> Exists:
    """A decision notice of the outer decision was delivered by its due time (S12)."""
    return Exists(
        Notice.objects.filter(
            kind=Notice.Kind.DECISION,
            topic_type=DECISION_TOPIC,
            topic_id=_decision_pk_text(),
            delivered_at__isnull=False,
            delivered_at__lte=F("due_at"),
        )
    )


def appeal_finished_at() -> Coalesce:
    """When an appeal left the queue: its outcome, withdrawal, refusal, or closing as moot."""
    return Coalesce(
        "decided_at",
        "withdrawn_at",
        Case(When(status=State.REFUSED, then=F("triaged_at")), output_field=DateTimeField()),
        "closed_at",
        output_field=DateTimeField(),
    )


def _bucket_filters() -> list[Q]:
    edges = [timedelta(days=d) for d in OUTCOME_TIME_BUCKET_DAYS]
    out: list[Q] = []
    lower: timedelta | None = None
    for upper in [*edges, None]:
        q = Q()
        if lower is not None:
            q &= Q(decided_at__gte=F("filed_at") + lower)
        if upper is not None:
            q &= Q(decided_at__lt=F("filed_at") + upper)
        out.append(q)
        lower = upper
    return out


def _in_systems(qs: QuerySet[Any], field: str, system_ids: Iterable[int] | None) -> QuerySet[Any]:
    return qs if system_ids is None else qs.filter(**{f"{field}__in": list(system_ids)})


# ------------------------------------------------------------------------------------------ percentiles


def percentiles(
    queryset: QuerySet[Any],
    groups: Mapping[str, Any],
    value: Any,
    fractions: Sequence[float] = PERCENTILES,
    *,
    is_duration: bool = False,
) -> dict[tuple[Any, ...], list[float | None]]:
    """Exact percentiles of ``value`` per group of ``queryset``, computed in the database.

    ``groups`` maps output names to expressions (or field names); the answer maps each group's values
    (in that order) to one number per fraction, in seconds for durations. Rows whose value is NULL are
    left out. The definition is percentile_cont's: position p * (n - 1) in the sorted values, linear
    interpolation between its neighbours.
    """
    names = list(groups)
    if not names:
        raise ValueError("percentiles need at least one group")
    exprs = {n: (F(e) if isinstance(e, str) else e) for n, e in groups.items()}
    inner = (
        queryset.annotate(**exprs, pct_v=value).filter(pct_v__isnull=False).order_by().values(*names, "pct_v")
    )
    sql, params = inner.query.sql_with_params()
    qn = connection.ops.quote_name
    cols = ", ".join(qn(n) for n in names)
    out: dict[tuple[Any, ...], list[float | None]] = {}
    if connection.vendor == "postgresql":
        pcs = ", ".join(f"percentile_cont({float(f)!r}) WITHIN GROUP (ORDER BY pct_v)" for f in fractions)
        query = f"SELECT {cols}, {pcs} FROM ({sql}) AS pct_t GROUP BY {cols}"  # noqa: S608 - built from names
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            for row in cursor.fetchall():
                key = tuple(row[: len(names)])
                out[key] = [seconds(v, duration=is_duration) for v in row[len(names) :]]
        return out
    # Window functions: only the (at most two) rows either side of each wanted position leave the database.
    partition = cols
    wanted = " OR ".join(
        f"(pct_rn - 1) IN (CAST({float(f)!r} * (pct_n - 1) AS INTEGER), "
        f"CAST({float(f)!r} * (pct_n - 1) AS INTEGER) + 1)"
        for f in fractions
    )
    query = (
        f"SELECT {cols}, pct_v, pct_rn, pct_n FROM ("  # noqa: S608 - built from names
        f"SELECT pct_t.*, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY pct_v) AS pct_rn, "
        f"COUNT(*) OVER (PARTITION BY {partition}) AS pct_n FROM ({sql}) AS pct_t"
        f") AS pct_u WHERE {wanted}"
    )
    ranked: dict[tuple[Any, ...], dict[int, Any]] = defaultdict(dict)
    counts: dict[tuple[Any, ...], int] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for row in cursor.fetchall():
            key = tuple(row[: len(names)])
            v, rn, n = row[len(names) :]
            ranked[key][int(rn) - 1] = v
            counts[key] = int(n)
    for key, values in ranked.items():
        n = counts[key]
        result: list[float | None] = []
        for f in fractions:
            pos = f * (n - 1)
            lo, hi = math.floor(pos), math.ceil(pos)
            v_lo, v_hi = seconds(values[lo], duration=is_duration), seconds(values[hi], duration=is_duration)
            assert v_lo is not None and v_hi is not None  # noqa: S101 - NULLs were filtered out above
            result.append(v_lo + (pos - lo) * (v_hi - v_lo))
        out[key] = result
    return out


# ------------------------------------------------------------------------------------------ the figures


@dataclass
class _Acc:
    """Figures of one (system, version, period) while they are being put together."""

    counts: dict[str, int]
    hist: list[int]
    queue_depth: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def empty(cls) -> _Acc:
        return cls(counts=dict.fromkeys(COUNT_FIELDS, 0), hist=[0] * (len(OUTCOME_TIME_BUCKET_DAYS) + 1))

    def is_empty(self) -> bool:
        return not any(self.counts.values()) and not self.queue_depth


def _systems(system_ids: Iterable[int] | None) -> list[dict[str, Any]]:
    return list(
        _in_systems(DecisionSystem.objects.all(), "pk", system_ids).values(
            "id", "time_zone", "notice_due_days"
        )
    )


def decision_counts(
    kind: str, start: date, end: date, *, system_ids: Iterable[int] | None, now: datetime
) -> dict[Key, dict[str, int]]:
    """The decision-side counts per version and period, from the decisions table (one query)."""
    systems = _systems(system_ids)
    # S12: a notice is due notice_due_days after recording; past that with none delivered, it was missed.
    by_days: dict[int, list[int]] = defaultdict(list)
    for s in systems:
        by_days[int(s["notice_due_days"])].append(s["id"])
    due_passed = Q(pk__in=[])
    for days, ids in by_days.items():
        due_passed |= Q(system_id__in=ids, recorded_at__lt=now - timedelta(days=days))
    on_time = notice_on_time()
    qs = Decision.objects.filter(
        recorded_at__gte=periods.at_midnight(start),
        recorded_at__lt=periods.at_midnight(end),
        supersedes__isnull=True,
        system_id__in=[s["id"] for s in systems],
    )
    rows = (
        qs.annotate(p=period_trunc("recorded_at", kind))
        .values("system_id", "version_id", "p")
        .annotate(
            decisions=Count("pk"),
            adverse=Count("pk", filter=Q(adverse=True)),
            automation_full=Count("pk", filter=Q(automation=Decision.Automation.FULL)),
            automation_partial=Count("pk", filter=Q(automation=Decision.Automation.PARTIAL)),
            automation_none=Count("pk", filter=Q(automation=Decision.Automation.NONE)),
            notices_on_time=Count("pk", filter=Q(on_time)),
            notices_missed=Count("pk", filter=~Q(on_time) & due_passed),
        )
        .order_by()
    )
    return {
        (r["system_id"], r["version_id"], as_date(r["p"])): {f: int(r[f]) for f in DECISION_FIELDS}
        for r in rows
    }


def decision_counts_from_days(
    kind: str, start: date, end: date, *, system_ids: Iterable[int] | None
) -> dict[Key, dict[str, int]]:
    """The same counts for weeks or months, summed from the saved day rows (a few rows per version)."""
    qs = _in_systems(
        FigureRollup.objects.filter(
            period_kind=PeriodKind.DAY, version__isnull=False, period_start__gte=start, period_start__lt=end
        ),
        "system_id",
        system_ids,
    )
    rows = (
        qs.annotate(p=Trunc("period_start", kind))
        .values("system_id", "version_id", "p")
        .annotate(**{f: Sum(f) for f in DECISION_FIELDS})
        .order_by()
    )
    return {
        (r["system_id"], r["version_id"], as_date(r["p"])): {f: int(r[f] or 0) for f in DECISION_FIELDS}
        for r in rows
    }


def compute(
    kind: str,
    start: date,
    end: date,
    *,
    system_ids: Iterable[int] | None = None,
    now: datetime,
    decisions_from_days: bool = False,
) -> dict[Key, FigureRollup]:
    """Unsaved rollups for every period of ``kind`` in [start, end) (dates that start periods of ``kind``).

    Rows for each version with anything to count, and one per system (``version`` None) with the sums
    and the system-wide percentiles. ``decisions_from_days`` takes the decision counts from the saved
    day rows (valid only where those are up to date); otherwise from the decisions table.
    """
    if periods.floor(start, kind) != start or periods.floor(end, kind) != end:
        raise ValueError(f"{start}..{end} are not {kind} boundaries")
    ids = None if system_ids is None else list(system_ids)
    start_at, end_at = periods.at_midnight(start), periods.at_midnight(end)
    acc: dict[Key, _Acc] = defaultdict(_Acc.empty)

    # 1. Decisions, their automation and their notices.
    if decisions_from_days and kind != PeriodKind.DAY:
        decided = decision_counts_from_days(kind, start, end, system_ids=ids)
    else:
        decided = decision_counts(kind, start, end, system_ids=ids, now=now)
    for key, counts in decided.items():
        acc[key].counts.update(counts)

    appeals = _in_systems(Appeal.objects.all(), "decision__system_id", ids)
    scope = {"sid": F("decision__system_id"), "vid": F("decision__version_id")}

    # 2. Appeals filed.
    filed = (
        appeals.filter(filed_at__gte=start_at, filed_at__lt=end_at)
        .annotate(**scope, p=period_trunc("filed_at", kind))
        .values("sid", "vid", "p")
        .annotate(n=Count("pk"))
        .order_by()
    )
    filed_by_key: dict[Key, int] = {}
    for r in filed:
        key = (r["sid"], r["vid"], as_date(r["p"]))
        acc[key].counts["appeals"] = filed_by_key[key] = int(r["n"])

    # 3. Outcomes, SLA breaches and the time-to-outcome histogram; one query per time zone in use, since a
    #    due date is judged in its system's zone.
    zones: dict[str, list[int]] = defaultdict(list)
    for s in _systems(ids):
        zones[s["time_zone"] or ""].append(s["id"])
    buckets = _bucket_filters()
    decided_appeals = appeals.filter(decided_at__gte=start_at, decided_at__lt=end_at, outcome__in=OUTCOMES)
    for zone_name, zone_systems in zones.items():
        tz = clock.zone(zone_name or None)
        rows = (
            decided_appeals.filter(decision__system_id__in=zone_systems)
            .annotate(
                **scope, p=period_trunc("decided_at", kind), local_day=TruncDate("decided_at", tzinfo=tz)
            )
            .values("sid", "vid", "p")
            .annotate(
                appeals_decided=Count("pk"),
                upheld=Count("pk", filter=Q(outcome=Appeal.Outcome.UPHELD)),
                overturned=Count("pk", filter=Q(outcome=Appeal.Outcome.OVERTURNED)),
                modified=Count("pk", filter=Q(outcome=Appeal.Outcome.MODIFIED)),
                sla_breaches=Count("pk", filter=Q(escalation_count__gt=0) | Q(local_day__gt=F("due_date"))),
                **{f"b{i}": Count("pk", filter=q) for i, q in enumerate(buckets)},
            )
            .order_by()
        )
        for r in rows:
            a = acc[(r["sid"], r["vid"], as_date(r["p"]))]
            for f in ("appeals_decided", "upheld", "overturned", "modified", "sla_breaches"):
                a.counts[f] = int(r[f])
            a.hist = [int(r[f"b{i}"]) for i in range(len(buckets))]

    # 4. Queue depth at the end of each period: those open at the start, plus filed, minus finished.
    finished_at = appeal_finished_at()
    open_at_start = (
        appeals.filter(filed_at__lt=start_at)
        .annotate(fin=finished_at, **scope)
        .filter(Q(fin__isnull=True) | Q(fin__gte=start_at))
        .values("sid", "vid")
        .annotate(n=Count("pk"))
        .order_by()
    )
    finished = (
        appeals.annotate(fin=finished_at)
        .filter(fin__gte=start_at, fin__lt=end_at)
        .annotate(**scope, p=period_trunc("fin", kind))
        .values("sid", "vid", "p")
        .annotate(n=Count("pk"))
        .order_by()
    )
    moves: dict[tuple[int, int | None], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in open_at_start:
        moves[(r["sid"], r["vid"])][start] += 0
    baseline = {(r["sid"], r["vid"]): int(r["n"]) for r in open_at_start}
    for (sid, vid, p), n in filed_by_key.items():
        moves[(sid, vid)][p] += n
    for r in finished:
        moves[(r["sid"], r["vid"])][as_date(r["p"])] -= int(r["n"])
    for scope_key, deltas in moves.items():
        depth = baseline.get(scope_key, 0)
        for p in periods.span(kind, start, end):
            depth += deltas.get(p, 0)
            if depth:
                acc[(*scope_key, p)].queue_depth = depth

    # 5. Exact time-to-outcome percentiles, per version and per system.
    value = duration("decided_at", "filed_at")
    p_expr = period_trunc("decided_at", kind)
    for key, (median, p90) in percentiles(
        decided_appeals, {**scope, "p": p_expr}, value, is_duration=True
    ).items():
        a = acc[(key[0], key[1], as_date(key[2]))]
        a.median, a.p90 = median, p90
    system_pcts = {
        (k[0], as_date(k[1])): v
        for k, v in percentiles(
            decided_appeals, {"sid": scope["sid"], "p": p_expr}, value, is_duration=True
        ).items()
    }

    # 6. The rows: each version, then each system as the sum of its versions.
    out: dict[Key, FigureRollup] = {}
    totals: dict[tuple[int, date], _Acc] = defaultdict(_Acc.empty)
    for (sid, vid, p), a in acc.items():
        if a.is_empty():
            continue
        out[(sid, vid, p)] = _row(sid, vid, kind, p, a, now)
        t = totals[(sid, p)]
        for f in COUNT_FIELDS:
            t.counts[f] += a.counts[f]
        t.hist = [x + y for x, y in zip(t.hist, a.hist, strict=True)]
        t.queue_depth += a.queue_depth
    for (sid, p), t in totals.items():
        t.median, t.p90 = system_pcts.get((sid, p), (None, None))
        out[(sid, None, p)] = _row(sid, None, kind, p, t, now)
    return out


def _row(sid: int, vid: int | None, kind: str, start: date, a: _Acc, now: datetime) -> FigureRollup:
    return FigureRollup(
        system_id=sid,
        version_id=vid,
        period_kind=kind,
        period_start=start,
        period_end=periods.following(start, kind),
        queue_depth=a.queue_depth,
        time_to_outcome_median=a.median,
        time_to_outcome_p90=a.p90,
        time_to_outcome_hist=a.hist if any(a.hist) else [],
        refreshed_at=now,
        **a.counts,
    )
