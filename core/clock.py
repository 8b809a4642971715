"""The one clock: aware times, deadline dates, business days (DESIGN.md section 4).

Times are stored as aware UTC datetimes. Deadlines are *dates*, printed as dates in notices ("appeal by
14 March 2027"), in a time zone: the decision system's zone, or ``settings.CONTESTABLE_DEFAULT_TIME_ZONE``.
A deadline date lasts until the end of that day in that zone, whatever the person's or the server's
zone, so a person who acts on the last day is always in time. Zones are IANA names or ``zoneinfo``
objects; naive datetimes are refused rather than guessed at.

    due = clock.deadline_date(decision.decided_at, system.appeal_window_days, system.time_zone)
    clock.is_past(due, system.time_zone)            # False until the end of that day there
    clock.add_business_days(today, 10, holidays)    # weekends and the given holidays do not count

Appeal windows (S17), notice due dates (S12), review due dates (S25) and the data-dispute and
explanation clocks (S19, S20) all come from here, so they agree with one another.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings

TzLike = str | tzinfo | None

SATURDAY, SUNDAY = 5, 6
WEEKEND: frozenset[int] = frozenset({SATURDAY, SUNDAY})  # date.weekday() values
NO_HOLIDAYS: frozenset[date] = frozenset()


def zone(tz: TzLike = None) -> tzinfo:
    """The zone for ``tz``: an IANA name or a tzinfo; None means the project's default zone."""
    if tz is None or tz == "":
        return ZoneInfo(settings.CONTESTABLE_DEFAULT_TIME_ZONE)
    if isinstance(tz, str):
        return ZoneInfo(tz)  # raises ZoneInfoNotFoundError for an unknown name
    if isinstance(tz, tzinfo):
        return tz
    raise TypeError(f"not a time zone: {tz!r}")


def now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime refused (times must be aware): {dt!r}")
    return dt


def local_date(dt: datetime, tz: TzLike = None) -> date:
    """The calendar date ``dt`` falls on in ``tz``."""
    return _require_aware(dt).astimezone(zone(tz)).date()


def start_of_day(d: date, tz: TzLike = None) -> datetime:
    """The first instant of ``d`` in ``tz`` (01:00 where the clocks jump over midnight)."""
    z = zone(tz)
    # For a wall time that does not exist (a DST gap) zoneinfo uses the offset from before the jump,
    # which is the first real instant after the gap; the round trip through UTC names it properly.
    return datetime.combine(d, time.min, tzinfo=z).astimezone(UTC).astimezone(z)


def end_of_day(d: date, tz: TzLike = None) -> datetime:
    """The last instant (to the microsecond) of ``d`` in ``tz``: when a deadline on that date passes.

    Computed in UTC, so a day of 23 or 25 hours (DST) ends at the right instant.
    """
    z = zone(tz)
    next_start = start_of_day(d + timedelta(days=1), z).astimezone(UTC)
    return (next_start - timedelta(microseconds=1)).astimezone(z)


def deadline_date(start: datetime, days: int, tz: TzLike = None) -> date:
    """The date ``days`` calendar days after the day ``start`` falls on in ``tz``.

    The deadline runs to the end of that day in ``tz`` (see ``end_of_day`` and ``is_past``).
    """
    return local_date(start, tz) + timedelta(days=days)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (or earlier); the 31st becomes the last day of a shorter month.

    For deadlines stated in months (an explanation due within one month, GDPR Art. 12(3)).
    """
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def is_business_day(
    d: date, holidays: Collection[date] = NO_HOLIDAYS, weekend: Collection[int] = WEEKEND
) -> bool:
    return d.weekday() not in weekend and d not in holidays


def add_business_days(
    d: date, n: int, holidays: Collection[date] = NO_HOLIDAYS, weekend: Collection[int] = WEEKEND
) -> date:
    """The n-th business day after ``d`` (before it when n is negative); ``d`` itself when n is 0.

    Weekends and the given holidays are skipped: Friday plus one business day is Monday, and so is
    Saturday plus one.
    """
    if len(set(weekend)) >= 7:
        raise ValueError("a week needs at least one working day")
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    current = d
    while remaining:
        current += step
        if is_business_day(current, holidays, weekend):
            remaining -= 1
    return current


def business_days_between(
    start: date, end: date, holidays: Collection[date] = NO_HOLIDAYS, weekend: Collection[int] = WEEKEND
) -> int:
    """Business days after ``start`` up to and including ``end`` (negative when ``end`` is earlier).

    The inverse of ``add_business_days``: for n >= 0, ``business_days_between(d, add_business_days(d, n))``
    is n.
    """
    if end < start:
        return -business_days_between(end, start, holidays, weekend)
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_business_day(current, holidays, weekend):
            count += 1
    return count


def is_past(deadline: date, tz: TzLike = None, *, at: datetime | None = None) -> bool:
    """True once the whole deadline day has ended in ``tz`` (at ``at``, default now)."""
    moment = _require_aware(at) if at is not None else now()
    return moment > end_of_day(deadline, tz)


def days_remaining(deadline: date, tz: TzLike = None, *, at: datetime | None = None) -> int:
    """Calendar days from today in ``tz`` to ``deadline``: 0 on the last day, negative once it has passed."""
    moment = _require_aware(at) if at is not None else now()
    return (deadline - local_date(moment, tz)).days
