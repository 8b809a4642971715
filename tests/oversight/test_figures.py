"""Figures per system version and period, against the hand-computed November fixture (issue 6).

The fixture and the reasoning behind every expected number are in tests/oversight/november.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from oversight import metrics, services, tasks
from oversight.models import FigureRollup, FiguresState, PeriodKind
from oversight.periods import Period
from tests.factories import SystemVersionFactory, live_system, populate_version
from tests.oversight import builders as b
from tests.oversight.november import DAY, NOW, Fixture, t

pytestmark = pytest.mark.django_db


@pytest.fixture
def fx() -> Fixture:
    f = Fixture()
    services.figures_refresh(now=NOW)
    return f


def counts(row: FigureRollup) -> dict[str, Any]:
    return {
        "decisions": row.decisions,
        "adverse": row.adverse,
        "automation": (row.automation_full, row.automation_partial, row.automation_none),
        "notices": (row.notices_on_time, row.notices_missed),
        "appeals": row.appeals,
        "decided": (row.appeals_decided, row.upheld, row.overturned, row.modified),
        "sla_breaches": row.sla_breaches,
        "queue_depth": row.queue_depth,
    }


def test_the_monthly_figures_of_each_version_are_the_hand_computed_ones(fx: Fixture) -> None:
    nov = date(2026, 11, 1)
    v1 = fx.row("month", nov, fx.v1)
    # d1..d5 (s replaces o1 and is left out); adverse d1 d2 d4 d5; full d1 d2 d5, partial d3, none d4;
    # on time d1 d3 d5, missed d2 d4; filed a2..a8; decided a1..a5; breaches a4 a5; open on 12-01: a6 a8.
    assert counts(v1) == {
        "decisions": 5,
        "adverse": 4,
        "automation": (3, 1, 1),
        "notices": (3, 2),
        "appeals": 7,
        "decided": (5, 2, 2, 1),
        "sla_breaches": 2,
        "queue_depth": 2,
    }
    # Durations 1, 2, 4, 10, 20 days. Median: the 3rd = 4 days. p90: position 0.9 * 4 = 3.6, between
    # 10 and 20 days: 10 + 0.6 * 10 = 16 days. Histogram buckets <1, 1-3, 3-7, 7-14, 14-30, 30-60, 60+.
    assert v1.time_to_outcome_median == pytest.approx(4 * DAY)
    assert v1.time_to_outcome_p90 == pytest.approx(16 * DAY)
    assert v1.time_to_outcome_hist == [0, 2, 1, 1, 1, 0, 0]

    v2 = fx.row("month", nov, fx.v2)
    # d6 missed, d7 on time; a9 filed and decided (no breach in New York), a10 still queued.
    assert counts(v2) == {
        "decisions": 2,
        "adverse": 2,
        "automation": (2, 0, 0),
        "notices": (1, 1),
        "appeals": 2,
        "decided": (1, 1, 0, 0),
        "sla_breaches": 0,
        "queue_depth": 1,
    }
    assert v2.time_to_outcome_median == pytest.approx(3.125 * DAY)
    assert v2.time_to_outcome_p90 == pytest.approx(3.125 * DAY)


def test_the_whole_systems_month_sums_its_versions_with_its_own_exact_percentiles(fx: Fixture) -> None:
    total = fx.row("month", date(2026, 11, 1))
    assert counts(total) == {
        "decisions": 7,
        "adverse": 6,
        "automation": (5, 1, 1),
        "notices": (4, 3),
        "appeals": 9,
        "decided": (6, 3, 2, 1),
        "sla_breaches": 2,
        "queue_depth": 3,
    }
    # Durations 1, 2, 3.125, 4, 10, 20 days. Median: position 2.5, (3.125 + 4) / 2 = 3.5625 days
    # (not the median of the versions' medians). p90: position 4.5, 10 + 0.5 * 10 = 15 days.
    assert total.time_to_outcome_median == pytest.approx(3.5625 * DAY)
    assert total.time_to_outcome_p90 == pytest.approx(15 * DAY)
    assert total.time_to_outcome_hist == [0, 2, 2, 1, 1, 0, 0]
    assert total.adverse_rate == pytest.approx(6 / 7)
    assert total.appeal_rate == pytest.approx(9 / 6)
    assert total.overturn_rate == pytest.approx(2 / 6)
    assert total.modification_rate == pytest.approx(1 / 6)
    assert total.notices_on_time_rate == pytest.approx(4 / 7)
    assert total.automated_share == pytest.approx(5 / 7)
    assert total.human_share == pytest.approx(2 / 7)


def test_october_counts_its_own_decisions_and_the_appeal_still_open_at_its_end(fx: Fixture) -> None:
    oct_v1 = fx.row("month", date(2026, 10, 1), fx.v1)
    # o1..o5 and the one at 10-31 23:59 UTC; none has a notice, all are long past due. a1 was filed on
    # 10-31 and decided on 11-01: October counts the filing and ends with it open.
    assert counts(oct_v1) == {
        "decisions": 6,
        "adverse": 6,
        "automation": (6, 0, 0),
        "notices": (0, 6),
        "appeals": 1,
        "decided": (0, 0, 0, 0),
        "sla_breaches": 0,
        "queue_depth": 1,
    }
    oct_v2 = fx.row("month", date(2026, 10, 1), fx.v2)
    assert (oct_v2.decisions, oct_v2.appeals, oct_v2.queue_depth) == (2, 1, 0)  # a11 refused on 10-21


def test_weeks_are_iso_weeks_and_days_are_utc_days(fx: Fixture) -> None:
    w45 = fx.row("week", date(2026, 11, 2), fx.v1)  # Monday 2 to Sunday 8 November
    # d1 d2 d3; on time d1 d3, missed d2; filed a2 a3 a4 a5; decided a2 (2 days) and a3 (4 days);
    # open on 11-09: a4 and a5. Median (2 + 4) / 2 = 3 days; p90: position 0.9, 2 + 0.9 * 2 = 3.8 days.
    assert counts(w45) == {
        "decisions": 3,
        "adverse": 2,
        "automation": (2, 1, 0),
        "notices": (2, 1),
        "appeals": 4,
        "decided": (2, 0, 1, 1),
        "sla_breaches": 0,
        "queue_depth": 2,
    }
    assert w45.time_to_outcome_median == pytest.approx(3 * DAY)
    assert w45.time_to_outcome_p90 == pytest.approx(3.8 * DAY)
    # a1 was decided on Sunday 1 November: the week before.
    w44 = fx.row("week", date(2026, 10, 26), fx.v1)
    assert (w44.appeals_decided, w44.upheld, w44.time_to_outcome_median) == (1, 1, pytest.approx(DAY))

    nov3 = fx.row("day", date(2026, 11, 3), fx.v1)
    # d2 and d3; a3 filed; open at the end of the day: a2 (decided on the 4th) and a3.
    assert (nov3.decisions, nov3.appeals, nov3.queue_depth, nov3.appeals_decided) == (2, 1, 2, 0)
    # A day with nothing but an open queue still has its row: 20 November ends with a5 and a6 open.
    nov20 = fx.row("day", date(2026, 11, 20), fx.v1)
    assert (nov20.decisions, nov20.appeals, nov20.queue_depth) == (0, 1, 2)


def test_a_notice_not_yet_due_counts_neither_as_on_time_nor_as_missed(fx: Fixture) -> None:
    dec = fx.row("month", date(2026, 12, 1), fx.v1)
    # d8 has no notice and was due on 12-06: missed. dn's notice is pending but due only on 12-19.
    assert (dec.decisions, dec.notices_on_time, dec.notices_missed) == (2, 0, 1)
    assert dec.notices_on_time_rate == 0.0
    # The current month's queue depth is the queue now: a6 (a8 was decided on 12-02).
    assert (dec.appeals_decided, dec.queue_depth) == (1, 1)
    assert fx.row("month", date(2026, 12, 1), fx.v2).queue_depth == 1  # a10


def test_sla_breaches_are_judged_in_the_systems_own_zone(fx: Fixture) -> None:
    # In UTC, a9 was decided on 11-13, after its due date 11-12: a breach there, not in New York.
    fx.system.time_zone = "UTC"
    fx.system.save(update_fields=["time_zone"])
    services.figures_refresh(period=Period.parse("2026-11"), now=NOW)
    assert fx.row("month", date(2026, 11, 1), fx.v2).sla_breaches == 1


def test_rates_are_none_when_there_is_nothing_to_divide_by() -> None:
    empty = FigureRollup()
    assert empty.adverse_rate is None
    assert empty.overturn_rate is None
    assert empty.appeal_rate is None
    assert empty.notices_on_time_rate is None
    assert empty.automated_share is None


def test_weeks_and_months_summed_from_day_rows_equal_a_direct_count(fx: Fixture) -> None:
    fields = [f.name for f in FigureRollup._meta.fields if f.name not in ("id", "refreshed_at")]
    for kind, start, end in [
        (PeriodKind.WEEK, date(2026, 9, 28), date(2026, 12, 21)),
        (PeriodKind.MONTH, date(2026, 10, 1), date(2027, 1, 1)),
    ]:
        direct = metrics.compute(kind, start, end, system_ids=[fx.system.pk], now=NOW)
        saved = {
            (r.system_id, r.version_id, r.period_start): r
            for r in FigureRollup.objects.filter(period_kind=kind, system=fx.system)
        }
        assert set(direct) == set(saved)
        for key, row in direct.items():
            assert {f: getattr(row, f) for f in fields} == {f: getattr(saved[key], f) for f in fields}, key


def test_the_periodic_refresh_recomputes_only_the_recent_periods(fx: Fixture) -> None:
    # An old figure changes behind the refresh's back (it cannot in practice: outcomes happen now).
    type(fx.a4).objects.filter(pk=fx.a4.pk).update(outcome="overturned")
    services.figures_refresh_recent(now=NOW)
    assert fx.row("month", date(2026, 11, 1), fx.v1).overturned == 2  # November was not recomputed
    assert fx.row("day", date(2026, 12, 15), fx.v1).queue_depth == 1  # today was

    services.figures_refresh(period=Period.parse("2026-11"), now=NOW)  # on demand: it is
    assert fx.row("month", date(2026, 11, 1), fx.v1).overturned == 3
    assert fx.row("week", date(2026, 11, 9), fx.v1).overturned == 1  # the week of 11-15 too


def test_the_first_periodic_refresh_builds_every_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    f = Fixture()
    assert not FigureRollup.objects.exists()
    tasks.refresh_recent_figures()
    assert FiguresState.objects.get().full_build_at is not None
    assert FigureRollup.objects.filter(system=f.system, period_kind="month").count() == 3 * 3  # 3 months


def test_refreshing_one_system_leaves_the_others_rows_alone(fx: Fixture) -> None:
    other, ov = live_system()
    b.decision(ov, t(11, 4))
    services.figures_refresh(system=other, now=NOW)
    before = FigureRollup.objects.filter(system=fx.system).count()
    services.figures_refresh(system=other, period=Period.parse("2026-11"), now=NOW)
    assert FigureRollup.objects.filter(system=fx.system).count() == before
    assert FigureRollup.objects.get(system=other, version=None, period_kind="month").decisions == 1


def test_refreshing_writes_derived_rows_only_and_no_audit_event(fx: Fixture) -> None:
    events = AuditEvent.objects.count()
    services.figures_refresh(now=NOW)
    assert AuditEvent.objects.count() == events


def test_a_refresh_takes_the_same_number_of_queries_however_many_decisions(fx: Fixture) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            services.figures_refresh(period=Period.parse("2026-11"), now=NOW)
        return len(ctx.captured_queries)

    before = queries()
    for i in range(30):
        d = b.decision(fx.v1, t(11, 1 + i % 28, 9))
        b.notice(d, delivered_at=t(11, 1 + i % 28, 10))
        if i % 3 == 0:
            due = date(2027, 1, 1)
            b.appeal(d, t(11, 1 + i % 28, 11), decided_at=t(11, 29), outcome="upheld", due_date=due)
    assert queries() == before
    assert fx.row("month", date(2026, 11, 1), fx.v1).decisions == 35


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([5], 5, 5),
        ([1, 2], 1.5, 1.9),  # positions 0.5 and 0.9 between the two
        ([4, 1, 3, 2], 2.5, 3.7),  # sorted 1 2 3 4; p90 position 2.7: 3 + 0.7
        ([10, 10, 10, 40, 50, 60, 70, 80, 90, 100, 1000], 60, 100),  # n = 11: positions 5 and 9 exactly
    ],
)
def test_percentiles_interpolate_like_percentile_cont(values: list[int], median: float, p90: float) -> None:
    from appeals.models import Review
    from tests.factories import UserFactory

    _system, version = live_system()
    reviewer = UserFactory.create()
    for i, v in enumerate(values):
        d = b.decision(version, t(11, 1))
        a = b.appeal(d, t(11, 2), decided_at=t(11, 3), outcome="upheld", due_date=date(2026, 12, 1))
        b.review(a, reviewer, decided_at=t(11, 3, i % 24), seconds_spent=v, outcome="upheld")
    got = metrics.percentiles(Review.objects.all(), {"r": "reviewer_id"}, metrics.F("seconds_spent"))
    assert got[(reviewer.pk,)] == [pytest.approx(median), pytest.approx(p90)]


# ------------------------------------------------------------------------------------------ the pages


def staff(username: str, *groups: str, **fields: Any) -> Any:
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    user = UserFactory.create(username=username, **fields)
    user.groups.add(*(Group.objects.get_or_create(name=g)[0] for g in groups))
    return user


@pytest.mark.parametrize("group", ["senior reviewer", "auditor", "admin"])
def test_the_overview_shows_each_system_and_version_to_oversight_staff(
    fx: Fixture, client: Any, group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    client.force_login(staff("viewer", group))
    page = client.get("/oversight/?kind=month&period=2026-11")
    assert page.status_code == 200
    html = page.content.decode()
    assert fx.system.name in html
    assert "version 1.0" in html and "version 2.0" in html
    assert '<strong class="tag tag--flag">33.3%' in html  # 2 of 6 overturned: past the 25% stop switch
    assert 'role="img"' in html and "<title" in html  # the sparklines name themselves


def test_oversight_pages_refuse_plain_reviewers_and_send_strangers_to_sign_in(client: Any) -> None:
    assert client.get("/oversight/").status_code == 302
    client.force_login(staff("rev", "reviewer", is_staff=True))
    for url in ("/oversight/", "/oversight/audit/", "/oversight/decisions/", "/oversight/reviewers/"):
        assert client.get(url).status_code == 403, url


def test_the_system_page_draws_the_overturn_rate_per_version_with_the_stop_switch_threshold(
    fx: Fixture, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    client.force_login(staff("senior", "senior reviewer"))
    page = client.get(f"/oversight/systems/{fx.system.slug}/?kind=month&period=2026-11")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Stop switch: 25.0%" in html  # the threshold line, labelled
    assert 'data-series="v1.0"' in html and 'data-series="v2.0"' in html
    # Each chart has its data table: November's overturn rates, 40% for v1 (2 of 5) and 0% for v2.
    assert "<td>40.0%</td>" in html and "<td>0.0%</td>" in html
    assert html.count('<figure class="chart-block"') >= 7
    assert html.count("<details>") == html.count('<figure class="chart-block"')


def test_the_pages_take_the_same_number_of_queries_however_many_systems(
    fx: Fixture, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    client.force_login(staff("senior", "senior reviewer"))

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = {u: queries(u) for u in ("/oversight/", f"/oversight/systems/{fx.system.slug}/")}
    for _ in range(3):
        _s, v = live_system()
        populate_version(SystemVersionFactory.create(system=v.system, version="2.0"))
        b.decision(v, t(11, 4))
    services.figures_refresh(now=NOW)
    after = {u: queries(u) for u in before}
    assert after == before


def test_a_senior_reviewer_can_recompute_the_figures_now_and_a_plain_reviewer_cannot(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    f = Fixture()
    client.force_login(staff("rev", "reviewer"))
    assert client.post("/oversight/refresh/").status_code == 403
    assert not FigureRollup.objects.exists()
    client.force_login(staff("senior", "senior reviewer"))
    response = client.post("/oversight/refresh/", {"next": "/oversight/?kind=week"})
    assert (response.status_code, response["Location"]) == (302, "/oversight/?kind=week")
    assert f.row("month", date(2026, 11, 1)).decisions == 7  # the first refresh is a full build
    away = client.post("/oversight/refresh/", {"next": "https://elsewhere.example/"})
    assert away["Location"] == "/oversight/"  # never sent off-site
    assert client.get("/oversight/refresh/").status_code == 405


def test_the_refresh_figures_command_builds_one_system_or_one_period(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from django.core.management import CommandError, call_command

    monkeypatch.setattr("core.clock.now", lambda: NOW)
    f = Fixture()
    out = io.StringIO()
    call_command("refresh_figures", "--system", f.system.slug, "--period", "2026-11", stdout=out)
    assert "rollup row(s) written (2026-11-01 to 2026-12-01)" in out.getvalue()
    assert f.row("month", date(2026, 11, 1)).decisions == 7
    assert not FigureRollup.objects.filter(period_kind="day", period_start=date(2026, 10, 5)).exists()
    call_command("refresh_figures", stdout=io.StringIO())
    assert FigureRollup.objects.filter(period_kind="day", period_start=date(2026, 10, 5)).exists()
    for bad in (["--period", "2026-W60"], ["--system", "nope"], ["--recent", "--period", "2026-11"]):
        with pytest.raises(CommandError):
            call_command("refresh_figures", *bad, stdout=io.StringIO())


def test_an_outcome_recorded_through_the_appeal_services_shows_in_the_figures_once_committed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from appeals import services as appeals
    from tests.appeals.conftest import RATIONALE, make_world

    w = make_world()
    a = w.claimed()
    w.open_everything(a, w.alice)
    with django_capture_on_commit_callbacks(execute=True):
        decided = appeals.review_decide(
            appeal=a,
            reviewer=w.alice,
            outcome="overturned",
            rationale=RATIONALE,
            evidence_relied_on=["statement", "decision_record"],
        )
    assert decided.decided_at is not None
    today = Period.containing(decided.decided_at, "day").start
    row = FigureRollup.objects.get(system=w.system, version=None, period_kind="day", period_start=today)
    # The original decision counts; the reversal recorded by the outcome replaces it and does not.
    assert (row.decisions, row.appeals, row.appeals_decided, row.overturned, row.queue_depth) == (
        1,
        1,
        1,
        1,
        0,
    )
