"""Periods of the figures: UTC days, ISO weeks (Monday to Sunday) and calendar months.

    Period.parse("2026-11")        # a month
    Period.parse("2026-W45")       # an ISO week
    Period.parse("2026-11-05")     # a day
    Period.containing(now, "week") # the week ``now`` falls in

Periods are in UTC so that every system's figures line up and sum; deadlines stay in each system's own zone
(core.clock) where they are judged (SLA breaches).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from oversight.models import PeriodKind

KINDS: tuple[str, ...] = (PeriodKind.DAY, PeriodKind.WEEK, PeriodKind.MONTH)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class PeriodInvalid(ValueError):
    """The text names no period (the message says what is accepted)."""


def floor(d: date, kind: str) -> date:
    """The first day of the period of ``kind`` that ``d`` falls in."""
    if kind == PeriodKind.DAY:
        return d
    if kind == PeriodKind.WEEK:
        return d - timedelta(days=d.weekday())
    if kind == PeriodKind.MONTH:
        return d.replace(day=1)
    raise PeriodInvalid(f"unknown period kind {kind!r}")


def following(start: date, kind: str) -> date:
    """The first day of the period after the one starting on ``start``."""
    if kind == PeriodKind.DAY:
        return start + timedelta(days=1)
    if kind == PeriodKind.WEEK:
        return start + timedelta(days=7)
    if kind == PeriodKind.MONTH:
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    raise PeriodInvalid(f"unknown period kind {kind!r}")


def preceding(start: date, kind: str) -> date:
    return floor(start - timedelta(days=1), kind)


def at_midnight(d: date) -> datetime:
    """The first instant of a UTC day."""
    return datetime.combine(d, time.min, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Period:
    kind: str
    start: date

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PeriodInvalid(f"unknown period kind {self.kind!r}: day, week or month")
        if floor(self.start, self.kind) != self.start:
            raise PeriodInvalid(f"{self.start} does not start a {self.kind}")

    @classmethod
    def containing(cls, moment: datetime | date, kind: str) -> Period:
        d = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
        return cls(kind, floor(d, kind))

    @classmethod
    def parse(cls, text: str) -> Period:
        """A period from its label: ``2026-11`` (month), ``2026-W45`` (ISO week), ``2026-11-05`` (day)."""
        text = (text or "").strip()
        try:
            if m := _MONTH.match(text):
                return cls(PeriodKind.MONTH, date(int(m[1]), int(m[2]), 1))
            if m := _WEEK.match(text):
                return cls(PeriodKind.WEEK, date.fromisocalendar(int(m[1]), int(m[2]), 1))
            if m := _DAY.match(text):
                return cls(PeriodKind.DAY, date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError as exc:
            raise PeriodInvalid(f"{text!r} is not a real period: {exc}") from exc
        raise PeriodInvalid(
            f"{text!r} is not a period: use YYYY-MM (a month), YYYY-Www (an ISO week) or YYYY-MM-DD (a day)"
        )

    @property
    def end(self) -> date:
        """The day after the period's last day (periods are half-open: [start, end))."""
        return following(self.start, self.kind)

    @property
    def start_at(self) -> datetime:
        return at_midnight(self.start)

    @property
    def end_at(self) -> datetime:
        return at_midnight(self.end)

    @property
    def label(self) -> str:
        return label(self.kind, self.start)

    def previous(self) -> Period:
        return Period(self.kind, preceding(self.start, self.kind))

    def next(self) -> Period:
        return Period(self.kind, self.end)

    def has_started(self, now: datetime) -> bool:
        return self.start_at <= now

    def is_complete(self, now: datetime) -> bool:
        return self.end_at <= now

    def __str__(self) -> str:
        return self.label


def label(kind: str, start: date) -> str:
    """How a period is named in pages, reports and the API: 2026-11, 2026-W45, 2026-11-05."""
    if kind == PeriodKind.MONTH:
        return f"{start.year:04d}-{start.month:02d}"
    if kind == PeriodKind.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return start.isoformat()


def span(kind: str, first: date, last_exclusive: date) -> Iterator[date]:
    """The starts of the periods of ``kind`` from the one containing ``first`` up to ``last_exclusive``."""
    d = floor(first, kind)
    while d < last_exclusive:
        yield d
        d = following(d, kind)


def last_n(kind: str, n: int, now: datetime) -> list[Period]:
    """The ``n`` periods of ``kind`` ending with the one containing ``now``, oldest first."""
    p = Period.containing(now, kind)
    out = [p]
    for _ in range(max(0, n - 1)):
        p = p.previous()
        out.append(p)
    return out[::-1]
