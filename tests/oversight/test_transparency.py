"""The transparency report (S31): the command and the API, against the hand-computed November fixture.

November 2026, whole system (tests/oversight/november.py): 7 decisions, 6 adverse; notices 4 on time and
3 missed; 9 appeals filed; 6 decided: 3 upheld, 2 overturned, 1 modified; times to outcome 1, 2, 3.125,
4, 10 and 20 days: median 3.5625 days (3.56 rounded), 90th percentile 15 days; 2 SLA breaches; 3 appeals
open at the end; 5 fully automated, 1 partly, 1 not.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from core import apikeys
from core.actors import SYSTEM
from decisions.models import SubjectContact
from oversight import services
from oversight.models import FigureRollup
from oversight.periods import Period
from oversight.reports import transparency_report
from tests.factories import UserFactory, live_system
from tests.oversight import builders as b
from tests.oversight.november import NOW, Fixture, t

pytestmark = pytest.mark.django_db

NOVEMBER = {
    "decisions": 7,
    "adverse": 6,
    "adverse_rate": 0.8571,  # 6 / 7
    "notices": {"on_time": 4, "missed": 3, "on_time_rate": 0.5714},  # 4 / 7
    "appeals": 9,
    "appeal_rate": 1.5,  # 9 appeals / 6 adverse decisions
    "appeals_decided": 6,
    "upheld": 3,
    "overturned": 2,
    "overturn_rate": 0.3333,  # 2 / 6
    "modified": 1,
    "modification_rate": 0.1667,  # 1 / 6
    "median_days_to_outcome": 3.56,  # (3.125 + 4) / 2 = 3.5625
    "p90_days_to_outcome": 15.0,  # 10 + 0.5 * (20 - 10)
    "sla_breaches": 2,
    "queue_depth_at_end": 3,
    "automation": {
        "fully_automated": 5,
        "partly_automated": 1,
        "not_automated": 1,
        "automated_share": 0.7143,  # 5 / 7
        "human_share": 0.2857,  # 2 / 7
    },
}


@pytest.fixture
def fx(monkeypatch: pytest.MonkeyPatch) -> Fixture:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    return Fixture()


def figures_of(system: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in system.items() if k not in ("system", "name", "domain", "owner_organisation")}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("transparency_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_json_report_has_the_hand_computed_figures_of_the_month(fx: Fixture) -> None:
    report = json.loads(run("--period", "2026-11", "--format", "json"))
    assert report["period"] == {
        "label": "2026-11",
        "kind": "month",
        "start": "2026-11-01",
        "end": "2026-12-01",
        "time_zone": "UTC",
        "complete": True,
    }
    [system] = report["systems"]
    assert system["system"] == fx.system.slug
    assert figures_of(system) == NOVEMBER
    assert set(report["definitions"]) >= {"decisions", "overturn_rate", "sla_breaches", "automated_share"}


def test_the_csv_report_has_one_row_per_system_with_the_same_figures(fx: Fixture) -> None:
    other, _v = live_system()
    rows = list(csv.DictReader(io.StringIO(run("--period", "2026-11", "--format", "csv"))))
    assert [r["system"] for r in rows] == sorted([fx.system.slug, other.slug])
    mine = next(r for r in rows if r["system"] == fx.system.slug)
    assert mine["period"] == "2026-11"
    assert (mine["decisions"], mine["adverse_rate"], mine["notices_on_time_rate"]) == (
        "7",
        "0.8571",
        "0.5714",
    )
    assert (mine["overturn_rate"], mine["median_days_to_outcome"], mine["sla_breaches"]) == (
        "0.3333",
        "3.56",
        "2",
    )
    assert (mine["automated_share"], mine["human_share"]) == ("0.7143", "0.2857")
    empty = next(r for r in rows if r["system"] == other.slug)
    assert (empty["decisions"], empty["adverse_rate"], empty["median_days_to_outcome"]) == ("0", "", "")


def test_the_report_agrees_with_the_saved_rollups(fx: Fixture) -> None:
    services.figures_refresh(now=NOW)
    row = FigureRollup.objects.get(
        system=fx.system, version=None, period_kind="month", period_start=date(2026, 11, 1)
    )
    report = transparency_report(period=Period.parse("2026-11"), systems=[fx.system], now=NOW)
    s = report["systems"][0]
    assert (s["decisions"], s["appeals"], s["overturned"], s["queue_depth_at_end"]) == (
        row.decisions,
        row.appeals,
        row.overturned,
        row.queue_depth,
    )


def test_a_week_and_a_day_can_be_reported_too(fx: Fixture) -> None:
    week = json.loads(run("--period", "2026-W45"))["systems"][0]
    # Week of 2 to 8 November: d1 d2 d3 (v1); a2 a3 a4 a5 filed; a2 overturned and a3 modified.
    assert (week["decisions"], week["appeals"], week["appeals_decided"], week["overturned"]) == (3, 4, 2, 1)
    day = json.loads(run("--period", "2026-11-03"))["systems"][0]
    assert (day["decisions"], day["appeals"]) == (2, 1)


def test_the_report_goes_to_a_file_and_can_name_systems(fx: Fixture, tmp_path: Path) -> None:
    other, _v = live_system()
    target = tmp_path / "nov.csv"
    assert run("--period", "2026-11", "--format", "csv", "--system", other.slug, "--out", str(target)) == ""
    rows = list(csv.DictReader(target.open()))
    assert [r["system"] for r in rows] == [other.slug]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "not a real period"),
        (["--period", "November"], "not a period"),
        (["--period", "2027-01"], "has not started"),
        (["--period", "2026-11", "--system", "nope"], "No decision system nope"),
    ],
)
def test_the_command_refuses_bad_input_with_a_clear_message(
    fx: Fixture, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_no_personal_data_appears_in_any_form_of_the_report(fx: Fixture, client: Any) -> None:
    from decisions.models import Subject

    secrets: list[str] = []
    for i, s in enumerate(Subject.objects.filter(system=fx.system)):
        SubjectContact.objects.create(subject=s, name=f"Zyxwv Person{i}", email=f"zyx{i}@mail.example")
        secrets += [f"Zyxwv Person{i}", f"zyx{i}@mail.example", s.external_ref, s.pseudonym]
    client.force_login(UserFactory.create(is_staff=True))
    outputs = [
        run("--period", "2026-11", "--format", "json"),
        run("--period", "2026-11", "--format", "csv"),
        client.get("/api/v1/oversight/transparency-report/", {"period": "2026-11"}).content.decode(),
        client.get(
            "/api/v1/oversight/transparency-report/", {"period": "2026-11", "format": "csv"}
        ).content.decode(),
    ]
    assert len(secrets) > 20
    for text in outputs:
        assert fx.system.slug in text
        leaked = [s for s in secrets if s in text]
        assert leaked == []


# ------------------------------------------------------------------------------------------ the API

URL = "/api/v1/oversight/transparency-report/"


def test_an_api_key_sees_only_its_own_systems(fx: Fixture, client: Any) -> None:
    other, ov = live_system()
    b.decision(ov, t(11, 4))
    _client, key = apikeys.api_client_create(name="Integrator", systems=[fx.system], actor=SYSTEM)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    response = client.get(URL, {"period": "2026-11"}, **auth)
    assert response.status_code == 200
    assert [s["system"] for s in response.json()["systems"]] == [fx.system.slug]
    assert figures_of(response.json()["systems"][0]) == NOVEMBER
    # Another client's system answers like an unknown one.
    for slug in (other.slug, "unknown"):
        refused = client.get(URL, {"period": "2026-11", "system": slug}, **auth)
        assert refused.status_code == 404
        assert refused["Content-Type"] == "application/problem+json"


def test_staff_see_every_system_and_csv_comes_as_csv(fx: Fixture, client: Any) -> None:
    other, _ov = live_system()
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, {"period": "2026-11", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="transparency-2026-11.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["system"] for r in rows} == {fx.system.slug, other.slug}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "period-required"),
        ({"period": "2026-13"}, 422, "validation-failed"),
        ({"period": "last month"}, 422, "validation-failed"),
        ({"period": "2027-02"}, 422, "validation-failed"),
        ({"period": "2026-11", "format": "xml"}, 422, "validation-failed"),
    ],
)
def test_bad_input_answers_problem_details(
    fx: Fixture, client: Any, params: dict[str, str], status: int, code: str
) -> None:
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, params)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["errors"][0]["field"] in ("period", "format")


def test_without_a_key_or_a_staff_session_the_api_answers_401(fx: Fixture, client: Any) -> None:
    response = client.get(URL, {"period": "2026-11"})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_the_staff_page_offers_the_report_and_its_downloads(fx: Fixture, client: Any) -> None:
    from django.contrib.auth.models import Group

    user = UserFactory.create()
    user.groups.add(Group.objects.get_or_create(name="auditor")[0])
    client.force_login(user)
    page = client.get("/oversight/transparency/", {"period": "2026-11"})
    assert page.status_code == 200
    assert "format=csv" in page.content.decode()
    download = client.get("/oversight/transparency/", {"period": "2026-11", "format": "json"})
    assert json.loads(download.content)["systems"][0]["decisions"] == 7
    bad = client.get("/oversight/transparency/", {"period": "soon"})
    assert bad.status_code == 400
    assert "There is a problem" in bad.content.decode()
    assert 'value="soon"' in bad.content.decode()  # what the person typed is kept
