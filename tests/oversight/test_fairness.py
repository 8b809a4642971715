"""Fairness analytics (S32): rates by group from a separate store, disparity ratios, sample-size warnings."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from core.errors import ValidationFailed
from core.models import AuditEvent
from decisions.models import Decision
from oversight import services
from oversight.fairness import disparities, fairness_figures, fairness_figures_live
from oversight.models import FiguresState, GroupAttribute
from oversight.services import GroupValue
from tests.factories import UserFactory, live_system
from tests.oversight import builders as b
from tests.oversight.november import NOW, t

pytestmark = pytest.mark.django_db


def by_group(rows: list[Any]) -> dict[str, Any]:
    return {r.group: r for r in rows}


# ------------------------------------------------------------------------------------------ the arithmetic


def test_a_group_below_four_fifths_of_the_most_favoured_group_is_flagged() -> None:
    # A: 80 of 100 favourable (0.8), the most favoured large group. B: 30 of 50 = 0.6, ratio 0.6 / 0.8 = 0.75,
    # under 0.8: flagged. C: 2 of 10 = 0.2, ratio 0.25, but 10 < 30 cases: a warning, not a flag.
    rows = by_group(disparities([("A", 100, 80), ("B", 50, 30), ("C", 10, 2)], threshold=0.8, min_n=30))
    assert (rows["A"].ratio, rows["A"].reference, rows["A"].flagged) == (1.0, True, False)
    assert rows["B"].ratio == pytest.approx(0.75)
    assert (rows["B"].flagged, rows["B"].small_sample) == (True, False)
    assert rows["C"].ratio == pytest.approx(0.25)
    assert (rows["C"].flagged, rows["C"].small_sample) == (False, True)


def test_a_ratio_of_exactly_the_threshold_is_not_flagged() -> None:
    # 40 / 50 = 0.8 against 50 / 50 = 1.0: ratio 0.8, not below 0.8.
    rows = by_group(disparities([("A", 50, 50), ("B", 50, 40)], threshold=0.8, min_n=30))
    assert rows["B"].ratio == pytest.approx(0.8)
    assert rows["B"].flagged is False


def test_the_most_favoured_group_is_chosen_among_groups_large_enough_to_say() -> None:
    # D: 5 of 5 favourable, but only 5 cases. The reference is A (0.8 over 100); D's ratio is 1.25.
    rows = by_group(disparities([("A", 100, 80), ("D", 5, 5)], threshold=0.8, min_n=30))
    assert rows["A"].reference and not rows["D"].reference
    assert rows["D"].ratio == pytest.approx(1.25)


def test_when_every_group_is_small_nothing_is_flagged_and_every_group_is_warned() -> None:
    rows = disparities([("A", 10, 9), ("B", 10, 1)], threshold=0.8, min_n=30)
    assert [r.small_sample for r in rows] == [True, True]
    assert [r.flagged for r in rows] == [False, False]
    assert rows[1].ratio == pytest.approx(1 / 9)


def test_a_group_with_no_cases_has_no_rate_and_no_ratio() -> None:
    rows = by_group(disparities([("A", 40, 20), ("B", 0, 0)], threshold=0.8, min_n=30))
    assert (rows["B"].rate, rows["B"].ratio, rows["B"].flagged) == (None, None, False)


def test_the_threshold_and_minimum_sample_are_settings(settings: Any) -> None:
    settings.OVERSIGHT_FAIRNESS_RATIO_THRESHOLD = 0.7
    settings.OVERSIGHT_FAIRNESS_MIN_GROUP_SIZE = 40
    rows = by_group(disparities([("A", 100, 80), ("B", 50, 30)]))
    assert rows["B"].flagged is False  # 0.75 is not below 0.7


# ------------------------------------------------------------------------------------------ from the database


class Groups:
    """Decisions in November; group x: 4 decisions, 1 adverse; group y: 4 decisions, 3 adverse; 2 people
    with no group data. Appeals decided in November: x 1 (overturned); y 3 (1 overturned, 2 upheld)."""

    def __init__(self) -> None:
        self.system, v = live_system()
        plan = [("x", False)] * 3 + [("x", True)] + [("y", False)] + [("y", True)] * 3 + [(None, True)] * 2
        values = []
        self.adverse: dict[str, list[Any]] = {"x": [], "y": []}
        for i, (group, adverse) in enumerate(plan):
            d = b.decision(v, t(11, 1 + i), adverse=adverse)
            if group:
                values.append(GroupValue(d.subject.pseudonym, group))
                if adverse:
                    self.adverse[group].append(d)
        services.group_attributes_record(
            attribute="band",
            values=values,
            source="Test survey",
            lawful_basis="Art. 9(2)(g)",
            actor=UserFactory.create(),
        )
        outcomes = {"x": ["overturned"], "y": ["overturned", "upheld", "upheld"]}
        for group, decided in outcomes.items():
            for d, outcome in zip(self.adverse[group], decided, strict=True):
                b.appeal(d, t(11, 20), decided_at=t(11, 25), outcome=outcome, due_date=date(2026, 12, 20))
        # Not counted: a decision replacing another, another system's decision, an October decision.
        b.decision(
            v,
            t(11, 10),
            adverse=False,
            supersedes=self.adverse["y"][0],
            subject_=self.adverse["y"][0].subject,
        )
        _o, ov = live_system()
        b.decision(ov, t(11, 10))
        b.decision(v, t(10, 10), subject_=self.adverse["y"][1].subject)


NOVEMBER = {"start": date(2026, 11, 1), "end": date(2026, 12, 1)}


def test_adverse_and_overturn_rates_by_group_with_their_ratios(settings: Any) -> None:
    settings.OVERSIGHT_FAIRNESS_MIN_GROUP_SIZE = 3
    g = Groups()
    services.figures_refresh(now=NOW)
    f = fairness_figures(system_id=g.system.pk, **NOVEMBER)
    assert f.decisions == 10
    [band] = f.attributes
    assert band.attribute == "band" and band.decisions_without_data == 2
    rows = by_group(band.rows)
    # x: 3 of 4 favourable (0.75), the reference; y: 1 of 4 (0.25), ratio 0.25 / 0.75 = 1/3: flagged.
    assert (rows["x"].decisions, rows["x"].adverse, rows["x"].adverse_rate) == (4, 1, 0.25)
    assert (rows["y"].decisions, rows["y"].adverse, rows["y"].adverse_rate) == (4, 3, 0.75)
    assert rows["x"].decision_disparity.reference
    assert rows["y"].decision_disparity.ratio == pytest.approx(1 / 3)
    assert rows["y"].decision_disparity.flagged
    # Appeals: x 1 of 1 overturned (too few: 1 < 3), y 1 of 3. Among groups with 3 or more only y: it is the
    # reference, so nothing is flagged, and x carries a sample-size warning.
    assert (rows["x"].appeals_decided, rows["x"].overturned) == (1, 1)
    assert (rows["y"].appeals_decided, rows["y"].overturned, rows["y"].overturn_rate) == (
        3,
        1,
        pytest.approx(1 / 3),
    )
    assert rows["x"].appeal_disparity.small_sample and not rows["y"].appeal_disparity.flagged
    assert rows["y"].appeal_disparity.reference
    assert band.flagged


def test_the_day_rollups_agree_with_a_count_straight_from_the_decisions() -> None:
    g = Groups()
    services.figures_refresh(now=NOW)
    from_rollups = fairness_figures(system_id=g.system.pk, **NOVEMBER)
    live = fairness_figures_live(system_id=g.system.pk, start=t(11, 1), end=t(12, 1))
    assert from_rollups.decisions == live.decisions == 10
    assert from_rollups.attributes == live.attributes


def test_fairness_figures_take_two_queries_whatever_the_number_of_groups(
    django_assert_num_queries: Any,
) -> None:
    g = Groups()
    services.figures_refresh(now=NOW)
    with django_assert_num_queries(2):
        fairness_figures(system_id=g.system.pk, **NOVEMBER)


def test_new_group_data_makes_the_next_refresh_rebuild_every_fairness_count() -> None:
    g = Groups()
    services.figures_refresh(now=NOW)
    assert FiguresState.objects.get().fairness_built_at is not None
    # The two people without group data get one; the recent refresh (December) rebuilds November too.
    held = GroupAttribute.objects.values_list("subject_pseudonym", flat=True)
    nobody = list(
        Decision.objects.filter(system=g.system, recorded_at__gte=t(11, 1), recorded_at__lt=t(12, 1))
        .exclude(subject__pseudonym__in=held)
        .values_list("subject__pseudonym", flat=True)
    )
    assert len(nobody) == 2
    services.group_attributes_record(
        attribute="band",
        values=[GroupValue(p, "z") for p in nobody],
        source="s",
        lawful_basis="b",
        actor=UserFactory.create(),
    )
    assert FiguresState.objects.get().fairness_built_at is None
    services.figures_refresh_recent(now=NOW)
    [band] = fairness_figures(system_id=g.system.pk, **NOVEMBER).attributes
    assert band.decisions_without_data == 0
    assert FiguresState.objects.get().fairness_built_at is not None


def test_the_system_page_shows_flags_and_sample_size_warnings(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    g = Groups()
    services.figures_refresh(now=NOW)
    user = UserFactory.create()
    user.groups.add(Group.objects.get_or_create(name="auditor")[0])
    client.force_login(user)
    html = client.get(f"/oversight/systems/{g.system.slug}/?kind=month&period=2026-11").content.decode()
    assert "Outcomes by band" in html
    # With the default minimum of 30 cases, every group here is too small to flag.
    assert "Few decisions" in html and "Decisions: disparity" not in html
    assert "2 decisions without group data left out" in html


# ------------------------------------------------------------------------------------------ the store


def test_recording_group_data_audits_counts_never_values_or_people() -> None:
    _system, v = live_system()
    people = [b.decision(v, t(11, 1)).subject.pseudonym for _ in range(3)]
    n = services.group_attributes_record(
        attribute="sex",
        values=[
            GroupValue(people[0], "female"),
            GroupValue(people[1], "male"),
            GroupValue(people[2], "female"),
        ],
        source="Application form (optional question)",
        lawful_basis="Consent, Art. 9(2)(a)",
        actor=UserFactory.create(),
    )
    assert n == 3
    [event] = AuditEvent.objects.filter(action="oversight.group_attributes_recorded")
    assert event.data == {"attribute": "sex", "count": 3, "replaced": 0, "groups": 2}
    text = json.dumps(event.data)
    assert not any(p in text for p in people) and "female" not in text
    # Recording again replaces the values (one row per person and attribute).
    services.group_attributes_record(
        attribute="sex",
        values=[GroupValue(people[0], "male")],
        source="s",
        lawful_basis="b",
        actor=UserFactory.create(),
    )
    assert GroupAttribute.objects.get(subject_pseudonym=people[0]).value == "male"
    assert GroupAttribute.objects.count() == 3


def test_group_data_without_a_source_or_lawful_basis_is_refused_and_nothing_is_written() -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.group_attributes_record(
            attribute="sex",
            values=[GroupValue("subj_x", "f")],
            source=" ",
            lawful_basis="",
            actor=UserFactory.create(),
        )
    assert {e["field"] for e in exc.value.errors} == {"source", "lawful_basis"}
    assert not GroupAttribute.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="oversight.group").exists()


def test_erasing_group_data_is_audited_with_a_count() -> None:
    services.group_attributes_record(
        attribute="band",
        values=[GroupValue("subj_a", "1"), GroupValue("subj_b", "2")],
        source="s",
        lawful_basis="b",
        actor=UserFactory.create(),
    )
    assert services.group_attributes_erase(subject_pseudonyms=["subj_a"]) == 1
    event = AuditEvent.objects.get(action="oversight.group_attributes_erased")
    assert event.data == {"attribute": None, "count": 1}
    assert list(GroupAttribute.objects.values_list("subject_pseudonym", flat=True)) == ["subj_b"]
    with pytest.raises(ValidationFailed):
        services.group_attributes_erase()


def test_only_holders_of_the_stores_permission_see_its_records_in_the_admin(client: Any) -> None:
    services.group_attributes_record(
        attribute="band",
        values=[GroupValue("subj_a", "1")],
        source="s",
        lawful_basis="b",
        actor=UserFactory.create(),
    )
    url = "/admin/oversight/groupattribute/"
    staff = UserFactory.create(is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_groupattribute"))
    client.force_login(staff)
    page = client.get(url)
    assert page.status_code == 200 and "subj_a" in page.content.decode()
    assert client.get(url + "add/").status_code == 403


# ------------------------------------------------------------------------------------------ the demo


def test_the_demo_gives_most_subjects_a_synthetic_band_once(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", "--scale", "0.1", stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("seed_oversight_demo", stdout=out)
    held = GroupAttribute.objects.count()
    from decisions.models import Subject

    subjects = Subject.objects.count()
    assert 0.6 * subjects <= held <= subjects  # about four in five
    assert set(GroupAttribute.objects.values_list("value", flat=True)) <= {"18-34", "35-64", "65+"}
    assert all("Synthetic" in s for s in GroupAttribute.objects.values_list("source", flat=True))
    events = AuditEvent.objects.count()
    call_command("seed_oversight_demo", stdout=io.StringIO())
    assert GroupAttribute.objects.count() == held
    assert AuditEvent.objects.count() == events  # nothing new to record: no event
    assert "rollup row(s) built" in out.getvalue()
