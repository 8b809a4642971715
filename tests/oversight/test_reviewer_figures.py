"""Reviewer figures (S23): agreement with the machine, time spent, blind divergence, the rubber-stamp flag.

Reviews are finished in November 2026 and read over the 90 days up to 2026-12-15. The rule's defaults:
flag at 20 cases or more, agreement of at least 95% and a median time under 180 seconds.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group

from appeals.models import Review
from decisions.models import Outcome
from oversight.reviewers import RubberStampRule, reviewer_figures
from tests.factories import UserFactory, live_system
from tests.oversight import builders as b
from tests.oversight.november import NOW, t

pytestmark = pytest.mark.django_db

START, END = NOW - timedelta(days=90), NOW


class Reviews:
    def __init__(self) -> None:
        self.system, self.version = live_system()
        self.machine = Outcome.objects.get(version=self.version, adverse=True)
        self.other = Outcome.objects.get(version=self.version, adverse=False)
        self.n = 0

    def add(
        self, reviewer: Any, seconds: list[int], *, upheld: int, blind_differs: int = 0, blind: int = 0
    ) -> None:
        """len(seconds) first reviews: the first ``upheld`` upheld, the rest overturned; the first ``blind``
        with a blind assessment, of which the first ``blind_differs`` differ from the machine."""
        for i, s in enumerate(seconds):
            self.n += 1
            d = b.decision(self.version, t(10, 1))
            a = b.appeal(
                d,
                t(11, 1),
                decided_at=t(11, 2 + self.n % 25),
                outcome="upheld" if i < upheld else "overturned",
                due_date=date(2026, 12, 1),
            )
            blind_outcome = None
            if i < blind:
                blind_outcome = self.other if i < blind_differs else self.machine
            b.review(
                a,
                reviewer,
                decided_at=t(11, 2 + self.n % 25, 12),
                seconds_spent=s,
                outcome="upheld" if i < upheld else "overturned",
                blind_outcome=blind_outcome,
            )


def by_name(rows: list[Any]) -> dict[str, Any]:
    return {r.reviewer.username: r for r in rows}


def test_near_total_agreement_in_very_short_reviews_is_flagged_and_careful_work_is_not() -> None:
    w = Reviews()
    fast, careful, slow = (UserFactory.create(username=n) for n in ("fast", "careful", "slow"))
    # fast: 20 cases, all upheld; 10 of 60 s and 10 of 120 s. Median: position 9.5, (60 + 120) / 2 = 90 s.
    # p90: position 17.1, both neighbours 120 s.
    w.add(fast, [60] * 10 + [120] * 10, upheld=20)
    # careful: 300, 600, ..., 6000 s; 12 upheld (60%). Median (3000 + 3300) / 2 = 3150 s; p90 position 17.1:
    # 5400 + 0.1 * 300 = 5430 s. Ten blind assessments, four of them differing from the machine: 40%.
    w.add(careful, [300 * (i + 1) for i in range(20)], upheld=12, blind=10, blind_differs=4)
    # slow: agrees every time but takes ten minutes: no flag.
    w.add(slow, [600] * 20, upheld=20)

    rows = by_name(reviewer_figures(start=START, end=END))
    assert (rows["fast"].cases, rows["fast"].agreement, rows["fast"].median_seconds) == (20, 1.0, 90.0)
    assert rows["fast"].p90_seconds == 120.0
    assert rows["fast"].rubber_stamp is True
    assert (rows["careful"].cases, rows["careful"].agreement) == (20, 0.6)
    assert rows["careful"].median_seconds == pytest.approx(3150)
    assert rows["careful"].p90_seconds == pytest.approx(5430)
    assert (rows["careful"].blind, rows["careful"].diverged, rows["careful"].blind_divergence) == (10, 4, 0.4)
    assert rows["careful"].rubber_stamp is False
    assert rows["slow"].rubber_stamp is False
    assert rows["fast"].blind_divergence is None  # no blind assessments: no figure, not zero


def test_the_flag_sits_exactly_on_its_thresholds() -> None:
    w = Reviews()
    edge, over, few = (UserFactory.create(username=n) for n in ("edge", "over", "few"))
    w.add(edge, [179] * 20, upheld=19)  # 95% exactly, median 179 s: flagged
    w.add(over, [180] * 20, upheld=20)  # median 180 s is not under 180: not flagged
    w.add(few, [10] * 19, upheld=19)  # 19 cases: too few to say
    rows = by_name(reviewer_figures(start=START, end=END))
    assert rows["edge"].agreement == 0.95
    assert (rows["edge"].rubber_stamp, rows["over"].rubber_stamp, rows["few"].rubber_stamp) == (
        True,
        False,
        False,
    )


def test_the_rule_is_configurable_in_settings(settings: Any) -> None:
    settings.OVERSIGHT_RUBBER_STAMP_MIN_CASES = 5
    settings.OVERSIGHT_RUBBER_STAMP_MIN_AGREEMENT = 0.8
    settings.OVERSIGHT_RUBBER_STAMP_MAX_MEDIAN_SECONDS = 30
    w = Reviews()
    few = UserFactory.create(username="few")
    w.add(few, [10] * 5, upheld=4)  # 80%, 10 s, 5 cases
    assert RubberStampRule.from_settings() == RubberStampRule(5, 0.8, 30)
    assert by_name(reviewer_figures(start=START, end=END))["few"].rubber_stamp is True


def test_second_reviews_are_counted_apart_from_cases() -> None:
    w = Reviews()
    first, second = UserFactory.create(username="first"), UserFactory.create(username="second")
    w.add(first, [600, 600, 600], upheld=3)
    for i, appeal_review in enumerate(Review.objects.filter(reviewer=first)):
        b.review(
            appeal_review.appeal,
            second,
            decided_at=t(11, 28),
            seconds_spent=300,
            outcome="upheld",
            stage=Review.Stage.SECOND,
            confirmed=i != 0,
        )
    rows = by_name(reviewer_figures(start=START, end=END))
    assert (rows["second"].cases, rows["second"].second_reviews, rows["second"].second_not_confirmed) == (
        0,
        3,
        1,
    )
    assert rows["second"].agreement is None
    assert rows["first"].cases == 3


def test_reviews_outside_the_window_or_the_system_are_left_out() -> None:
    w = Reviews()
    r = UserFactory.create(username="r")
    w.add(r, [100, 100], upheld=2)
    assert reviewer_figures(start=NOW - timedelta(days=1), end=END) == []
    other, _v = live_system()
    assert reviewer_figures(start=START, end=END, system_ids=[other.pk]) == []
    assert by_name(reviewer_figures(start=START, end=END, system_ids=[w.system.pk]))["r"].cases == 2


def _member(username: str, *groups: str) -> Any:
    user = UserFactory.create(username=username)
    user.groups.add(*(Group.objects.get_or_create(name=g)[0] for g in groups))
    return user


@pytest.mark.parametrize(
    ("groups", "status"),
    [
        (("senior reviewer",), 200),
        (("admin",), 200),
        (("auditor",), 403),
        (("reviewer",), 403),
    ],
)
def test_reviewer_figures_are_shown_to_senior_reviewers_and_admins_only(
    client: Any, monkeypatch: pytest.MonkeyPatch, groups: tuple[str, ...], status: int
) -> None:
    monkeypatch.setattr("core.clock.now", lambda: NOW)
    w = Reviews()
    w.add(UserFactory.create(username="stamper", first_name="Sam", last_name="Stamp"), [30] * 20, upheld=20)
    client.force_login(_member("viewer", *groups))
    page = client.get("/oversight/reviewers/")
    assert page.status_code == status
    if status == 200:
        html = page.content.decode()
        assert "Sam Stamp" in html
        assert "Possible rubber-stamping" in html
        assert "1 reviewer flagged" in html
        assert 'role="img"' in html  # the agreement chart, with its table
