"""November 2026: the hand-computed fixture of the figures tests (issue 6, S12, S25, S29).

The fixture: one system (notice clock 5 days, zone America/New_York) with versions v1 and v2, "now" being
2026-12-15 12:00 UTC. Times are UTC. Every expected number below is worked out in the comments.

Decisions
    October   v1: o1..o5 (10-05), late (10-31 23:59)      v2: o6, o7 (10-06)     all adverse, full, no notice
    November  v1: d1 11-02 adverse full    notice delivered 11-02 10:05, due 11-07 10:00 -> on time
                  d2 11-03 adverse full    notice delivered 11-09 09:00, due 11-08 09:00 -> missed (late)
                  d3 11-03 favourable partial  email never delivered, portal at once   -> on time (once)
                  d4 11-10 adverse none    no notice at all (blocked), due 11-15       -> missed
                  d5 11-16 adverse full    notice delivered at once                    -> on time
                  s  11-05 replaces o1 (an appeal outcome): not counted
              v2: d6 11-20 adverse full    notice never delivered, due 11-25           -> missed
                  d7 11-30 23:30 adverse full  delivered 12-01 00:30, due 12-05      -> on time
    December  v1: d8 12-01 00:10 no notice (due 12-06 passed) -> missed; dn 12-14 notice pending, due 12-19
                  (not yet due: neither on time nor missed)

Appeals (filed -> decided, outcome, due date in New York)
    v1  a1 o1 10-31 12:00 -> 11-01 12:00 upheld     1 day     due 11-30
        a2 o2 11-02 -> 11-04 overturned                2 days    due 12-02
        a3 o3 11-03 -> 11-07 modified                  4 days    due 12-03
        a4 o4 11-05 -> 11-15 upheld                    10 days   due 11-12: breach (11-14 local > 11-12)
        a5 o5 11-06 -> 11-26 overturned                20 days   due 12-06, escalated once: breach
        a6 d1 11-20, still in review
        a7 d2 11-21, withdrawn 11-22
        a8 d4 11-28 -> 12-02 upheld                    4 days
    v2  a9 o6 11-10 00:00 -> 11-13 03:00 upheld      3.125 days  due 11-12: no breach, because 11-13 03:00 UTC
                                                                  is 11-12 22:00 in New York
        a10 d6 11-25, queued
        a11 o7 10-20, refused 10-21
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from decisions.models import Decision
from oversight.models import FigureRollup
from tests.factories import SystemVersionFactory, live_system, populate_version
from tests.oversight import builders as b

NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
DAY = 86400.0


def t(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class Fixture:
    def __init__(self) -> None:
        system, v1 = live_system(notice_due_days=5, time_zone="America/New_York")
        v2 = populate_version(SystemVersionFactory.create(system=system, version="2.0"))
        self.system, self.v1, self.v2 = system, v1, v2
        d = b.decision
        o = [d(v1, t(10, 5, 10)) for _ in range(5)] + [d(v2, t(10, 6, 10)) for _ in range(2)]
        d(v1, t(10, 31, 23, 59))
        d1 = d(v1, t(11, 2, 10))
        b.notice(d1, delivered_at=t(11, 2, 10, 5))
        d2 = d(v1, t(11, 3, 9))
        b.notice(d2, delivered_at=t(11, 9, 9))
        d3 = d(v1, t(11, 3, 12), adverse=False, automation=Decision.Automation.PARTIAL)
        b.notice(d3, channel="email")
        b.notice(d3, delivered_at=t(11, 3, 12, 1))
        d4 = d(v1, t(11, 10, 8), automation=Decision.Automation.NONE)
        d5 = d(v1, t(11, 16, 8))
        b.notice(d5, delivered_at=t(11, 16, 8, 1))
        d(v1, t(11, 5), adverse=False, automation=Decision.Automation.NONE, supersedes=o[0])
        d6 = d(v2, t(11, 20, 10))
        b.notice(d6)
        d7 = d(v2, t(11, 30, 23, 30))
        b.notice(d7, delivered_at=t(12, 1, 0, 30))
        d(v1, t(12, 1, 0, 10))
        dn = d(v1, t(12, 14, 12))
        b.notice(dn)

        a = b.appeal
        a(o[0], t(10, 31, 12), decided_at=t(11, 1, 12), outcome="upheld", due_date=date(2026, 11, 30))
        a(o[1], t(11, 2), decided_at=t(11, 4), outcome="overturned", due_date=date(2026, 12, 2))
        a(o[2], t(11, 3), decided_at=t(11, 7), outcome="modified", due_date=date(2026, 12, 3))
        self.a4 = a(o[3], t(11, 5), decided_at=t(11, 15), outcome="upheld", due_date=date(2026, 11, 12))
        a(
            o[4],
            t(11, 6),
            decided_at=t(11, 26),
            outcome="overturned",
            due_date=date(2026, 12, 6),
            escalation_count=1,
        )
        a(d1, t(11, 20), status="in_review", due_date=date(2026, 12, 20))
        a(d2, t(11, 21), withdrawn_at=t(11, 22), due_date=date(2026, 12, 21))
        a(d4, t(11, 28), decided_at=t(12, 2), outcome="upheld", due_date=date(2026, 12, 28))
        a(o[5], t(11, 10), decided_at=t(11, 13, 3), outcome="upheld", due_date=date(2026, 11, 12))
        a(d6, t(11, 25), status="queued", due_date=date(2026, 12, 25))
        a(o[6], t(10, 20), status="refused", triaged_at=t(10, 21), due_date=date(2026, 11, 20))

    def row(self, kind: str, start: date, version: Any = None) -> FigureRollup:
        return FigureRollup.objects.get(
            system=self.system, version=version, period_kind=kind, period_start=start
        )
