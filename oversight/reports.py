"""The transparency report (S31): per period and system, the figures an institution publishes.

    report = transparency_report(period=Period.parse("2026-11"), systems=DecisionSystem.objects.all())
    as_json(report) / as_csv(report)

Computed from the base tables with the same aggregate SQL as the rollups (``oversight.metrics.compute``),
for exactly the period asked, so a report is exact and current even when the periodic refresh has not run;
building one writes nothing. It holds counts, rates and durations only: no names, emails, references or
pseudonyms. Figures follow the definitions in ``oversight.models`` (quoted in the report's
``definitions``). Periods are UTC days, ISO weeks or calendar months.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core import clock
from decisions.models import DecisionSystem
from oversight import metrics
from oversight.models import FigureRollup
from oversight.periods import Period

DEFINITIONS = {
    "decisions": "Decisions recorded in the period, not counting records that replace an earlier decision.",
    "adverse_rate": "Share of those decisions that were adverse to the person.",
    "notices_on_time_rate": (
        "Of the decisions whose notice was due by the time of the report, the share whose notice was "
        "delivered by its due time."
    ),
    "appeals": "Appeals filed in the period.",
    "appeal_rate": "Appeals filed per adverse decision recorded in the period.",
    "overturn_rate": "Share of the appeals decided in the period that overturned the decision.",
    "modification_rate": "Share of the appeals decided in the period that modified the decision.",
    "median_days_to_outcome": (
        "Median time from filing an appeal to its outcome, for appeals decided in the period."
    ),
    "sla_breaches": "Appeals decided in the period after their due date, or escalated as overdue on the way.",
    "queue_depth_at_end": "Appeals still open at the end of the period (or now, for a period not yet over).",
    "automated_share": "Share of decisions taken with no recorded human step (fully automated).",
    "human_share": "Share of decisions in which a person took part (partly or not automated).",
}

CSV_COLUMNS = (
    "period",
    "system",
    "name",
    "domain",
    "decisions",
    "adverse",
    "adverse_rate",
    "notices_on_time",
    "notices_missed",
    "notices_on_time_rate",
    "appeals",
    "appeal_rate",
    "appeals_decided",
    "upheld",
    "overturned",
    "overturn_rate",
    "modified",
    "modification_rate",
    "median_days_to_outcome",
    "p90_days_to_outcome",
    "sla_breaches",
    "queue_depth_at_end",
    "fully_automated",
    "partly_automated",
    "not_automated",
    "automated_share",
    "human_share",
)


def _r(v: float | None, places: int = 4) -> float | None:
    return None if v is None else round(v, places)


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400, 2)


def system_figures(system: DecisionSystem, row: FigureRollup | None) -> dict[str, Any]:
    r = row or FigureRollup()
    return {
        "system": system.slug,
        "name": system.name,
        "domain": system.domain,
        "owner_organisation": system.owner_organisation,
        "decisions": r.decisions,
        "adverse": r.adverse,
        "adverse_rate": _r(r.adverse_rate),
        "notices": {
            "on_time": r.notices_on_time,
            "missed": r.notices_missed,
            "on_time_rate": _r(r.notices_on_time_rate),
        },
        "appeals": r.appeals,
        "appeal_rate": _r(r.appeal_rate),
        "appeals_decided": r.appeals_decided,
        "upheld": r.upheld,
        "overturned": r.overturned,
        "overturn_rate": _r(r.overturn_rate),
        "modified": r.modified,
        "modification_rate": _r(r.modification_rate),
        "median_days_to_outcome": _days(r.time_to_outcome_median),
        "p90_days_to_outcome": _days(r.time_to_outcome_p90),
        "sla_breaches": r.sla_breaches,
        "queue_depth_at_end": r.queue_depth,
        "automation": {
            "fully_automated": r.automation_full,
            "partly_automated": r.automation_partial,
            "not_automated": r.automation_none,
            "automated_share": _r(r.automated_share),
            "human_share": _r(r.human_share),
        },
    }


def transparency_report(
    *, period: Period, systems: Iterable[DecisionSystem], now: datetime | None = None
) -> dict[str, Any]:
    """The report for ``period`` over ``systems`` (ordered by slug). The period must have started."""
    now = now or clock.now()
    systems = sorted(systems, key=lambda s: s.slug)
    rows = (
        metrics.compute(period.kind, period.start, period.end, system_ids=[s.pk for s in systems], now=now)
        if systems
        else {}
    )
    return {
        "report": "transparency",
        "period": {
            "label": period.label,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "time_zone": "UTC",
            "complete": period.is_complete(now),
        },
        "generated_at": now.isoformat(),
        "definitions": DEFINITIONS,
        "systems": [system_figures(s, rows.get((s.pk, None, period.start))) for s in systems],
    }


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _flat(period: str, s: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in s.items() if not isinstance(v, dict)}
    flat["notices_on_time"] = s["notices"]["on_time"]
    flat["notices_missed"] = s["notices"]["missed"]
    flat["notices_on_time_rate"] = s["notices"]["on_time_rate"]
    flat.update(s["automation"])
    flat["period"] = period
    return {c: _cell(flat.get(c)) for c in CSV_COLUMNS}


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def as_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in report["systems"]:
        writer.writerow(_flat(report["period"]["label"], s))
    return out.getvalue()
