"""The clock: aware times, deadline dates in a zone, business days. Fixed dates, DST days and weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import clock

BRUSSELS = ZoneInfo("Europe/Brussels")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")

FRI = date(2024, 3, 29)  # Good Friday
SAT, SUN, MON = date(2024, 3, 30), date(2024, 3, 31), date(2024, 4, 1)  # Sunday: Europe springs forward
EASTER_MONDAY = MON


def test_now_is_aware_and_in_utc() -> None:
    moment = clock.now()
    assert moment.tzinfo is UTC
    assert abs(moment - datetime.now(UTC)) < timedelta(seconds=5)


def test_zone_takes_a_name_a_zoneinfo_or_the_project_default(settings: Any) -> None:
    settings.CONTESTABLE_DEFAULT_TIME_ZONE = "America/New_York"
    assert clock.zone(None) == NEW_YORK
    assert clock.zone("Europe/Brussels") == BRUSSELS
    assert clock.zone(SANTIAGO) is SANTIAGO
    with pytest.raises(ZoneInfoNotFoundError):
        clock.zone("Mars/Olympus_Mons")
    with pytest.raises(TypeError):
        clock.zone(3)  # type: ignore[arg-type]


def test_local_date_is_the_date_in_the_given_zone() -> None:
    late_evening_utc = datetime(2024, 3, 30, 23, 30, tzinfo=UTC)  # 00:30 on the 31st in Brussels
    assert clock.local_date(late_evening_utc, BRUSSELS) == date(2024, 3, 31)
    assert clock.local_date(late_evening_utc, "UTC") == date(2024, 3, 30)
    assert clock.local_date(late_evening_utc, NEW_YORK) == date(2024, 3, 30)


def test_local_date_follows_the_project_default_zone(settings: Any) -> None:
    settings.CONTESTABLE_DEFAULT_TIME_ZONE = "Europe/Brussels"
    assert clock.local_date(datetime(2024, 12, 31, 23, 0, tzinfo=UTC)) == date(2025, 1, 1)


def test_naive_datetimes_are_refused_rather_than_guessed() -> None:
    naive = datetime(2024, 3, 30, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        clock.local_date(naive, BRUSSELS)
    with pytest.raises(ValueError, match="naive"):
        clock.deadline_date(naive, 10, BRUSSELS)
    with pytest.raises(ValueError, match="naive"):
        clock.is_past(date(2024, 1, 1), BRUSSELS, at=naive)


def test_end_of_day_is_the_last_microsecond_of_that_day_in_that_zone() -> None:
    end = clock.end_of_day(date(2024, 6, 10), BRUSSELS)
    assert end == datetime(2024, 6, 10, 23, 59, 59, 999999, tzinfo=BRUSSELS)
    assert end.astimezone(UTC) == datetime(2024, 6, 10, 21, 59, 59, 999999, tzinfo=UTC)


def test_days_are_23_and_25_hours_long_on_the_dst_changes() -> None:
    def length(d: date) -> timedelta:
        start = clock.start_of_day(d, BRUSSELS).astimezone(UTC)
        return clock.end_of_day(d, BRUSSELS).astimezone(UTC) - start + timedelta(microseconds=1)

    assert length(date(2024, 3, 31)) == timedelta(hours=23)  # spring forward
    assert length(date(2024, 10, 27)) == timedelta(hours=25)  # fall back
    assert length(date(2024, 6, 10)) == timedelta(hours=24)
    assert clock.end_of_day(date(2024, 10, 27), BRUSSELS).utcoffset() == timedelta(hours=1)
    assert clock.end_of_day(date(2024, 3, 31), BRUSSELS).utcoffset() == timedelta(hours=2)


def test_a_day_whose_midnight_is_skipped_starts_at_one_oclock() -> None:
    # Chile springs forward at midnight: 2024-09-08 00:00 never happened in Santiago.
    start = clock.start_of_day(date(2024, 9, 8), SANTIAGO)
    assert (start.hour, start.minute, start.utcoffset()) == (1, 0, timedelta(hours=-3))
    assert clock.end_of_day(date(2024, 9, 7), SANTIAGO).astimezone(UTC) == start.astimezone(UTC) - timedelta(
        microseconds=1
    )


def test_deadline_date_counts_calendar_days_from_the_local_date() -> None:
    decided = datetime(2024, 3, 30, 23, 30, tzinfo=UTC)  # already the 31st in Brussels
    assert clock.deadline_date(decided, 30, BRUSSELS) == date(2024, 4, 30)
    assert clock.deadline_date(decided, 30, NEW_YORK) == date(2024, 4, 29)
    assert clock.deadline_date(decided, 184, BRUSSELS) == date(2024, 10, 1)  # a six-month DSA window
    assert clock.deadline_date(decided, 0, BRUSSELS) == date(2024, 3, 31)


def test_a_deadline_passes_only_when_its_whole_day_has_ended_in_the_zone() -> None:
    deadline = date(2024, 4, 30)  # summer time in Brussels: UTC+2
    last_moment = datetime(2024, 4, 30, 21, 59, 59, 999999, tzinfo=UTC)

    assert not clock.is_past(deadline, BRUSSELS, at=last_moment)
    assert clock.is_past(deadline, BRUSSELS, at=last_moment + timedelta(microseconds=1))
    # The same instant is still mid-afternoon on the deadline day in New York.
    assert not clock.is_past(deadline, NEW_YORK, at=last_moment + timedelta(hours=1))
    assert clock.is_past(date(2000, 1, 1), BRUSSELS)
    assert not clock.is_past(date(2999, 1, 1), BRUSSELS)


def test_days_remaining_is_zero_on_the_last_day_and_negative_after() -> None:
    deadline = date(2024, 4, 30)
    assert clock.days_remaining(deadline, BRUSSELS, at=datetime(2024, 4, 20, 12, tzinfo=UTC)) == 10
    assert clock.days_remaining(deadline, BRUSSELS, at=datetime(2024, 4, 30, 21, 0, tzinfo=UTC)) == 0
    assert clock.days_remaining(deadline, BRUSSELS, at=datetime(2024, 4, 30, 22, 0, tzinfo=UTC)) == -1


def test_business_days_skip_weekends() -> None:
    assert clock.add_business_days(FRI, 1) == MON
    assert clock.add_business_days(SAT, 1) == MON
    assert clock.add_business_days(SUN, 1) == MON
    assert clock.add_business_days(MON, 5) == date(2024, 4, 8)
    assert clock.add_business_days(date(2024, 4, 3), 10) == date(2024, 4, 17)
    assert clock.add_business_days(FRI, 0) == FRI
    assert clock.add_business_days(SAT, 0) == SAT


def test_business_days_skip_the_given_holidays() -> None:
    holidays = {FRI, EASTER_MONDAY}
    assert clock.add_business_days(date(2024, 3, 28), 1, holidays) == date(2024, 4, 2)
    assert clock.add_business_days(date(2024, 3, 28), 1) == FRI
    assert not clock.is_business_day(EASTER_MONDAY, holidays)
    assert clock.is_business_day(EASTER_MONDAY)
    assert not clock.is_business_day(SAT)


def test_business_days_count_backwards() -> None:
    assert clock.add_business_days(MON, -1) == FRI
    assert clock.add_business_days(date(2024, 4, 2), -1, {EASTER_MONDAY}) == FRI
    assert clock.add_business_days(MON, -5) == date(2024, 3, 25)


def test_another_weekend_can_be_given() -> None:
    friday_saturday = {4, 5}
    assert clock.add_business_days(date(2024, 3, 28), 1, weekend=friday_saturday) == SUN
    with pytest.raises(ValueError, match="working day"):
        clock.add_business_days(MON, 1, weekend=range(7))


def test_business_days_between_counts_working_days_after_the_start_up_to_the_end() -> None:
    assert clock.business_days_between(FRI, MON) == 1
    assert clock.business_days_between(FRI, MON, {EASTER_MONDAY}) == 0
    assert clock.business_days_between(MON, date(2024, 4, 5)) == 4
    assert clock.business_days_between(SAT, SUN) == 0
    assert clock.business_days_between(MON, MON) == 0
    assert clock.business_days_between(MON, FRI) == -1
    assert clock.business_days_between(date(2024, 1, 1), date(2024, 12, 31)) == 261


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    n=st.integers(min_value=0, max_value=80),
    holidays=st.sets(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 6, 1)), max_size=40),
)
def test_business_days_between_undoes_add_business_days(start: date, n: int, holidays: set[date]) -> None:
    end = clock.add_business_days(start, n, holidays)
    assert clock.business_days_between(start, end, holidays) == n
    assert end >= start
    if n:
        assert clock.is_business_day(end, holidays)
    if clock.is_business_day(start, holidays):
        assert clock.add_business_days(end, -n, holidays) == start


def test_add_months_keeps_the_day_or_takes_the_last_of_a_short_month() -> None:
    assert clock.add_months(date(2024, 1, 15), 1) == date(2024, 2, 15)
    assert clock.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert clock.add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert clock.add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert clock.add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert clock.add_months(date(2024, 5, 31), 0) == date(2024, 5, 31)
