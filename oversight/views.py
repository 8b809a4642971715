"""Oversight pages for staff (issue 6): how each system performs, one system in detail, reviewer figures
(S23), fairness (S32), the transparency report (S31), and the auditor's pages (S33): the audit log with
its verify button, and decisions and appeals with people pseudonymised.

Every page is GET only, reads rollups or aggregates (a fixed number of queries whatever the data's size)
and draws its charts as SVG on the server (oversight.charts), each with a data table under it.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from appeals.models import Appeal
from appeals.workflow import LABELS as APPEAL_STATES
from core import audit, clock
from decisions.models import Decision, DecisionSystem
from oversight import access, charts, periods, reports, selectors, services
from oversight.fairness import AttributeFigures, fairness_figures
from oversight.models import OUTCOME_TIME_BUCKET_DAYS, PeriodKind
from oversight.periods import Period, PeriodInvalid
from oversight.reviewers import RubberStampRule, reviewer_figures

SPARK_PERIODS = 12
DETAIL_PERIODS: dict[str, int] = {PeriodKind.DAY: 30, PeriodKind.WEEK: 12, PeriodKind.MONTH: 12}


def _kind(request: HttpRequest, default: str) -> str:
    kind = request.GET.get("kind", default)
    return kind if kind in periods.KINDS else default


def _end_period(request: HttpRequest, kind: str) -> Period:
    """The last period shown: ?period=LABEL (of the same kind) or the current one."""
    now = clock.now()
    text = request.GET.get("period", "")
    if text:
        try:
            p = Period.parse(text)
        except PeriodInvalid:
            p = None
        if p is not None and p.kind == kind and p.has_started(now):
            return p
    return Period.containing(now, kind)


def _series(end: Period, n: int) -> list[Period]:
    out = [end]
    for _ in range(n - 1):
        out.append(out[-1].previous())
    return out[::-1]


def _bucket_labels() -> list[str]:
    edges = OUTCOME_TIME_BUCKET_DAYS
    labels = [f"under {edges[0]} d"]
    labels += [f"{a}-{b} d" for a, b in itertools.pairwise(edges)]
    labels.append(f"{edges[-1]} d or more")
    return labels


# ------------------------------------------------------------------------------------------ overview


@require_safe
@never_cache
@access.oversight_viewer
def home(request: HttpRequest) -> HttpResponse:
    """How each system performs: a row per system and version, with the trend of its overturn rate."""
    kind = _kind(request, PeriodKind.MONTH)
    end = _end_period(request, kind)
    shown = _series(end, SPARK_PERIODS)
    rows = selectors.figures(shown)
    for s in rows:
        for line in [s.total, *s.versions]:
            line.spark = charts.sparkline(
                [r.overturn_rate for r in line.series],
                title=f"Overturn rate of {s.system.slug} "
                + (f"version {line.version.version}" if line.version else "(all versions)"),
            )
            line.above_threshold = (
                line.current.overturn_rate is not None
                and line.current.overturn_rate > float(s.system.stop_switch_overturn_rate)
            )
    return render(
        request,
        "oversight/home.html",
        {
            "section": "home",
            "systems": rows,
            "kind": kind,
            "kinds": PeriodKind.choices,
            "period": end,
            "previous": end.previous(),
            "next": end.next() if end.next().has_started(clock.now()) else None,
            "state": selectors.figures_state(),
            "can_see_reviewers": access.can_view_reviewer_figures(request.user),
            "transparency_period": Period.containing(clock.now(), PeriodKind.MONTH).previous(),
        },
    )


@require_POST
@access.figures_refresher
def refresh(request: HttpRequest) -> HttpResponse:
    """Recompute the recent figures now (the on-demand twin of the periodic task). Derived data only."""
    result = services.figures_refresh_recent()
    messages.success(request, f"Figures recomputed ({result.rows} rows).")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("oversight:home")
    return HttpResponseRedirect(target)


# ------------------------------------------------------------------------------------------ one system


@dataclass
class FairnessView:
    attribute: AttributeFigures
    decisions_chart: charts.Chart
    appeals_chart: charts.Chart


def _fairness_charts(f: AttributeFigures, threshold: float) -> FairnessView:
    labels = [r.group for r in f.rows]
    flagged = charts.Threshold(threshold, "Flag below")
    dec = charts.bar_chart(
        title=f"Decisions by {f.attribute}: favourable-outcome ratio to the most favoured group",
        desc=(
            f"For each {f.attribute} group, the share of decisions that were not adverse divided by the "
            f"share for the most favoured group. Bars below {threshold:.2f} are flagged."
        ),
        labels=labels,
        series=[charts.Series("Disparity ratio", [r.decision_disparity.ratio for r in f.rows])],
        fmt=charts.ratio,
        threshold=flagged,
        y_max=1.0,
        x_title=f.attribute,
        highlight=lambda v: v is not None and v < threshold,
    )
    app = charts.bar_chart(
        title=f"Appeals by {f.attribute}: success ratio to the most successful group",
        desc=(
            f"For each {f.attribute} group, the share of decided appeals that overturned the decision, "
            f"divided by the share for the group whose appeals succeed most. Bars below {threshold:.2f} "
            "are flagged."
        ),
        labels=labels,
        series=[charts.Series("Disparity ratio", [r.appeal_disparity.ratio for r in f.rows])],
        fmt=charts.ratio,
        threshold=flagged,
        y_max=1.0,
        x_title=f.attribute,
        highlight=lambda v: v is not None and v < threshold,
    )
    return FairnessView(f, dec, app)


def _in_days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 86400


def _system_charts(s: selectors.SystemFigures) -> dict[str, charts.Chart]:
    labels = [p.label for p in s.periods]
    total = s.total.series
    system = s.system
    threshold = float(system.stop_switch_overturn_rate)
    hist = [0] * (len(OUTCOME_TIME_BUCKET_DAYS) + 1)
    for r in total:
        for i, c in enumerate(r.time_to_outcome_hist or []):
            hist[i] += c
    return {
        "overturn": charts.line_chart(
            title=f"Overturn rate per version, {system.name}",
            desc=(
                "Share of the appeals decided in each period that overturned the decision, one line per "
                f"version. The dashed line is the stop-switch threshold, {threshold:.0%}, which suspends the "
                f"system when exceeded over at least {system.stop_switch_min_sample} decided appeals."
            ),
            labels=labels,
            series=[
                charts.Series(
                    f"v{v.version.version}" if v.version else "all", [r.overturn_rate for r in v.series]
                )
                for v in s.versions
            ],
            fmt=charts.percent,
            threshold=charts.Threshold(threshold, "Stop switch"),
        ),
        "time_distribution": charts.histogram(
            title="Time from appeal to outcome",
            desc=f"How many appeals decided in the {len(labels)} periods shown took each length of time.",
            bucket_labels=_bucket_labels(),
            counts=hist,
        ),
        "time_trend": charts.line_chart(
            title="Median and 90th-percentile time to outcome",
            desc="Per period, the median and 90th-percentile time from filing an appeal to its outcome.",
            labels=labels,
            series=[
                charts.Series("Median", [_in_days(r.time_to_outcome_median) for r in total]),
                charts.Series("90th percentile", [_in_days(r.time_to_outcome_p90) for r in total]),
            ],
            fmt=charts.in_days,
        ),
        "queue": charts.line_chart(
            title="Queue depth",
            desc="Appeals open at the end of each period (for the current period: now).",
            labels=labels,
            series=[charts.Series("Open appeals", [float(r.queue_depth) for r in total])],
        ),
        "sla": charts.bar_chart(
            title="SLA breaches",
            desc="Appeals decided in each period after their due date, or escalated as overdue on the way.",
            labels=labels,
            series=[charts.Series("Breaches", [float(r.sla_breaches) for r in total])],
        ),
        "notices": charts.bar_chart(
            title="Decision notices delivered on time",
            desc=(
                "Of the decisions recorded in each period whose notice was due, the share whose notice "
                "was delivered by its due time (S12)."
            ),
            labels=labels,
            series=[charts.Series("On time", [r.notices_on_time_rate for r in total])],
            fmt=charts.percent,
            y_max=1.0,
        ),
        "decisions": charts.bar_chart(
            title="Decisions, adverse and taken with a person",
            desc=(
                "Decisions recorded in each period; of them, adverse ones, and ones in which a person "
                "took part."
            ),
            labels=labels,
            series=[
                charts.Series("Decisions", [float(r.decisions) for r in total]),
                charts.Series("Adverse", [float(r.adverse) for r in total]),
                charts.Series(
                    "With a person", [float(r.automation_partial + r.automation_none) for r in total]
                ),
            ],
        ),
    }


@require_safe
@never_cache
@access.oversight_viewer
def system_detail(request: HttpRequest, slug: str) -> HttpResponse:
    system = get_object_or_404(DecisionSystem, slug=slug)
    kind = _kind(request, PeriodKind.WEEK)
    end = _end_period(request, kind)
    shown = _series(end, DETAIL_PERIODS[kind])
    figures = selectors.figures(shown, system)[0]
    now = clock.now()
    fairness = fairness_figures(
        system_id=system.pk, start=shown[0].start, end=min(shown[-1].end, now.date() + timedelta(days=1))
    )
    state = selectors.figures_state()
    return render(
        request,
        "oversight/system.html",
        {
            "section": "home",
            "system": system,
            "figures": figures,
            "charts": _system_charts(figures),
            "fairness": fairness,
            "fairness_views": [_fairness_charts(a, fairness.threshold) for a in fairness.attributes],
            "kind": kind,
            "kinds": PeriodKind.choices,
            "period": end,
            "first": shown[0],
            "previous": end.previous(),
            "next": end.next() if end.next().has_started(now) else None,
            "overdue_now": selectors.overdue_now(system),
            "can_see_group_records": access.can_view_group_records(request.user),
            "fairness_last_day": fairness.end - timedelta(days=1),
            "fairness_stale": state is not None and state.fairness_built_at is None,
        },
    )


# ------------------------------------------------------------------------------------------ reviewers


@require_safe
@never_cache
@access.reviewer_figures_viewer
def reviewers(request: HttpRequest) -> HttpResponse:
    """S23: per reviewer, agreement with the machine, time spent and blind divergence; senior eyes only."""
    try:
        days = min(366, max(1, int(request.GET.get("days", "90"))))
    except ValueError:
        days = 90
    slug = request.GET.get("system", "")
    system = DecisionSystem.objects.filter(slug=slug).first() if slug else None
    now = clock.now()
    rule = RubberStampRule.from_settings()
    rows = reviewer_figures(
        start=now - timedelta(days=days), end=now, system_ids=[system.pk] if system else None, rule=rule
    )
    chart = charts.bar_chart(
        title="Agreement with the machine, per reviewer",
        desc=(
            f"Share of each reviewer's decided appeals that upheld the machine's outcome in the last {days} "
            f"days. The line marks {rule.min_agreement:.0%}: above it, with short reviews, a pattern is "
            "flagged."
        ),
        labels=[r.reviewer.get_username() for r in rows],
        series=[charts.Series("Agreement", [r.agreement for r in rows])],
        fmt=charts.percent,
        y_max=1.0,
        threshold=charts.Threshold(rule.min_agreement, "Rubber-stamp level"),
        x_title="Reviewer",
    )
    return render(
        request,
        "oversight/reviewers.html",
        {
            "section": "reviewers",
            "rows": rows,
            "rule": rule,
            "days": days,
            "system": system,
            "systems": DecisionSystem.objects.order_by("slug").only("slug", "name"),
            "chart": chart,
            "flagged": sum(1 for r in rows if r.rubber_stamp),
        },
    )


# ------------------------------------------------------------------------------------------ transparency


@require_safe
@never_cache
@access.oversight_viewer
def transparency(request: HttpRequest) -> HttpResponse:
    """S31: the report for a period as a page, or downloaded as CSV or JSON (?format=csv|json)."""
    now = clock.now()
    text = request.GET.get("period", "")
    fmt = request.GET.get("format", "html")
    error = ""
    period = Period.containing(now, PeriodKind.MONTH).previous()
    if text:
        try:
            period = Period.parse(text)
        except PeriodInvalid as exc:
            error = str(exc)
        else:
            if not period.has_started(now):
                error = f"{period.label} has not started yet."
    if fmt not in ("html", "csv", "json"):
        error = error or "Choose the format: html, csv or json."
    report = None
    if not error:
        report = reports.transparency_report(period=period, systems=DecisionSystem.objects.all(), now=now)
        if fmt in ("csv", "json"):
            body = reports.as_csv(report) if fmt == "csv" else reports.as_json(report)
            response = HttpResponse(body, content_type="text/csv" if fmt == "csv" else "application/json")
            response["Content-Disposition"] = f'attachment; filename="transparency-{period.label}.{fmt}"'
            return response
    return render(
        request,
        "oversight/transparency.html",
        {"report": report, "period_text": text or period.label, "error": error, "section": "transparency"},
        status=400 if error else 200,
    )


# ------------------------------------------------------------------------------------- the auditor's pages


def _before(request: HttpRequest, parse: Any) -> Any:
    raw = request.GET.get("before", "")
    if not raw:
        return None
    try:
        return parse(raw)
    except (TypeError, ValueError):
        return None


def _kept(request: HttpRequest, *names: str) -> str:
    return urlencode({n: request.GET[n] for n in names if request.GET.get(n)})


@require_safe
@never_cache
@access.oversight_viewer
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log (S28): newest first, filtered by action and target, with seq and hash prefix."""
    action = request.GET.get("action", "").strip()[:80]
    target_type = request.GET.get("target_type", "").strip()[:80]
    target_id = request.GET.get("target_id", "").strip()[:64]
    page = selectors.keyset(
        selectors.audit_events(action=action, target_type=target_type, target_id=target_id),
        before=_before(request, int),
    )
    return render(
        request,
        "oversight/audit_log.html",
        {
            "section": "audit",
            "page": page,
            "filters": {"action": action, "target_type": target_type, "target_id": target_id},
            "actions": selectors.audit_actions(),
            "query": _kept(request, "action", "target_type", "target_id"),
            "head": audit.head(),
        },
    )


@require_safe
@never_cache
@access.oversight_viewer
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Runs ``core.audit.verify()`` (read-only: it seals and writes nothing) and shows the result."""
    result = audit.verify()
    return render(
        request,
        "oversight/audit_verify.html",
        {"result": result, "checked_at": clock.now(), "section": "audit"},
    )


@require_safe
@never_cache
@access.oversight_viewer
def decision_list(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("system", "")
    system = DecisionSystem.objects.filter(slug=slug).first() if slug else None
    status = request.GET.get("status", "")
    status = status if status in Decision.Status.values else ""
    adverse = {"1": True, "0": False}.get(request.GET.get("adverse", ""))
    page = selectors.keyset(
        selectors.decisions(system=system, status=status, adverse=adverse), before=_before(request, uuid.UUID)
    )
    return render(
        request,
        "oversight/decisions.html",
        {
            "section": "decisions",
            "page": page,
            "systems": DecisionSystem.objects.order_by("slug").only("slug", "name"),
            "statuses": Decision.Status.choices,
            "filters": {
                "system": slug if system else "",
                "status": status,
                "adverse": request.GET.get("adverse", ""),
            },
            "query": _kept(request, "system", "status", "adverse"),
        },
    )


@require_safe
@never_cache
@access.oversight_viewer
def appeal_list(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("system", "")
    system = DecisionSystem.objects.filter(slug=slug).first() if slug else None
    status = request.GET.get("status", "")
    status = status if status in {s.value for s in APPEAL_STATES} else ""
    outcome = request.GET.get("outcome", "")
    outcome = outcome if outcome in Appeal.Outcome.values else ""
    page = selectors.keyset(
        selectors.appeals(system=system, status=status, outcome=outcome), before=_before(request, uuid.UUID)
    )
    return render(
        request,
        "oversight/appeals.html",
        {
            "section": "appeals",
            "page": page,
            "systems": DecisionSystem.objects.order_by("slug").only("slug", "name"),
            "statuses": [(s.value, label) for s, label in APPEAL_STATES.items()],
            "outcomes": Appeal.Outcome.choices,
            "filters": {"system": slug if system else "", "status": status, "outcome": outcome},
            "query": _kept(request, "system", "status", "outcome"),
        },
    )
